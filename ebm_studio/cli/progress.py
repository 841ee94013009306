"""Progress of the long jobs (sampling, chains, training, the class guide, AIS) on stderr.

On a terminal a tqdm bar (rate and time left, redrawn in place); when stderr is a pipe or a log
file, one plain line every few seconds in the same words (tqdm's own ``format_meter``, so rate
and time left are tqdm's), because a bar redrawn with carriage returns makes a log unreadable.
Nothing goes to stdout, which belongs to what a script reads (``sample --out -``, ``--json``);
``--quiet`` silences it all. Why tqdm: well kept, no dependencies, and it does the rate and
time-left arithmetic that a hand-written bar would get subtly wrong (smoothing, units).
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

#: Seconds between two plain lines when stderr is not a terminal.
PLAIN_EVERY_S = 5.0
PLAIN_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%) [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
#: Without the rate: for a wall-clock budget, where "1.00s/s" says nothing (the caller puts its own in the postfix).
PLAIN_FORMAT_NO_RATE = "{desc}: {n_fmt}/{total_fmt} {unit} ({percentage:.0f}%) [{elapsed}<{remaining}{postfix}]"
BAR_FORMAT_NO_RATE = "{l_bar}{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}{postfix}]"


class Progress:
    """``update(n, postfix)`` with the work done so far; ``write`` a message; ``close`` at the end.

    ``total`` in ``unit`` (steps, seconds...); ``tty`` forces the mode (None: ask the stream);
    ``rate=False`` leaves the rate out (a wall-clock budget in seconds)."""

    def __init__(self, desc: str, total: float, unit: str = "step", quiet: bool = False,
                 stream: TextIO | None = None, tty: bool | None = None, every: float = PLAIN_EVERY_S,
                 rate: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.desc, self.total, self.unit, self.every = desc, total, unit, every
        self.quiet = quiet
        self.plain_format = PLAIN_FORMAT if rate else PLAIN_FORMAT_NO_RATE
        self._printed = None  # (n, postfix) of the last plain line
        self.n: float = 0
        self.postfix = ""
        self._t0 = time.monotonic()
        self._last_line = -math.inf
        self._bar = None
        if not quiet and (tty if tty is not None else _isatty(self.stream)):
            from tqdm import tqdm  # here, not at the top: the parser (and --help) loads without it

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True,
                             smoothing=0.1, leave=True, bar_format=None if rate else BAR_FORMAT_NO_RATE)

    def update(self, n: float, postfix: str | None = None, total: float | None = None) -> None:
        """``total``: the job's size when it is only known once it runs (e.g. from the first record)."""
        if self.quiet:
            return
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
        if postfix is not None:
            self.postfix = postfix
        if self._bar is not None:
            if postfix is not None:
                self._bar.set_postfix_str(postfix, refresh=False)
            self._bar.update(n - self._bar.n)
            self.n = n
            return
        self.n = n
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._line()

    def write(self, message: str) -> None:
        """A message between two progress updates (above the bar on a terminal); also when quiet,
        since what it tells (a divergence event) is not progress."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._printed != (self.n, self.postfix) and (self._last_line > -math.inf or self.n):
            self._line()  # where it ended

    def _line(self) -> None:
        from tqdm import tqdm

        self._printed = (self.n, self.postfix)
        text = tqdm.format_meter(self.n, self.total, time.monotonic() - self._t0, prefix=self.desc, unit=self.unit,
                                 bar_format=self.plain_format, postfix=self.postfix or None)
        print(text, file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
