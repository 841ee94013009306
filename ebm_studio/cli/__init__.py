"""``ebm-studio``: the studio window with no sub-command, and its headless twin otherwise.

One module per sub-command (``train``, ``sample``/``chain``, ``guide``, ``evaluate``, ``compare``,
``info``, ``inpaint``/``denoise`` in canvas.py, ``export-run``, ``sweep``), each with a
``register(subparsers)`` that adds its parser and sets ``handler``, a function of the parsed
arguments that calls the command with explicit arguments. Every user error (bad
argument, corrupt checkpoint, unreadable image, NaN hyper-parameter) is one line on stderr and
exit status 2; Ctrl-C or SIGTERM during training saves the run and exits cleanly.
"""

from __future__ import annotations

import argparse
import sys

from ..core.errors import EbmStudioError
from . import canvas, compare, evaluate, export_run, guide, info, sample, sweep, train

COMMANDS = (train, sample, guide, evaluate, compare, info, canvas, export_run, sweep)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ebm-studio", description="EBM Studio: train and explore energy-based models of "
                                "handwritten digits. With no sub-command, opens the studio window.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from ..app import run_app

        return run_app()
    try:
        return args.handler(args) or 0
    except EbmStudioError as exc:
        print(f"ebm-studio {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ebm-studio {args.command}: interrupted", file=sys.stderr)
        return 130
