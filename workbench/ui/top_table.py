"""Top functions: self/total per function, sortable and filterable, linked to the flame graph.

For a wall-clock profile a "Waiting on" tree sits above the table: the profile's waits
grouped by kind (pool, lock, channel/queue, network, sleep, GC; workbench.analysis.waits),
each with the frames that wait. Clicking a frame selects it as a table row does.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLineEdit,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..analysis.top import FunctionRow, top_functions
from ..analysis.waits import WAIT_EXPLAIN, WaitSummary, is_wall_profile, waiting_on
from ..model.frames import Frame
from ..model.profile import Profile
from .units import format_value

MAX_ROWS = 5000  # a table of a million frames helps nobody and costs memory
COLUMNS = ("function", "self", "self %", "total", "total %", "location")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


class TopModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[FunctionRow] = []
        self.sample_index = 0
        self.unit = ""
        self.root_total = 0.0

    def set_rows(self, rows: list[FunctionRow], sample_index: int, unit: str, root_total: float) -> None:
        self.beginResetModel()
        self.rows, self.sample_index, self.unit, self.root_total = rows, sample_index, unit, root_total
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:  # type: ignore[override]
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:  # type: ignore[override]
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        c = index.column()
        s = float(r.self_values[self.sample_index])
        t = float(r.total_values[self.sample_index])
        pct = 100.0 / self.root_total if self.root_total else 0.0
        if role == SORT_ROLE:
            return (r.frame.function.lower(), s, s, t, t, r.frame.file)[c]
        if role == Qt.ItemDataRole.DisplayRole:
            loc = f"{r.frame.file}:{r.frame.line}" if r.frame.file else ""
            return (
                r.frame.function,
                format_value(s, self.unit),
                f"{s * pct:.2f}",
                format_value(t, self.unit),
                f"{t * pct:.2f}",
                loc,
            )[c]
        if role == Qt.ItemDataRole.TextAlignmentRole and 1 <= c <= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class TopFunctionsView(QWidget):
    """Double-click a row to focus the flame graph on that function (``frameActivated``).

    Selection is linked both ways: selecting a row emits ``frameSelected`` (the flame graph
    outlines that function's boxes) and ``select_frame`` marks the row of a function clicked
    in the flame graph. The selection is held as a Frame, not a row or an id, so it survives
    live refreshes, re-sorting and filtering.
    """

    frameActivated = Signal(int)
    frameSelected = Signal(object)  # Frame | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TopModel()
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter functions")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._activated)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.selected: Frame | None = None
        self.waits = QTreeWidget()
        self.waits.setHeaderLabels(("Waiting on", "time", "% of wall", "where"))
        self.waits.setRootIsDecorated(True)
        self.waits.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.waits.itemClicked.connect(self._wait_clicked)
        self.waits.hide()
        self.summary: WaitSummary | None = None
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.waits)
        split.addWidget(self.table)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filter)
        lay.addWidget(split)
        self._key: tuple[object, ...] = ()

    def set_profile(self, profile: Profile | None, sample_index: int = 0) -> None:
        if profile is None:
            self.model.set_rows([], 0, "", 0.0)
            self._set_waits(None, "")
            self._key = ()
            return
        key = (id(profile), profile.version, sample_index)
        if key == self._key:
            return
        self._key = key
        rows = top_functions(profile, sample_index, limit=MAX_ROWS)
        unit = profile.sample_types[sample_index].unit
        self.model.set_rows(rows, sample_index, unit, float(profile.totals()[sample_index]))
        self._set_waits(waiting_on(profile, sample_index) if is_wall_profile(profile) else None, unit)
        self._show_selected()

    def _set_waits(self, summary: WaitSummary | None, unit: str) -> None:
        self.summary = summary
        self.waits.clear()
        if summary is None:
            self.waits.hide()
            return
        for g in summary.groups:
            top = QTreeWidgetItem(
                (g.label, format_value(g.value, unit), f"{100 * g.share:.1f}", WAIT_EXPLAIN.get(g.kind, ""))
            )
            top.setData(0, Qt.ItemDataRole.UserRole, None)
            for frame, v in g.frames:
                loc = f"{frame.file}:{frame.line}" if frame.file else ""
                share = v / summary.total if summary.total else 0.0
                child = QTreeWidgetItem((frame.function, format_value(v, unit), f"{100 * share:.1f}", loc))
                child.setData(0, Qt.ItemDataRole.UserRole, frame)
                top.addChild(child)
            self.waits.addTopLevelItem(top)
            top.setExpanded(True)
        if summary.running > 0:
            share = summary.running / summary.total if summary.total else 0.0
            self.waits.addTopLevelItem(
                QTreeWidgetItem(("running", format_value(summary.running, unit), f"{100 * share:.1f}", "not waiting"))
            )
        self.waits.show()

    def _wait_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        frame = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(frame, Frame) and frame != self.selected:
            self.selected = frame
            self._show_selected()
            self.frameSelected.emit(frame)

    def select_frame(self, frame: Frame | None) -> None:
        """Mark ``frame``'s row (from a click in the flame graph) without echoing it back."""
        self.selected = frame
        self._show_selected()

    def _show_selected(self) -> None:
        row = -1
        if self.selected is not None:
            row = next((i for i, r in enumerate(self.model.rows) if r.frame == self.selected), -1)
        sm = self.table.selectionModel()
        sm.blockSignals(True)
        try:
            if row < 0:
                sm.clearSelection()
                return
            idx = self.proxy.mapFromSource(self.model.index(row, 0))
            if not idx.isValid():  # filtered out: keep the selection, show nothing
                sm.clearSelection()
                return
            sm.setCurrentIndex(idx, sm.SelectionFlag.ClearAndSelect | sm.SelectionFlag.Rows)
            self.table.scrollTo(idx)
        finally:
            sm.blockSignals(False)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        src = self.proxy.mapToSource(current)
        frame = self.model.rows[src.row()].frame if src.isValid() else None
        if frame is not None and frame != self.selected:
            self.selected = frame
            self.frameSelected.emit(frame)

    def _activated(self, index: QModelIndex) -> None:
        src = self.proxy.mapToSource(index)
        if src.isValid():
            self.frameActivated.emit(self.model.rows[src.row()].frame_id)
