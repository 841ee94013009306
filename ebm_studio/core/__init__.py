"""The Qt-free engine of EBM Studio.

Everything here is plain PyTorch/numpy so that the GUI, the CLI and the tests drive the very same
code; ``tests/test_core_imports_no_qt.py`` enforces that no module of this package pulls in Qt.
"""
