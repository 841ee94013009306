"""The studio's main window (placeholder until the studio window lands)."""

from __future__ import annotations


def launch(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(argv)
    win = QMainWindow()
    win.setWindowTitle("EBM Studio")
    win.setCentralWidget(QLabel("EBM Studio — the studio window is under construction."))
    win.resize(900, 600)
    win.show()
    return app.exec()
