"""A run's ``metrics.csv``: the guarded reader and the append-only log training writes.

The file is read with strict UTF-8 decoding and the ``csv`` module; every row is checked (as
many cells as the header, a step that is a non-negative integer, numbers that parse), so
``info``, ``compare`` and a resume see either good rows or one :class:`MetricsError` naming
the file and the line. Training never stops for a bad log: :meth:`MetricsLog.open` sets the
unreadable file aside (renamed, never deleted) and starts a new one.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .errors import DataError
from .files import read_bytes_checked

MAX_METRICS_BYTES = 512 << 20  # a day of training at 10 steps/s is ~60 MB
TEXT_FIELDS = ("event",)


class MetricsError(DataError):
    """A metrics.csv that cannot be read: not text, not CSV, or rows that do not make sense."""


def _number(path: Path, line: int, key: str, text: str) -> None:
    try:
        float(text)
    except ValueError:
        raise MetricsError(f"{path}: line {line}: {key} = {text[:40]!r} is not a number") from None


def _step(path: Path, line: int, text: str | None) -> int:
    try:
        value = float(text or "")
    except ValueError:
        raise MetricsError(f"{path}: line {line}: step {str(text)[:40]!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or value != int(value) or value > 2**62:
        raise MetricsError(f"{path}: line {line}: step {text!r} is not a non-negative whole number")
    return int(value)


def read_metrics(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows of a metrics.csv, validated; raises :class:`MetricsError` naming file and line."""
    path = Path(path)
    raw = read_bytes_checked(path, MetricsError, "metrics file", MAX_METRICS_BYTES)
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise MetricsError(f"{path}: not UTF-8 text (byte {exc.start}); binary or UTF-16?") from None
    if "\x00" in text:
        raise MetricsError(f"{path}: contains NUL bytes; not a CSV file")
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    rows: list[dict[str, str]] = []
    try:
        header = reader.fieldnames
        if header is None:
            return []
        if "step" not in header or len(set(header)) != len(header):
            raise MetricsError(f"{path}: header {','.join(header)[:80]!r} is not a metrics header (needs 'step')")
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise MetricsError(f"{path}: line {line}: {len(header)} cells expected")
            _step(path, line, row["step"])
            for key, value in row.items():
                if key != "step" and key not in TEXT_FIELDS and value != "":
                    _number(path, line, key, value)
            rows.append(row)
    except csv.Error as exc:
        raise MetricsError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None
    return rows


def last_step(rows: list[dict[str, str]]) -> int:
    return int(float(rows[-1]["step"])) if rows else 0


def set_aside(path: Path) -> Path:
    """Rename an unreadable file out of the way (``metrics.csv.unreadable-<time>``), keeping it."""
    target = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, target)
    return target


class MetricsLog:
    """Append-only CSV of training records; re-written atomically on flush.

    An existing file that cannot be read is set aside and a new log begun; ``set_aside_to`` says
    where it went (None when nothing was set aside), so the caller can tell the user.
    """

    def __init__(self, path: str | os.PathLike, fields: list[str]):
        self.path = Path(path)
        self.fields = fields
        self.rows: list[dict[str, Any]] = []
        self.set_aside_to: Path | None = None
        self.problem: str | None = None
        if os.path.lexists(self.path):
            try:
                self.rows = read_metrics(self.path)
            except MetricsError as exc:
                self.problem = str(exc)
                try:
                    self.set_aside_to = set_aside(self.path)
                except OSError:
                    self.set_aside_to = None
                self.rows = []

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append({k: row.get(k) for k in self.fields})

    def truncate_after(self, step: int) -> None:
        self.rows = [r for r in self.rows if int(float(r.get("step") or 0)) <= step]

    def flush(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        writer.writeheader()
        for r in self.rows:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in self.fields})
        atomic_write_text(self.path, buf.getvalue())
