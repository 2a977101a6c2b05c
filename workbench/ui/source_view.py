"""The Source tab: one function's lines with flat and cum per line (``workbench list`` in
the GUI), opened by "Show source" on a flame-graph box or a top-table row.

The listing is computed by ``workbench.analysis.source`` from the profile the window
shows (a timeline window cut included); the hottest line (largest cum of the chosen
sample type) is highlighted and scrolled to. Source roots (``OLD=NEW``, as the CLI's
``--source-root``) find files recorded elsewhere, e.g. in a container.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..analysis.source import SourceFiles, SourceListing, listing_for, parse_remaps
from ..errors import WorkbenchError
from ..model.frames import Frame
from ..model.profile import Profile
from .units import format_percent, format_value

HOT = QColor(255, 196, 92)  # the hottest line
WARM = QColor(255, 236, 200)  # other sampled lines
COLUMNS = ("flat", "cum", "line", "source")


class SourceView(QWidget):
    """Shows one function's listing; ``show_frame`` (re)computes it from a profile."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.profile: Profile | None = None
        self.frame: Frame | None = None
        self.listing: SourceListing | None = None
        self.hottest_line = 0
        self.title = QLabel("Right-click a flame-graph box or a top-table row and pick “Show source”.")
        self.title.setObjectName("sourceTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel("")
        self.note.setObjectName("sourceNote")
        self.note.setWordWrap(True)
        self.note.hide()
        self.sample_type = QComboBox()
        self.sample_type.setToolTip("sample type")
        self.roots = QLineEdit()
        self.roots.setPlaceholderText("source roots: OLD=NEW; … (where files recorded elsewhere are here)")
        if settings is not None:
            self.roots.setText(str(settings.value("source_roots", "") or ""))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        hdr = self.table.horizontalHeader()
        for c in range(3):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setStretchLastSection(True)
        self.mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.table.setFont(self.mono)
        self.table.verticalHeader().setDefaultSectionSize(QFontMetrics(self.mono).height() + 4)
        row = QHBoxLayout()
        row.addWidget(self.title, 1)
        row.addWidget(self.sample_type)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.roots)
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)
        self.sample_type.currentIndexChanged.connect(lambda _i: self._fill())
        self.roots.editingFinished.connect(self._roots_changed)

    # ---------------------------------------------------------------- public
    def show_frame(self, profile: Profile | None, frame: Frame, sample_index: int | None = None) -> None:
        """The listing of ``frame``'s function in ``profile``; raises WorkbenchError for a bad root."""
        self.frame = frame
        self.set_profile(profile, sample_index)

    def set_profile(self, profile: Profile | None, sample_index: int | None = None) -> None:
        """Recompute for a new snapshot (live capture, a timeline window) of the shown function."""
        first = self.profile is None or profile is None or self.profile.sample_types != profile.sample_types
        self.profile = profile
        if first or sample_index is not None:
            self.sample_type.blockSignals(True)
            self.sample_type.clear()
            if profile is not None:
                for st in profile.sample_types:
                    self.sample_type.addItem(f"{st.type} ({st.unit})")
                si = profile.default_sample_type if sample_index is None else sample_index
                self.sample_type.setCurrentIndex(si)
            self.sample_type.blockSignals(False)
        self.listing = None
        if profile is not None and self.frame is not None:
            files = SourceFiles(parse_remaps(self._root_specs()))
            self.listing = listing_for(profile, self.frame, sources=files)
        self._fill()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """What the table shows, row by row (flat, cum, line, text)."""
        return [
            tuple(self.table.item(r, c).text() if self.table.item(r, c) else "" for c in range(4))  # type: ignore[misc]
            for r in range(self.table.rowCount())
        ]

    def highlighted_rows(self) -> list[int]:
        """Line numbers drawn in the hottest colour."""
        out = []
        for r in range(self.table.rowCount()):
            it = self.table.item(r, 2)
            if it is not None and it.background().color() == HOT:
                out.append(int(it.text()))
        return out

    # --------------------------------------------------------------- private
    def _root_specs(self) -> list[str]:
        return [s.strip() for s in self.roots.text().split(";") if s.strip()]

    def _roots_changed(self) -> None:
        if self.settings is not None:
            self.settings.setValue("source_roots", self.roots.text())
        try:
            self.set_profile(self.profile)
        except WorkbenchError as exc:
            self.note.setText(f"{exc}")
            self.note.show()

    def _fill(self) -> None:
        self.table.setRowCount(0)
        lst, p = self.listing, self.profile
        self.hottest_line = 0
        if lst is None or p is None:
            if self.frame is not None:
                self.title.setText(f"{self.frame.function}: no samples in this profile")
            self.note.hide()
            return
        si = max(0, self.sample_type.currentIndex())
        st = p.sample_types[si]
        grand = float(p.totals()[si])
        share = format_percent(float(lst.cum[si]) / grand) if grand else "-"
        self.title.setText(
            f"{lst.function}  —  {lst.file or '?'}   flat {format_value(float(lst.flat[si]), st.unit)}, "
            f"cum {format_value(float(lst.cum[si]), st.unit)} ({share} of total)"
        )
        notes = []
        if lst.text is None and lst.lines:
            notes.append(f"source not shown: {lst.read_error}")
        elif lst.read_path and lst.read_path != lst.file:
            notes.append(f"read from {lst.read_path}")
        if lst.unknown is not None:
            notes.append(f"{format_value(float(lst.unknown.flat[si]), st.unit)} flat at no line number")
        self.note.setText("; ".join(notes))
        self.note.setVisible(bool(notes))
        self.hottest_line = lst.hottest(si)
        rows = lst.rows()
        self.table.setRowCount(len(rows))
        hot_row = -1
        bold = QFont(self.mono)
        bold.setBold(True)

        def v(x: float) -> str:
            return "" if x == 0 else format_value(x, st.unit)

        for r, (n, cost, text) in enumerate(rows):
            cells = (
                ("", "", "…", "")
                if n == 0
                else (
                    v(float(cost.flat[si])) if cost is not None else "",
                    v(float(cost.cum[si])) if cost is not None else "",
                    str(n),
                    text,
                )
            )
            for c, s in enumerate(cells):
                it = QTableWidgetItem(s)
                if c < 3:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if cost is not None and (cost.flat[si] or cost.cum[si]):
                    it.setBackground(QBrush(HOT if n == self.hottest_line else WARM))
                    if n == self.hottest_line:
                        it.setFont(bold)
                self.table.setItem(r, c, it)
            if n == self.hottest_line:
                hot_row = r
        hot = self.table.item(hot_row, 0) if hot_row >= 0 else None
        if hot is not None:
            self.table.scrollToItem(hot, QAbstractItemView.ScrollHint.PositionAtCenter)
