"""The window's docks and their layout: built once, sized to the screen, restorable.

Training (left, scrolls vertically), Charts and Canvas (tabbed, centre), Samples and Log
(right). Every dock's minimum width is small enough for the window to fit a 1366 px laptop
screen; wide content wraps, elides or scrolls vertically instead of widening the window.
"Restore default layout" puts back the docks, their sizes and the window's size as when the
window first opened.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QFrame, QPlainTextEdit, QScrollArea, QStyle, QWidget

TRAINING_W, SAMPLES_W = 330, 360  # default dock widths at any screen size (the centre takes the rest)
DEFAULT_SIZE = (1600, 940)  # capped to the screen's available size


def vertical_scroll(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area that scrolls only vertically (its width follows the dock's)."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    bar = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
    scroll.setMinimumWidth(widget.minimumSizeHint().width() + bar + 4)  # never narrower than its content
    return scroll


def make_dock(win, title: str, widget: QWidget, area) -> QDockWidget:
    dock = QDockWidget(title, win)
    dock.setObjectName(f"dock_{title.lower().replace(' ', '_')}")
    dock.setWidget(widget)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                     | QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
    win.addDockWidget(area, dock)
    return dock


def build_docks(win) -> None:
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    win.setDockNestingEnabled(True)
    win.training_dock = make_dock(win, "Training", vertical_scroll(win.training), left)
    win.charts_dock = make_dock(win, "Charts", win.charts, left)
    win.canvas_dock = make_dock(win, "Canvas", vertical_scroll(win.canvas), left)
    win.samples_dock = make_dock(win, "Samples", win.samples, right)
    win.log = QPlainTextEdit()
    win.log.setReadOnly(True)
    win.log.setMaximumBlockCount(2000)
    win.log.setPlaceholderText("Events of the session: runs started and saved, divergences recovered, errors.")
    win.log_dock = make_dock(win, "Log", win.log, right)
    win.fields_dock = make_dock(win, "Receptive fields", win.fields_view, right)
    arrange_default(win)


def arrange_default(win) -> None:
    """Where each dock goes by default (also what Restore default layout puts back)."""
    for dock in win.docks():
        dock.setFloating(False)
    win.splitDockWidget(win.training_dock, win.charts_dock, Qt.Orientation.Horizontal)
    win.tabifyDockWidget(win.charts_dock, win.canvas_dock)
    win.splitDockWidget(win.samples_dock, win.log_dock, Qt.Orientation.Vertical)
    win.tabifyDockWidget(win.samples_dock, win.fields_dock)
    win.fields_dock.setVisible(bool(getattr(win, "fields_wanted", False)))
    for dock in (win.training_dock, win.charts_dock, win.canvas_dock, win.samples_dock, win.log_dock):
        dock.show()
    win.samples_dock.raise_()
    win.charts_dock.raise_()


def default_window_size(win) -> tuple[int, int]:
    screen = win.screen() or None
    w, h = DEFAULT_SIZE
    if screen is not None:
        avail = screen.availableGeometry()
        w, h = min(w, avail.width()), min(h, avail.height())
    return w, h


def default_dock_sizes(win) -> None:
    w = win.width()
    side = max(240, min(TRAINING_W, w // 5)), max(260, min(SAMPLES_W, w // 4))
    centre = max(300, w - side[0] - side[1])
    win.resizeDocks([win.training_dock, win.charts_dock, win.samples_dock], [side[0], centre, side[1]],
                    Qt.Orientation.Horizontal)
    win.resizeDocks([win.samples_dock, win.log_dock], [max(260, win.height() - 280), 160], Qt.Orientation.Vertical)


def restore_default_layout(win) -> None:
    if win.isMaximized() or win.isFullScreen():
        win.showNormal()
    win.resize(*default_window_size(win))
    arrange_default(win)
    default_dock_sizes(win)
