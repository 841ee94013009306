"""The window's toolbar and menus (File, Run, View, Help), the shortcuts dialog and About."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy, QToolBar

RUN_ACTIONS = (  # attribute, text, icon, shortcut, slot name, tip
    ("start_action", "Start", "SP_MediaPlay", "Ctrl+R", "start", "Start training, or continue the run"),
    ("pause_action", "Pause", "SP_MediaPause", "Ctrl+P", "toggle_pause", "Pause / resume between two steps"),
    ("step_action", "Step", "SP_MediaSeekForward", "Ctrl+T", "step", "One training step, then pause"),
    ("stop_action", "Stop", "SP_MediaStop", "Ctrl+.", "stop_nowait",
     "Stop after the current step (the run is saved and kept)"),
    ("reset_action", "Reset", "SP_BrowserReload", "Ctrl+Shift+R", "reset",
     "Forget the run: the next Start begins a new one"),
)


def build_toolbar(win) -> QToolBar:
    tb = QToolBar("Run controls")
    tb.setObjectName("run_controls")
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    tb.setMovable(False)
    win.addToolBar(tb)
    style = win.style()
    for attr, text, icon, shortcut, slot, tip in RUN_ACTIONS:
        a = QAction(style.standardIcon(getattr(style.StandardPixmap, icon)), text, win)
        a.setShortcut(QKeySequence(shortcut))
        a.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
        a.triggered.connect(getattr(win, slot))
        tb.addAction(a)
        setattr(win, attr, a)
    tb.addSeparator()
    win.run_label = QLabel("")  # elided: the run's folder is in the tooltip
    win.run_label.setStyleSheet("color: #555; padding-left: 8px;")
    win.run_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    win.run_label.setMinimumWidth(40)
    tb.addWidget(win.run_label)
    win.run_toolbar = tb
    return tb


def build_menus(win) -> None:
    m = win.menuBar().addMenu("&File")
    win.open_action = m.addAction("&Open run folder…", QKeySequence.StandardKey.Open, win.open_dialog)
    win.open_file_action = m.addAction("Open checkpoint &file…", QKeySequence("Ctrl+Shift+O"), win.open_file_dialog)
    win.pretrained_menu = m.addMenu("Open &pretrained")
    for name in win._pretrained_names():
        win.pretrained_menu.addAction(name, lambda n=name: win.open_in_background(f"pretrained:{n}"))
    win.recent_menu = m.addMenu("Open &recent")
    m.addSeparator()
    win.save_action = m.addAction("&Save checkpoint…", QKeySequence.StandardKey.Save, win.save_dialog)
    win.save_config_action = m.addAction("Save &config as TOML…", win.save_config_dialog)
    win.load_config_action = m.addAction("&Load config from TOML…", win.load_config_dialog)
    win.export_csv_action = m.addAction("Export chart data as CS&V…", win.charts.export_csv_dialog)
    win.export_grid_action = m.addAction("Export sample &grid…", win.samples.export_dialog)
    m.addSeparator()
    m.addAction("&Quit", QKeySequence.StandardKey.Quit, win.close)
    run = win.menuBar().addMenu("&Run")
    for a in (win.start_action, win.pause_action, win.step_action, win.stop_action, win.reset_action):
        run.addAction(a)
    v = win.menuBar().addMenu("&View")
    for dock in win.docks():
        v.addAction(dock.toggleViewAction())
    v.addAction(win.run_toolbar.toggleViewAction())
    v.addSeparator()
    v.addAction("Restore default &layout", win.restore_default_layout)
    h = win.menuBar().addMenu("&Help")
    h.addAction("&Keyboard shortcuts", win.show_shortcuts)
    h.addAction("&About EBM Studio", win.about)
    win._refresh_recent()


def plain_text(action_text: str) -> str:
    """An action's text without its mnemonic ampersands ("&Open…" -> "Open…"; "&&" stays "&")."""
    return action_text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def shortcuts_html(actions) -> str:
    import html

    rows = "".join(f"<tr><td><b>{html.escape(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))}</b></td>"
                   f"<td>&nbsp;{html.escape(plain_text(a.text()))}</td></tr>" for a in actions)
    canvas = ("<tr><td><b>Space</b></td><td>&nbsp;Canvas: play / pause the chain</td></tr>"
              "<tr><td><b>Right</b></td><td>&nbsp;Canvas: one sampler step</td></tr>")
    return f"<table>{rows}{canvas}</table>"


def show_shortcuts(win) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts",
                      shortcuts_html((win.start_action, win.pause_action, win.step_action, win.stop_action,
                                      win.reset_action, win.open_action, win.save_action)), parent=win)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.show()
    return box


def show_about(win) -> None:
    QMessageBox.about(win, "About EBM Studio",
                      "<b>EBM Studio</b>: an interactive lab for energy-based generative models of "
                      "handwritten digits: train them, watch them learn, and explore their energy landscape."
                      "<br><br>The MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
                      "Christopher J. C. Burges, licensed CC BY-SA 3.0.")
