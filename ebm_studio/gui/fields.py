"""Input fields that validate as the user types: a red border and a reason, never a NaN run."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLineEdit

INVALID_STYLE = "QLineEdit { border: 2px solid #d9534f; background: #fff0f0; }"


class NumberField(QLineEdit):
    """A number in [lo, hi] (optionally an integer); ``value()`` is None while the text is invalid."""

    validity_changed = Signal(bool)
    value_edited = Signal()

    def __init__(self, name: str, value: float, lo: float, hi: float, integer: bool = False,
                 open_low: bool = False, tooltip: str = "", parent=None):
        super().__init__(parent)
        self.name, self.lo, self.hi, self.integer, self.open_low = name, lo, hi, integer, open_low
        self._valid = True
        self.error = ""
        self.setToolTip(tooltip)
        self.base_tooltip = tooltip
        self.setMaximumWidth(110)
        self.set_value(value)
        self.textChanged.connect(self._check)
        self.editingFinished.connect(self._edited)

    def set_value(self, value: float) -> None:
        self.setText(str(int(value)) if self.integer else f"{value:g}")
        self._check()

    def _parse(self) -> float | None:
        text = self.text().strip()
        try:
            v = int(text) if self.integer else float(text)
        except ValueError:
            self.error = f"{self.name}: '{text}' is not {'an integer' if self.integer else 'a number'}"
            return None
        if not math.isfinite(v):
            self.error = f"{self.name}: must be a finite number"
            return None
        if v < self.lo or v > self.hi or (self.open_low and v == self.lo):
            low = f"> {self.lo:g}" if self.open_low else f">= {self.lo:g}"
            self.error = f"{self.name}: must be {low} and <= {self.hi:g}"
            return None
        self.error = ""
        return v

    def value(self):
        return self._parse()

    def is_valid(self) -> bool:
        return self._valid

    def _check(self) -> None:
        ok = self._parse() is not None
        self.setStyleSheet("" if ok else INVALID_STYLE)
        self.setToolTip(self.base_tooltip if ok else self.error)
        if ok != self._valid:
            self._valid = ok
            self.validity_changed.emit(ok)

    def _edited(self) -> None:
        if self._valid:
            self.value_edited.emit()


class Choice(QComboBox):
    """A pick among named values: shows each label, ``value()`` is the chosen value, and ``set_value``
    selects a value (the first item where a config holds one this list does not name)."""

    def __init__(self, items: dict, tooltip: str = "", parent=None):
        super().__init__(parent)
        for value, label in items.items():
            self.addItem(label, value)
        if tooltip:
            self.setToolTip(tooltip)

    def value(self):
        return self.currentData()

    def set_value(self, value) -> None:
        self.setCurrentIndex(max(0, self.findData(value)))
