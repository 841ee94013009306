"""Show a batch of 28x28 images as one crisp, nearest-neighbour-scaled grid."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..core.export import tile_grid


def array_to_qimage(arr: np.ndarray) -> QImage:
    """A float [0, 1] 2-D array as an 8-bit grayscale QImage (owning a copy of the bytes)."""
    u8 = np.ascontiguousarray((np.clip(np.nan_to_num(arr), 0, 1) * 255 + 0.5).astype(np.uint8))
    h, w = u8.shape
    return QImage(u8.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class ImageGrid(QWidget):
    def __init__(self, cols: int = 8, parent=None):
        super().__init__(parent)
        self.cols = cols
        self.images = np.zeros((0, 28, 28), np.float32)
        self._qimage: QImage | None = None
        self.placeholder = "no samples yet"
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_images(self, images: np.ndarray, cols: int | None = None) -> None:
        self.images = np.asarray(images, dtype=np.float32)
        if cols:
            self.cols = cols
        if len(self.images):
            self._qimage = array_to_qimage(tile_grid(self.images, cols=min(self.cols, len(self.images)), pad=1))
        else:
            self._qimage = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, 300)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window())
        if self._qimage is None:
            p.setPen(Qt.GlobalColor.gray)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        target = self.image_rect()
        p.fillRect(target.adjusted(-3, -3, 3, 3), QColor("#202020"))
        whole = target.width() % self._qimage.width() == 0
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, not whole)
        p.drawImage(target, self._qimage)

    def image_rect(self) -> QRect:
        """Where the grid is drawn: centred, scaled by a whole factor from 2x up (crisp pixels)."""
        iw, ih = self._qimage.width(), self._qimage.height()
        room_w, room_h = max(1, self.width() - 8), max(1, self.height() - 8)
        fit = min(room_w / iw, room_h / ih)
        scale = float(int(fit)) if fit >= 2 else fit
        w, h = max(1, int(iw * scale)), max(1, int(ih * scale))
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)
