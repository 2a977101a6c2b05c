"""The flame graph's label controls, shown when the profile's samples carry labels (pprof
labels such as Go's ``pprof.Do`` ``endpoint``): "group by label" (the chosen key's values
become the root frames, as pprof's ``-tagroot``) and "focus on label=value" (``-tagfocus``)."""

from __future__ import annotations

import re

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget

from ..analysis.labels import label_keys, label_values
from ..model.profile import Profile

MAX_FOCUS_ITEMS = 200  # label values offered in the focus list (the table itself is capped too)


class LabelControls(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QComboBox()
        self.group.setToolTip("group by label: each value of the label becomes a root frame")
        self.focus = QComboBox()
        self.focus.setToolTip("focus on the samples with this label value (pprof -tagfocus)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.group)
        lay.addWidget(self.focus)
        self._keys: tuple[str, ...] = ()
        self._values: tuple[str, ...] = ()
        self.group.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.focus.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.hide()

    def set_profile(self, profile: Profile | None) -> None:
        """Offer the profile's label keys and key=value pairs; a choice still offered is kept."""
        keys = tuple(label_keys(profile)) if profile is not None else ()
        pairs = tuple(f"{k}={v}" for k in keys for v in label_values(profile, k))[:MAX_FOCUS_ITEMS] if profile else ()
        self.setVisible(bool(keys))
        if keys != self._keys:
            self._keys = keys
            cur = self.group_key()
            self.group.blockSignals(True)
            self.group.clear()
            self.group.addItem("group by label: none", "")
            for k in keys:
                self.group.addItem(f"group by label: {k}", k)
            self.group.setCurrentIndex(max(0, self.group.findData(cur)))
            self.group.blockSignals(False)
        if pairs != self._values:
            self._values = pairs
            cur = self.focus_pair()
            self.focus.blockSignals(True)
            self.focus.clear()
            self.focus.addItem("label focus: all samples", "")
            for p in pairs:
                self.focus.addItem(f"focus on {p}", p)
            self.focus.setCurrentIndex(max(0, self.focus.findData(cur)))
            self.focus.blockSignals(False)

    def pairs(self) -> tuple[str, ...]:
        """The ``key=value`` pairs offered for focus."""
        return self._values

    def group_key(self) -> str:
        return str(self.group.currentData() or "")

    def focus_pair(self) -> str:
        return str(self.focus.currentData() or "")

    def focus_filter(self) -> str:
        """The chosen pair as a ``-tagfocus`` filter matching exactly that value."""
        key, _sep, value = self.focus_pair().partition("=")
        return f"{key}=^{re.escape(value)}$" if key else ""

    def choose_group(self, key: str) -> None:
        self.group.setCurrentIndex(max(0, self.group.findData(key)))

    def choose_focus(self, pair: str) -> None:
        self.focus.setCurrentIndex(max(0, self.focus.findData(pair)))
