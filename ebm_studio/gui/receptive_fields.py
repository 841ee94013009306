"""Receptive fields of a Boltzmann machine: each hidden unit's weights as a 28x28 map.

Positive weights (the unit wants ink there) are red, negative (it wants background) blue, on a
diverging colormap centred at zero with a symmetric range, so maps are comparable at a glance.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ..core.export import tile_grid
from .elided_label import ElidedLabel


class ReceptiveFieldView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Hidden units shown"))
        self.count = QSpinBox()
        self.count.setRange(1, 400)
        self.count.setValue(64)
        self.count.valueChanged.connect(lambda *_: self._redraw())
        row.addWidget(self.count)
        self.range_label = ElidedLabel("")
        row.addWidget(self.range_label, 1)
        layout.addLayout(row)
        self.view = pg.ImageView()
        self.view.ui.roiBtn.hide()
        self.view.ui.menuBtn.hide()
        self.view.setColorMap(pg.colormap.get("CET-D1"))
        layout.addWidget(self.view, 1)
        self.weights = np.zeros((0, 784), np.float32)

    def set_weights(self, weights: np.ndarray) -> None:
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim != 2 or w.shape[1] != 784:
            raise ValueError(f"weights must have shape (n_hidden, 784), got {w.shape}")
        self.weights = w
        self._redraw()

    def mosaic(self) -> np.ndarray:
        """The tiled maps (first N units), values scaled to [-1, 1] by the largest |weight| shown."""
        w = self.weights[: self.count.value()]
        if not len(w):
            return np.zeros((28, 28), np.float32)
        lim = float(np.abs(w).max()) or 1.0
        scaled = (w / lim).reshape(-1, 28, 28)
        return tile_grid((scaled + 1) / 2, pad=1, pad_value=0.5) * 2 - 1

    def _redraw(self) -> None:
        if not len(self.weights):
            return
        m = self.mosaic()
        lim = float(np.abs(self.weights[: self.count.value()]).max())
        self.range_label.setText(f"colour range ±{lim:.3g}")
        self.view.setImage(m.T, levels=(-1, 1), autoRange=True)
