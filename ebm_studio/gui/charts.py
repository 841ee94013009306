"""Live training charts: loss, parameter-gradient norm, and E(data) vs E(samples).

Plot items are created once and updated with ``setData`` from growing numpy arrays; pyqtgraph's
clip-to-view and peak downsampling keep long runs fast. The x axes are linked (one step axis),
a crosshair read-out shows values under the mouse, a checkbox switches to log scale, and the
data export as CSV.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..core.atomic import atomic_write_text

SERIES = ["loss", "grad_norm", "e_data", "e_samples"]


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


class ChartsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground("w")
        layout.addWidget(self.glw, 1)
        self.readout = QLabel("hover a chart to read values")
        self.readout.setStyleSheet("color: #555;")
        bar = QHBoxLayout()
        self.log_y = QCheckBox("log scale (|grad|)")
        self.log_y.toggled.connect(self._set_log)
        export = QPushButton("Export CSV…")
        export.clicked.connect(self.export_csv_dialog)
        bar.addWidget(self.readout, 1)
        bar.addWidget(self.log_y)
        bar.addWidget(export)
        layout.addLayout(bar)

        self.steps = _Series()
        self.data = {k: _Series() for k in SERIES}
        self.plots = []
        self.loss_plot = self._plot("Loss", "loss")
        self.grad_plot = self._plot("Parameter-gradient norm", "‖∇θ‖")
        self.energy_plot = self._plot("Mean energy", "E")
        self.energy_plot.addLegend(offset=(10, 5), brush=(255, 255, 255, 210), pen=(200, 200, 200), labelTextColor="#222")
        self.curves = {
            "loss": self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=1.5), name="loss"),
            "grad_norm": self.grad_plot.plot(pen=pg.mkPen("#9467bd", width=1.5), name="grad norm"),
            "e_data": self.energy_plot.plot(pen=pg.mkPen("#2ca02c", width=1.5), name="E(data)"),
            "e_samples": self.energy_plot.plot(pen=pg.mkPen("#d62728", width=1.5), name="E(samples)"),
        }
        for c in self.curves.values():
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
        for p in self.plots[1:]:
            p.setXLink(self.plots[0])
        self.plots[-1].setLabel("bottom", "training step")
        self._vlines = []
        for p in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
            p.addItem(line, ignoreBounds=True)
            self._vlines.append(line)
        self._proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)

    def _plot(self, title: str, ylabel: str):
        p = self.glw.addPlot(row=len(self.plots), col=0)
        p.setTitle(f"<span style='color:#222'>{title}</span>", size="10pt")
        p.setLabel("left", ylabel)
        p.showGrid(x=True, y=True, alpha=0.25)
        p.setMenuEnabled(True)
        self.plots.append(p)
        return p

    # --- data ---------------------------------------------------------------------------------
    def add_records(self, records: list[dict]) -> None:
        if not records:
            return
        self.steps.extend([r["step"] for r in records])
        for k in SERIES:
            self.data[k].extend([r[k] for r in records])
        x = self.steps.view()
        for k, curve in self.curves.items():
            y = self.data[k].view()
            if k == "grad_norm" and self.log_y.isChecked():
                y = np.maximum(y, 1e-12)
            curve.setData(x, y)

    def set_history(self, records: list[dict]) -> None:
        self.clear()
        self.add_records(records)

    def clear(self) -> None:
        self.steps.clear()
        for s in self.data.values():
            s.clear()
        for c in self.curves.values():
            c.setData([], [])

    @property
    def n_points(self) -> int:
        return self.steps.n

    def _set_log(self, on: bool) -> None:
        self.grad_plot.setLogMode(y=on)
        self.add_records([])
        if self.steps.n:
            y = self.data["grad_norm"].view()
            self.curves["grad_norm"].setData(self.steps.view(), np.maximum(y, 1e-12) if on else y)

    def _mouse_moved(self, evt) -> None:
        pos = evt[0]
        if self.steps.n == 0:
            return
        for p in self.plots:
            if p.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                steps = self.steps.view()
                i = int(np.clip(np.searchsorted(steps, x), 0, len(steps) - 1))
                for line in self._vlines:
                    line.setPos(steps[i])
                d = {k: self.data[k].view()[i] for k in SERIES}
                self.readout.setText(f"step {int(steps[i])}:  loss {d['loss']:+.4g}   ‖∇θ‖ {d['grad_norm']:.4g}   "
                                     f"E(data) {d['e_data']:+.4g}   E(samples) {d['e_samples']:+.4g}")
                return

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
            self.export_csv(path)
