"""Top functions: self/total per function, sortable and filterable, linked to the flame graph.

The model sorts and filters itself with numpy and updates its rows in place: a live
refresh (every ~0.3 s) re-sorting thousands of rows through a QSortFilterProxyModel
calls Python once per comparison, and a model reset rebuilds the whole view; here a
refresh costs one argsort and a dataChanged for the rows on screen. At most ``MAX_ROWS``
rows are shown, the heaviest by the sort column; a note says how many more there are,
and the filter searches all of them.

For a wall-clock profile a "Waiting on" tree sits above the table: the profile's waits
grouped by kind (pool, lock, channel/queue, network, sleep, GC; workbench.analysis.waits),
each with the frames that wait. Clicking a frame selects it as a table row does.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QSplitter,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..analysis.top import self_and_total
from ..analysis.waits import WAIT_EXPLAIN, WaitSummary, is_wall_profile, waiting_on
from ..model.frames import Frame, FrameTable
from ..model.profile import Profile
from .units import format_value

MAX_ROWS = 2000  # rows on screen: nobody scrolls past them, and each row costs on every refresh
COLUMNS = ("function", "self", "self %", "total", "total %", "location")
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
_NO_IDS: IntArray = np.zeros(0, dtype=np.int64)
_NO_VALUES: FloatArray = np.zeros(0, dtype=np.float64)


class TopModel(QAbstractTableModel):
    """Every frame with a value (``all_*``), and the rows shown: filtered, sorted, capped.

    ``all_*`` are in the analysis' order (self, then total, descending, then frame id);
    sorting by a column is stable over that order, so ties read as ``workbench info`` lists them.
    """

    rowsUpdated = Signal()  # after new values, a new sort or a new filter

    def __init__(self) -> None:
        super().__init__()
        self.frames: FrameTable | None = None
        self.unit = ""
        self.root_total = 0.0
        self.all_ids, self.all_self, self.all_total = _NO_IDS, _NO_VALUES, _NO_VALUES
        self._names: list[str] | None = None  # lower-case function names of all_ids, built on demand
        self.ids, self.self_v, self.total_v = _NO_IDS, _NO_VALUES, _NO_VALUES
        self.matched = 0  # rows the filter lets through; those past MAX_ROWS are not shown
        self.sort_column = 1
        self.sort_order = Qt.SortOrder.DescendingOrder
        self.needle = ""
        self.applying = False  # rows being rewritten: the selection model moves, the user did not

    def set_values(
        self,
        frames: FrameTable | None,
        ids: IntArray,
        self_v: FloatArray,
        total_v: FloatArray,
        *,
        unit: str,
        root: float,
    ) -> None:
        """``ids`` (frame ids) with their self and total of one sample type, heaviest first."""
        self.frames, self.unit, self.root_total = frames, unit, root
        self.all_ids, self.all_self, self.all_total = ids, self_v, total_v
        self._names = None
        self._apply()

    def set_filter(self, text: str) -> None:
        self.needle = text.lower()
        self._apply()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self._apply()

    def frame(self, row: int) -> Frame:
        assert self.frames is not None
        return self.frames[int(self.ids[row])]

    def row_of(self, frame: Frame) -> int:
        """The row showing ``frame``, or -1 (not in this profile, filtered out or past the cap)."""
        fid = self.frames.find(frame) if self.frames is not None else None
        if fid is None:
            return -1
        hit = np.flatnonzero(self.ids == fid)
        return int(hit[0]) if len(hit) else -1

    def names(self) -> list[str]:
        if self._names is None:
            assert self.frames is not None or not len(self.all_ids)
            fr = self.frames
            self._names = [fr[i].function.lower() for i in self.all_ids.tolist()] if fr is not None else []
        return self._names

    def _order(self) -> IntArray:
        """Positions in ``all_*`` of the rows to show, in display order."""
        n = len(self.all_ids)
        keep = np.arange(n, dtype=np.int64)
        if self.needle:
            needle = self.needle
            keep = np.fromiter((i for i, s in enumerate(self.names()) if needle in s), dtype=np.int64)
        c = self.sort_column
        if c in (1, 2):
            key: FloatArray = self.all_self[keep]
        elif c in (3, 4):
            key = self.all_total[keep]
        elif c in (0, 5) and len(keep):
            fr = self.frames
            assert fr is not None
            texts = (
                [self.names()[i] for i in keep.tolist()] if c == 0 else [fr[int(self.all_ids[i])].file for i in keep]
            )
            key = np.unique(np.array(texts, dtype=object), return_inverse=True)[1].astype(np.float64)
        else:
            return keep
        if self.sort_order == Qt.SortOrder.DescendingOrder:
            key = -key  # not a reversal: ties keep the analysis' order either way
        return keep[np.argsort(key, kind="stable")]

    def _apply(self) -> None:
        pos = self._order()
        self.matched = len(pos)
        self.applying = True
        try:
            self._rewrite(pos[:MAX_ROWS])
        finally:
            self.applying = False
        self.rowsUpdated.emit()

    def _rewrite(self, pos: IntArray) -> None:
        old, new = len(self.ids), len(pos)
        # rows appended or dropped at the end, the rest rewritten in place: the view keeps
        # its scroll position and asks only the rows on screen for their text
        if new > old:
            self.beginInsertRows(QModelIndex(), old, new - 1)
        elif new < old:
            self.beginRemoveRows(QModelIndex(), new, old - 1)
        self.ids, self.self_v, self.total_v = self.all_ids[pos], self.all_self[pos], self.all_total[pos]
        if new > old:
            self.endInsertRows()
        elif new < old:
            self.endRemoveRows()
        if min(old, new):
            self.dataChanged.emit(self.index(0, 0), self.index(min(old, new) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.frames is None:
            return None
        c = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            r = index.row()
            if c == 0:
                return self.frames[int(self.ids[r])].function
            if c == 5:
                f = self.frames[int(self.ids[r])]
                return f"{f.file}:{f.line}" if f.file else ""
            v = float(self.self_v[r] if c <= 2 else self.total_v[r])
            if c in (1, 3):
                return format_value(v, self.unit)
            return f"{v * (100.0 / self.root_total if self.root_total else 0.0):.2f}"
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
    sourceRequested = Signal(object)  # Frame: "Show source" from a row's context menu

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TopModel()
        self.last_menu: QMenu | None = None
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter functions")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.model.set_filter)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._activated)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.more = QLabel()
        self.more.hide()
        self.selected: Frame | None = None
        self.model.rowsUpdated.connect(self._rows_updated)
        self.waits = QTreeWidget()
        self.waits.setHeaderLabels(("Waiting on", "time", "% of wall", "where"))
        self.waits.setRootIsDecorated(True)
        self.waits.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.waits.itemClicked.connect(self._wait_clicked)
        self.waits.hide()
        self.summary: WaitSummary | None = None
        below = QWidget()
        blay = QVBoxLayout(below)
        blay.setContentsMargins(0, 0, 0, 0)
        blay.addWidget(self.table)
        blay.addWidget(self.more)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.waits)
        split.addWidget(below)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.filter)
        lay.addWidget(split)
        self._key: tuple[object, ...] = ()

    def set_profile(self, profile: Profile | None, sample_index: int = 0) -> None:
        if profile is None:
            self.model.set_values(None, _NO_IDS, _NO_VALUES, _NO_VALUES, unit="", root=0.0)
            self._set_waits(None, "")
            self._key = ()
            return
        key = (id(profile), profile.version, sample_index)
        if key == self._key:
            return
        self._key = key
        self_v, total_v = self_and_total(profile)
        sv, tv = self_v[:, sample_index], total_v[:, sample_index]
        ids = np.flatnonzero(np.any(self_v != 0, axis=1) | np.any(total_v != 0, axis=1))
        # the analysis' order (workbench.analysis.top.top_functions): self, total, frame id
        ids = ids[np.lexsort((ids, -tv[ids], -sv[ids]))]
        unit = profile.sample_types[sample_index].unit
        self.model.set_values(
            profile.frames, ids, sv[ids], tv[ids], unit=unit, root=float(profile.totals()[sample_index])
        )
        self._set_waits(waiting_on(profile, sample_index) if is_wall_profile(profile) else None, unit)

    def _rows_updated(self) -> None:
        m = self.model
        hidden = m.matched - len(m.ids)
        self.more.setVisible(hidden > 0)
        if hidden > 0:
            self.more.setText(
                f"{hidden:,} more functions, lighter by this column: type in the filter to find one of them"
            )
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
        row = self.model.row_of(self.selected) if self.selected is not None else -1
        sm = self.table.selectionModel()
        sm.blockSignals(True)
        try:
            if row < 0:  # not in this profile, filtered out or past the cap: keep it, show nothing
                sm.clearSelection()
                return
            idx = self.model.index(row, 0)
            if sm.currentIndex().row() == row and sm.isRowSelected(row):
                return  # already there: a live refresh must not scroll the table back to it
            sm.setCurrentIndex(idx, sm.SelectionFlag.ClearAndSelect | sm.SelectionFlag.Rows)
            self.table.scrollTo(idx)
        finally:
            sm.blockSignals(False)
            self.table.viewport().update()  # the signals the view repaints on were blocked

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.model.applying or not current.isValid():  # rows moved under it: not the user's choice
            return
        frame = self.model.frame(current.row())
        if frame != self.selected:
            self.selected = frame
            self.frameSelected.emit(frame)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        frame = self.model.frame(index.row())
        menu = QMenu(self)
        menu.addAction("Show source").triggered.connect(lambda _c=False: self.sourceRequested.emit(frame))
        self.last_menu = menu  # kept: a popup is not modal, and tests pick its actions
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.frameActivated.emit(int(self.model.ids[index.row()]))
