"""Guard against a Qt-binding bug that would crash the studio after a minute of live charts.

PySide6 6.12.0 on Python 3.11 releases references to ``None`` (and, more slowly, to ``True``)
that it never took, on some void QPainter calls (``setPen``, ``drawLine``...): it behaves as
if these singletons were immortal, as they are from Python 3.12 on. pyqtgraph makes thousands
of such calls per second while the charts update, so the reference count reaches zero and
CPython aborts with "Fatal Python error: none_dealloc" (measured: a plain ``PlotWidget`` updated
at 30 Hz dies within 2 s of painting; the studio within ~10 s of training). PySide6 6.11 has no
such bug, and on Python 3.12+ the stray releases are harmless.

:func:`protect_none_refcount` probes for the leak (a few hundred painter calls on a 4x4 image)
and, only where it is found, makes ``None``, ``True``, ``False``, ``NotImplemented`` and
``Ellipsis`` effectively immortal the way Python 3.12 does, by raising their reference counts to
2**60: at 10^5 stray releases a second that lasts ~360,000 years. It runs once, when
:mod:`ebm_studio.gui` is imported, before any widget paints.
"""

from __future__ import annotations

import ctypes
import platform
import sys

IMMORTAL = 1 << 60
_PROBE_CALLS = 400
_result: bool | None = None


def none_refcount_leaks() -> bool:
    """True when void QPainter calls of this Qt binding release references to ``None``."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage, QPainter, QPen

    img = QImage(4, 4, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    try:
        pen, a, b = QPen(), QPointF(0, 0), QPointF(3, 3)
        before = sys.getrefcount(None)
        for _ in range(_PROBE_CALLS // 2):
            painter.setPen(pen)
            painter.drawLine(a, b)
        lost = before - sys.getrefcount(None)
    finally:
        painter.end()
    return lost >= _PROBE_CALLS // 4


def protect_none_refcount() -> bool:
    """Apply the workaround if this interpreter + binding needs it; returns True if applied."""
    global _result
    if _result is not None:
        return _result
    _result = False
    if sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return _result  # None is immortal (3.12+) or refcounts work differently
    if none_refcount_leaks():
        # ob_refcnt is the first field (Py_ssize_t) of every object in CPython <= 3.11.
        for singleton in (None, True, False, NotImplemented, Ellipsis):
            ctypes.c_ssize_t.from_address(id(singleton)).value = IMMORTAL
        _result = True
    return _result
