"""A 28x28 drawing surface shown large: brush with size and softness, eraser, undo/redo.

Mouse positions map to pixels through the square actually drawn (``pixel_rect``), in Qt's
logical coordinates, so the mapping is right on HiDPI screens and at any widget size. The
surface also remembers which pixels the user drew (``drawn_mask``) for inpainting.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..image_grid import array_to_qimage

SIZE = 28
MAX_UNDO = 100


class DrawSurface(QWidget):
    changed = Signal()
    file_dropped = Signal(str)
    locked_click = Signal()  # pressed while a chain state is shown (the drawing is read-only then)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image = np.zeros((SIZE, SIZE), np.float32)
        self.drawn_mask = np.zeros((SIZE, SIZE), bool)
        self.display: np.ndarray | None = None  # a chain state shown instead of the drawing
        self.show_mask = False
        self.brush_radius = 1.3
        self.softness = 0.5
        self.eraser = False
        self.editable = True
        self._undo: list[tuple[np.ndarray, np.ndarray]] = []
        self._redo: list[tuple[np.ndarray, np.ndarray]] = []
        self._last: QPointF | None = None
        self.setMinimumSize(196, 196)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left button, erase with the right; drop an image file here")

    # --- geometry -----------------------------------------------------------------------------
    def pixel_rect(self) -> QRectF:
        side = float(min(self.width(), self.height()))
        return QRectF((self.width() - side) / 2.0, (self.height() - side) / 2.0, side, side)

    def to_pixel(self, pos: QPointF) -> tuple[float, float]:
        """Continuous (row, col) in pixel units for a widget position (logical coordinates)."""
        r = self.pixel_rect()
        scale = SIZE / r.width()
        return (pos.y() - r.top()) * scale, (pos.x() - r.left()) * scale

    # --- editing ------------------------------------------------------------------------------
    def _push_undo(self) -> None:
        self._undo.append((self.image.copy(), self.drawn_mask.copy()))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()

    def set_image(self, image: np.ndarray, keep_mask: bool = False) -> None:
        self._push_undo()
        self.image = np.clip(np.asarray(image, dtype=np.float32).reshape(SIZE, SIZE), 0, 1).copy()
        if not keep_mask:
            self.drawn_mask[:] = False
        self.display = None
        self.update()
        self.changed.emit()

    def clear(self) -> None:
        self.set_image(np.zeros((SIZE, SIZE), np.float32))

    def invert(self) -> None:
        self.set_image(1.0 - self.image, keep_mask=True)

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append((self.image.copy(), self.drawn_mask.copy()))
        self.image, self.drawn_mask = self._undo.pop()
        self.display = None
        self.update()
        self.changed.emit()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append((self.image.copy(), self.drawn_mask.copy()))
        self.image, self.drawn_mask = self._redo.pop()
        self.display = None
        self.update()
        self.changed.emit()
        return True

    def paint_at(self, row: float, col: float, erase: bool = False) -> None:
        """Stamp the brush centred at a continuous pixel position."""
        ys, xs = np.mgrid[0:SIZE, 0:SIZE]
        d = np.sqrt((ys + 0.5 - row) ** 2 + (xs + 0.5 - col) ** 2)
        r = self.brush_radius
        hard = np.clip(r + 0.5 - d, 0.0, 1.0)
        soft = np.exp(-0.5 * (d / max(r * 0.8, 0.3)) ** 2)
        amount = (1 - self.softness) * hard + self.softness * soft
        amount[d > r + 2.0] = 0.0
        if erase:
            self.image = np.clip(self.image - amount, 0.0, 1.0).astype(np.float32)
            self.drawn_mask[amount > 0.3] = True
        else:
            self.image = np.maximum(self.image, amount).astype(np.float32)
            self.drawn_mask[amount > 0.3] = True

    def _stroke_to(self, pos: QPointF, erase: bool) -> None:
        start = self._last if self._last is not None else pos
        r0, c0 = self.to_pixel(start)
        r1, c1 = self.to_pixel(pos)
        n = max(1, int(np.ceil(max(abs(r1 - r0), abs(c1 - c0)) * 2)))
        for t in np.linspace(0, 1, n + 1):
            self.paint_at(r0 + (r1 - r0) * t, c0 + (c1 - c0) * t, erase)
        self._last = pos
        self.display = None
        self.update()
        self.changed.emit()

    def mousePressEvent(self, event) -> None:
        if event.button() not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            return
        if not self.editable:
            self.locked_click.emit()
            return
        self._push_undo()
        self._last = None
        self._stroke_to(event.position(), self.eraser or event.button() == Qt.MouseButton.RightButton)

    def mouseMoveEvent(self, event) -> None:
        buttons = event.buttons()
        if not self.editable or not (buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton)):
            return
        self._stroke_to(event.position(), self.eraser or bool(buttons & Qt.MouseButton.RightButton))

    def mouseReleaseEvent(self, event) -> None:
        self._last = None

    # --- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.file_dropped.emit(urls[0].toLocalFile())
            event.acceptProposedAction()

    # --- painting -----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 40))
        r = self.pixel_rect()
        shown = self.display if self.display is not None else self.image
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(r, array_to_qimage(shown))
        if self.show_mask and self.drawn_mask.any():
            cell = r.width() / SIZE
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 170, 0, 70))
            for y, x in zip(*np.nonzero(self.drawn_mask)):
                p.drawRect(QRectF(r.left() + x * cell, r.top() + y * cell, cell, cell))
        p.setPen(QPen(QColor(90, 90, 90), 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(r)
