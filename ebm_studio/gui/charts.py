"""Live training charts: loss, parameter-gradient norm, and the energies of data vs samples.

Plot items are created once and updated with ``setData`` from growing numpy arrays; pyqtgraph's
clip-to-view and peak downsampling keep long runs fast. The x axes are linked (one step axis),
a crosshair read-out shows values under the mouse, steps where the trainer reported an event
(a divergence recovered, a phase change) are marked, a smoothed trend (an exponential moving
average, as TensorBoard draws it) is laid over the faint raw curve, a checkbox switches the
gradient norm to log scale, and the data export as CSV.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QFileDialog, QGraphicsItem, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ..core.atomic import atomic_write_text
from ..core.families import family
from .elided_label import ElidedLabel

SERIES = ["loss", "grad_norm", "e_data", "e_samples"]
COLORS = {"loss": "#1f77b4", "grad_norm": "#9467bd", "e_data": "#2ca02c", "e_samples": "#d62728"}
SMOOTHING = 0.9  # EMA weight of the trend line
MAX_EVENT_MARKS = 200
IDLE_HINT = "Start (Ctrl+R) to train; then hover a chart to read values, drag or wheel to zoom"
HOVER_HINT = "hover a chart to read values; drag or wheel to zoom, right-click for options"
REDRAW_MS = 66
MAX_DRAWN = 2000  # points per curve handed to pyqtgraph (~2 per pixel); longer runs are min/max-decimated

def energy_labels(cfg) -> tuple[str, str]:
    """What E(data) / E(samples) mean for the run's family and objective (its record says)."""
    if cfg is None:
        return ("E(data)", "E(samples)")
    return family(cfg.model.family).chart_labels(cfg)


class _Series:
    """A growable float64 column (amortised appends, O(1) views)."""

    def __init__(self):
        self.buf = np.empty(1024)
        self.n = 0

    def extend(self, values) -> None:
        values = np.asarray(values, dtype=np.float64)
        need = self.n + len(values)
        if need > len(self.buf):
            new = np.empty(max(need, 2 * len(self.buf)))
            new[: self.n] = self.buf[: self.n]
            self.buf = new
        self.buf[self.n:need] = values
        self.n = need

    def view(self) -> np.ndarray:
        return self.buf[: self.n]

    def clear(self) -> None:
        self.n = 0


class _Smoother:
    """Debiased exponential moving average, updated incrementally (non-finite values skipped)."""

    def __init__(self, weight: float = SMOOTHING):
        self.weight = weight
        self.series = _Series()
        self.clear()

    def clear(self) -> None:
        self.series.clear()
        self._acc, self._norm = 0.0, 0.0

    def extend(self, values) -> None:
        out = np.empty(len(values))
        w = self.weight
        for i, v in enumerate(values):
            if np.isfinite(v):
                self._acc = w * self._acc + (1 - w) * v
                self._norm = w * self._norm + (1 - w)
            out[i] = self._acc / self._norm if self._norm > 0 else np.nan
        self.series.extend(out)


def nice_ceiling(v: float) -> float:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) >= v, for the step axis."""
    import math

    if v <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(v))
    for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * base >= v - 1e-9:
            return m * base
    return 10.0 * base


def decimate(x: np.ndarray, y: np.ndarray, max_points: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points that keep every peak: each bucket's min and max, in order.

    A 200,000-step run then costs a chart frame about what a 2,000-step one does (measured on
    random curves: 49 ms a frame with pyqtgraph's own per-frame downsampling, 13-18 ms this way).
    """
    max_points = max_points or MAX_DRAWN
    n = len(x)
    if n <= max_points:
        return x, y
    factor = int(np.ceil(n / (max_points // 2)))
    m = n - n % factor
    ys = y[:m].reshape(-1, factor)
    with np.errstate(invalid="ignore"):
        lo, hi = np.fmin.reduce(ys, axis=1), np.fmax.reduce(ys, axis=1)
    xs = np.column_stack([x[:m:factor], x[factor - 1:m:factor]]).ravel()  # bucket's first and last step
    yy = np.column_stack([lo, hi]).ravel()
    return np.concatenate([xs, x[m:]]), np.concatenate([yy, y[m:]])


def _pen(color: str, alpha: int = 255):
    """A 1-pixel cosmetic pen: wider antialiased pens cost Qt's raster engine up to 100x more per
    frame on noisy curves (measured: 1.7 s vs 15 ms for six 2000-point curves)."""
    c = pg.mkColor(color)
    c.setAlpha(alpha)
    return pg.mkPen(c, width=1)


class ChartsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        self.glw.setMinimumSize(280, 300)
        layout.addWidget(self.glw, 1)
        self.readout = ElidedLabel(IDLE_HINT)  # never widens the window, however long the values
        self.readout.setStyleSheet("color: #555;")
        layout.addWidget(self.readout)
        bar = QHBoxLayout()
        self.smooth = QCheckBox("smooth")
        self.smooth.setChecked(True)
        self.smooth.setToolTip(f"Draw a trend line (exponential moving average, weight {SMOOTHING}) over the "
                               f"raw values")
        self.smooth.toggled.connect(self._smooth_toggled)
        self.log_y = QCheckBox("log ‖∇θ‖")
        self.log_y.setToolTip("Logarithmic scale for the gradient-norm chart")
        self.log_y.toggled.connect(self._set_log)
        export = QPushButton("Export CSV…")
        export.setToolTip("Save every charted value (step, loss, gradient norm, energies) as CSV")
        export.clicked.connect(self.export_csv_dialog)
        bar.addStretch(1)
        bar.addWidget(self.smooth)
        bar.addWidget(self.log_y)
        bar.addWidget(export)
        layout.addLayout(bar)

        self.steps = _Series()
        self.data = {k: _Series() for k in SERIES}
        self.trend = {k: _Smoother() for k in SERIES}
        self.event_steps: list[int] = []
        self.plots = []
        self.loss_plot = self._plot("loss")
        self.grad_plot = self._plot("‖∇θ‖")
        self.energy_plot = self._plot("mean energy")
        self.plot_of = {"loss": self.loss_plot, "grad_norm": self.grad_plot,
                        "e_data": self.energy_plot, "e_samples": self.energy_plot}
        self.curves, self.trend_curves = {}, {}
        for k in SERIES:
            self.curves[k] = self.plot_of[k].plot(pen=_pen(COLORS[k]))
            self.trend_curves[k] = self.plot_of[k].plot(pen=_pen(COLORS[k]), antialias=True)
        for c in (*self.curves.values(), *self.trend_curves.values()):
            c.setClipToView(False)  # visible-range clipping and decimation happen in _redraw
        for p in self.plots[1:]:
            p.setXLink(self.plots[0])
        for p in self.plots[:-1]:  # one shared step axis: tick labels only under the last chart
            p.getAxis("bottom").setStyle(showValues=False)
        for p in self.plots:  # repaint axes only when their ticks change (text is most of a frame)
            for side in ("left", "bottom"):
                p.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.plots[-1].setLabel("bottom", "training step")
        # The step axis grows in jumps (by ~20-50%) instead of every step, so the axes and grids stay
        # cached between frames; zooming or panning by hand stops following, "A" resumes.
        self._follow_x = True
        self._x_max = 0.0
        self.plots[0].enableAutoRange(x=False)
        for p in self.plots:
            p.vb.sigRangeChangedManually.connect(self._user_moved_view)
        self._vlines = []
        for p in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
            p.addItem(line, ignoreBounds=True)
            line.hide()
            self._vlines.append(line)
        self._event_lines: list = []
        self.set_energy_labels(*energy_labels(None))
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)
        self._proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self.glw.viewport().installEventFilter(self)  # the crosshair goes when the mouse leaves
        self._smooth_toggled(True)

    def _plot(self, ylabel: str):
        p = self.glw.addPlot(row=len(self.plots), col=0)
        p.setLabel("left", ylabel)
        p.showGrid(x=True, y=True, alpha=0.25)
        p.setMenuEnabled(True)
        p.getAxis("left").setWidth(54)
        self.plots.append(p)
        return p

    def set_energy_labels(self, data_label: str, samples_label: str) -> None:
        """Name the two energy curves (their meaning differs between CD, DSM and Boltzmann machines)."""
        self.labels = {"loss": "loss", "grad_norm": "‖∇θ‖", "e_data": data_label, "e_samples": samples_label}

        def swatch(k):
            return f"<span style='color:{COLORS[k]}'>━ {self.labels[k]}</span>"

        self.loss_plot.setTitle("<b>Loss</b>", size="10pt", color="#333")
        self.grad_plot.setTitle("<b>Parameter-gradient norm</b>", size="10pt", color="#333")
        self.energy_plot.setTitle(f"<b>Mean energy</b> &nbsp; {swatch('e_data')} &nbsp; {swatch('e_samples')}",
                                  size="10pt", color="#333")

    def set_config(self, cfg) -> None:
        self.set_energy_labels(*energy_labels(cfg))

    # --- data ---------------------------------------------------------------------------------
    def add_records(self, records: list[dict]) -> None:
        if not records:
            return
        self.steps.extend([r["step"] for r in records])
        for k in SERIES:
            values = [r[k] for r in records]
            self.data[k].extend(values)
            self.trend[k].extend(values)
        for r in records:
            if r.get("event") and len(self.event_steps) < MAX_EVENT_MARKS:
                self._mark_event(int(r["step"]), str(r["event"]))
        if not self._redraw_timer.isActive():  # coalesce: at most one redraw per REDRAW_MS
            self._redraw_timer.start()

    def _mark_event(self, step: int, text: str) -> None:
        self.event_steps.append(step)
        for p in self.plots:
            line = pg.InfiniteLine(pos=step, angle=90, movable=False,
                                   pen=pg.mkPen("#e6550d", width=1, style=Qt.PenStyle.DotLine))
            line.setToolTip(f"step {step}: {text}")
            p.addItem(line, ignoreBounds=True)
            self._event_lines.append((p, line))

    def _smooth_toggled(self, on: bool) -> None:
        """With the trend shown, the raw values fade into the background."""
        for k in SERIES:
            # the faint raw curve under a trend needs no antialiasing (half the paint time)
            self.curves[k].setPen(_pen(COLORS[k], 60) if on else _pen(COLORS[k]))
            self.curves[k].opts["antialias"] = not on
            self.trend_curves[k].setVisible(on)
        self._redraw()

    def _redraw(self) -> None:
        x = self.steps.view()
        lo, hi = 0, len(x)
        if not self._follow_x and len(x) > MAX_DRAWN:  # zoomed by hand: full detail in the visible range
            x0, x1 = self.plots[0].vb.viewRange()[0]
            lo = max(0, int(np.searchsorted(x, x0)) - 1)
            hi = min(len(x), int(np.searchsorted(x, x1)) + 1)
        log = self.log_y.isChecked()
        for k in SERIES:
            y, t = self.data[k].view()[lo:hi], self.trend[k].series.view()[lo:hi]
            if k == "grad_norm" and log:
                y, t = np.maximum(y, 1e-12), np.maximum(t, 1e-12)
            self.curves[k].setData(*decimate(x[lo:hi], y))
            self.trend_curves[k].setData(*decimate(x[lo:hi], t))
        if self.steps.n and self.readout.text() == IDLE_HINT:
            self.readout.setText(HOVER_HINT)
        self._follow_steps()

    def _user_moved_view(self, *_) -> None:
        self._follow_x = False
        if self.steps.n > MAX_DRAWN and not self._redraw_timer.isActive():
            self._redraw_timer.start()  # re-decimate for the new visible range

    def _follow_steps(self) -> None:
        vb = self.plots[0].vb
        if vb.autoRangeEnabled()[0]:  # the user pressed pyqtgraph's "A" (auto-range) button
            vb.enableAutoRange(x=False)
            self._follow_x, self._x_max = True, 0.0
        if not self._follow_x or self.steps.n == 0:
            return
        steps = self.steps.view()
        if steps[-1] > self._x_max:
            self._x_max = nice_ceiling(max(10.0, (steps[-1] - steps[0]) * 1.2 + steps[0]))
            self.plots[0].setXRange(steps[0], self._x_max, padding=0.02)

    def clear(self) -> None:
        self.steps.clear()
        for s in self.data.values():
            s.clear()
        for s in self.trend.values():
            s.clear()
        for p, line in self._event_lines:
            p.removeItem(line)
        self._event_lines.clear()
        self.event_steps.clear()
        for line in self._vlines:
            line.hide()
        self.readout.setText(IDLE_HINT)
        self._follow_x, self._x_max = True, 0.0
        self.plots[0].setXRange(0, 10, padding=0.02)  # an empty chart keeps no axes of the previous run
        for p in self.plots:
            p.setYRange(0, 1, padding=0.05)
            p.enableAutoRange(y=True)
        self._redraw()

    @property
    def n_points(self) -> int:
        return self.steps.n

    def last(self, key: str) -> float | None:
        return float(self.data[key].view()[-1]) if self.steps.n else None

    def _set_log(self, on: bool) -> None:
        self.grad_plot.setLogMode(y=on)
        self._redraw()

    def _mouse_moved(self, evt) -> None:
        pos = evt[0]
        if self.steps.n == 0:
            return
        for p in self.plots:
            if p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                self.show_readout(x)
                return
        self.hide_readout()

    def hide_readout(self) -> None:
        """The mouse left the charts: no frozen crosshair, the hint again."""
        for line in self._vlines:
            line.hide()
        self.readout.setText(HOVER_HINT if self.steps.n else IDLE_HINT)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Leave:
            self.hide_readout()
        return False

    def show_readout(self, x: float) -> str:
        """Move the crosshair to the recorded step nearest ``x`` and describe its values."""
        steps = self.steps.view()
        i = int(np.clip(np.searchsorted(steps, x), 0, len(steps) - 1))
        if i > 0 and abs(steps[i - 1] - x) < abs(steps[i] - x):
            i -= 1
        for line in self._vlines:
            line.setPos(steps[i])
            line.show()
        d = {k: self.data[k].view()[i] for k in SERIES}
        text = (f"step {int(steps[i])}:  loss {d['loss']:+.4g}   ‖∇θ‖ {d['grad_norm']:.4g}   "
                f"{self.labels['e_data']} {d['e_data']:+.4g}   {self.labels['e_samples']} {d['e_samples']:+.4g}")
        self.readout.setText(text)
        return text

    # --- export -------------------------------------------------------------------------------
    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["step", *SERIES])
        cols = [self.steps.view(), *(self.data[k].view() for k in SERIES)]
        for row in zip(*cols):
            w.writerow([int(row[0]), *(f"{v:.9g}" for v in row[1:])])
        return buf.getvalue()

    def export_csv(self, path: str) -> None:
        atomic_write_text(path, self.csv_text())

    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export chart data", "training_metrics.csv", "CSV (*.csv)")
        if path:
            try:
                self.export_csv(path)
            except OSError as exc:
                self.readout.setText(f"could not export: {exc}")
