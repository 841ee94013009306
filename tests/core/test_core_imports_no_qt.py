"""The core must stay Qt-free so the CLI and tests run without a display (napari-style split).

Every module of core (every subpackage too) and of the CLI is imported; the import-linter contract
(tests/core/test_import_contracts.py) checks the same statically, function-local imports included."""

import subprocess
import sys


def test_core_imports_no_qt():
    import pkgutil

    import ebm_studio.cli as cli
    import ebm_studio.core as core

    modules = [m.name for pkg in (core, cli) for m in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + ".")]
    assert {"ebm_studio.core.conv.energy", "ebm_studio.core.boltzmann.rbm", "ebm_studio.core.baselines.vae",
            "ebm_studio.core.quality.metrics", "ebm_studio.cli.train"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "qt = ('PySide6', 'pyqtgraph', 'shiboken6', 'PyQt5', 'PyQt6', 'ebm_studio.gui')\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in qt or k.startswith('ebm_studio.gui'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt modules: {out.stdout}"
