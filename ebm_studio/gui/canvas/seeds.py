"""Where a canvas chain starts: an image file, uniform noise, a test digit, or a noisy one.

The seed becomes the drawing (undoable), so the user can still touch it up before playing.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ...core.errors import EbmStudioError

NOISY_MNIST_SIGMA = 0.35


class CanvasSeeds:
    """Mixin of :class:`CanvasPanel`: needs ``surface``, ``message`` and ``_error``."""

    def load_image(self, path: str) -> bool:
        from ...core.images import load_digit_image

        try:
            img = load_digit_image(path)
        except EbmStudioError as exc:
            self._error(str(exc))
            return False
        self.surface.set_image(img)
        self.message.emit(f"loaded {path}")
        return True

    def load_image_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All "
                                              "files (*)")
        if path:
            self.load_image(path)

    def seed_noise(self) -> None:
        self.surface.set_image(np.random.default_rng().random((28, 28)).astype(np.float32))

    def _random_test_digit(self) -> np.ndarray:
        from ...core.data import load_mnist

        test = load_mnist("test")
        return test.images[int(np.random.default_rng().integers(len(test))), 0].numpy()

    def seed_mnist(self) -> None:
        self.surface.set_image(self._random_test_digit())

    def seed_noisy_mnist(self, sigma: float = NOISY_MNIST_SIGMA) -> None:
        x = self._random_test_digit() + sigma * np.random.default_rng().standard_normal((28, 28))
        self.surface.set_image(np.clip(x, 0, 1).astype(np.float32))
