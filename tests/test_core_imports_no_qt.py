"""The core must stay Qt-free so the CLI and tests run without a display (napari-style split)."""

import subprocess
import sys

CORE_MODULES = [
    "ebm_studio.core.data", "ebm_studio.core.idx", "ebm_studio.core.images", "ebm_studio.core.conv.energy",
    "ebm_studio.core.conv.langevin", "ebm_studio.core.trainer", "ebm_studio.core.checkpoint",
    "ebm_studio.core.config", "ebm_studio.core.export", "ebm_studio.core.session",
    "ebm_studio.core.families", "ebm_studio.core.models_io", "ebm_studio.cli",
]


def test_core_imports_no_qt():
    import pkgutil

    import ebm_studio.core as core

    modules = CORE_MODULES + [m.name for m in pkgutil.walk_packages(core.__path__, prefix="ebm_studio.core.")]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6', 'PyQt5', 'PyQt6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout}"
