"""The CLI's parser loads without torch (``ebm-studio --help`` and argument errors print at once),
and the light list of family names it offers agrees with the registered family records."""

import subprocess
import sys

from ebm_studio.core.families import family_names
from ebm_studio.core.family_names import SHIPPED_FAMILIES

PROBE = """
import contextlib, io, sys
from ebm_studio.cli import build_parser
parser = build_parser()
for argv in (["--help"], ["train", "--help"], ["train", "--model", "nope", "--out", "x"], ["sample", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit:
            pass
print(sorted(m for m in ("torch", "numpy", "tqdm") if m in sys.modules))
"""


def test_parser_help_and_argument_errors_do_not_import_torch():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_parsers_family_names_are_the_registered_records():
    assert SHIPPED_FAMILIES == family_names()


def test_train_offers_every_family_as_a_model_choice():
    from ebm_studio.cli import build_parser

    args = build_parser().parse_args(["train", "--model", SHIPPED_FAMILIES[-1], "--out", "x"])
    assert args.model == SHIPPED_FAMILIES[-1]
