"""The flame graph tab: toolbar (breadcrumb, search, sample type, colour, orientation,
sort, invert, sandwich, focus/ignore) around one or two ``FlameGraphWidget`` canvases.

Transforms (focus/ignore, invert, sandwich) make new immutable profiles; on big
profiles they run in a job (``JobRunner``) and a result is dropped if a newer request has
been made meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..capture.worker import Job
from ..errors import WorkbenchError
from ..model.frames import Frame
from ..model.profile import Profile
from .flame_colors import COLOR_DIFF, COLOR_PACKAGE, COLOR_RUNTIME
from .flamegraph import FLAME, ICICLE, FlameGraphWidget
from .jobs import JobRunner
from .label_controls import LabelControls
from .units import format_percent

MAX_CRUMBS = 6
SYNC_LIMIT = 20_000  # transforms of smaller profiles run inline: cheaper than a thread hop


@dataclass(frozen=True, slots=True)
class Transform:
    focus: str = ""
    ignore: str = ""
    invert: bool = False
    sandwich_frame: int = -1  # frame id, -1 = off
    hide_parked: bool = False  # wall profiles: drop goroutines/threads parked a long time
    tag_focus: str = ""  # pprof -tagfocus filter (KEY=REGEX), from the label controls
    group_label: str = ""  # a label key whose values become the root frames


def apply_transform(profile: Profile, t: Transform, job: Job[object] | None = None) -> tuple[Profile, Profile | None]:
    """(main, callees-or-None). With sandwich on, main = callers of the frame."""
    from ..analysis import filters, invert, sandwich

    p = profile
    if (t.tag_focus or t.group_label) and p.labels is not None:  # a window cut keeps no labels
        from ..analysis.labels import group_by_label, tag_filter

        p = tag_filter(p, [t.tag_focus] if t.tag_focus else None)
        if t.group_label:
            p = group_by_label(p, t.group_label)
    if t.focus:
        p = filters.focus(p, t.focus)
        if job is not None:
            job.check()
    if t.ignore:
        p = filters.ignore(p, t.ignore)
        if job is not None:
            job.check()
    if t.hide_parked:
        from ..analysis.waits import PARKED_PATTERN

        p = filters.filter_profile(p, ignore=PARKED_PATTERN).profile
        p.meta.pop(filters.WARNINGS_META, None)  # nothing parked is not worth a warning
    if t.sandwich_frame >= 0:
        return sandwich.callers(p, t.sandwich_frame), sandwich.callees(p, t.sandwich_frame)
    if t.invert:
        p = invert.invert(p)
    return p, None


def _scroller(canvas: FlameGraphWidget) -> QScrollArea:
    sa = QScrollArea()
    sa.setWidgetResizable(True)
    sa.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    sa.setWidget(canvas)
    sa.setFrameShape(QScrollArea.Shape.NoFrame)
    return sa


class FlameGraphView(QWidget):
    """A profile plus view settings; emits ``error`` (a WorkbenchError) for the banner."""

    error = Signal(object)
    transformed = Signal()
    frameSelected = Signal(object)  # Frame clicked in the flame graph, for the top table
    sourceRequested = Signal(object)  # Frame: "Show source" from a box's context menu

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source: Profile | None = None
        self.delta: np.ndarray | None = None
        self.transform = Transform()
        self.jobs = JobRunner(("transform",), self)
        self.jobs.error.connect(self.error.emit)
        self.canvas = FlameGraphWidget()
        self.callee_canvas = FlameGraphWidget()
        self.callee_canvas.set_orientation(ICICLE)

        # row 1: breadcrumb + match label
        self.crumbs = QHBoxLayout()
        self.crumbs.setSpacing(2)
        crumb_box = QWidget()
        crumb_box.setLayout(self.crumbs)
        # deep zooms make long breadcrumbs: they may be clipped, never widen the window
        crumb_box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.match_label = QLabel("")
        self.match_label.setObjectName("matchLabel")
        # row 2: controls
        self.search = QLineEdit()
        self.search.setPlaceholderText("search (regex)  Ctrl+F")
        self.search.setClearButtonEnabled(True)
        self.sample_type = QComboBox()
        self.sample_type.setToolTip("sample type")
        self.color_mode = QComboBox()
        for m in (COLOR_PACKAGE, COLOR_RUNTIME, COLOR_DIFF):
            self.color_mode.addItem(f"colour: {m}", m)
        self.orientation = QComboBox()
        self.orientation.addItem("flame", FLAME)
        self.orientation.addItem("icicle", ICICLE)
        self.sort = QComboBox()
        self.sort.addItem("order: name", False)
        self.sort.addItem("order: size", True)
        self.invert_box = QCheckBox("invert")
        self.sandwich_btn = QToolButton()
        self.sandwich_btn.setText("sandwich")
        self.sandwich_btn.setCheckable(True)
        self.sandwich_btn.setToolTip("callers above, callees below, of the last clicked or hovered function")
        self.focus_edit = QLineEdit()
        self.focus_edit.setPlaceholderText("focus regex")
        self.ignore_edit = QLineEdit()
        self.ignore_edit.setPlaceholderText("ignore regex")
        # one click to see request handlers' waits, not leaked or background goroutines/threads
        self.parked_box = QCheckBox("hide parked")
        self.parked_box.setToolTip(
            "wall profiles: hide goroutines waiting a minute or more and threads that used no CPU for a minute"
        )
        self.parked_box.setVisible(False)
        self.labels = LabelControls()
        self.labels.changed.connect(self._transform_changed)

        top = QHBoxLayout()
        top.addWidget(crumb_box, 1)
        top.addWidget(self.match_label)
        controls = QHBoxLayout()
        for w in (self.search, self.sample_type, self.color_mode, self.orientation, self.sort):
            controls.addWidget(w)
        controls.addWidget(self.invert_box)
        controls.addWidget(self.sandwich_btn)
        controls.addWidget(self.focus_edit)
        controls.addWidget(self.ignore_edit)
        controls.addWidget(self.parked_box)
        controls.addWidget(self.labels)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.main_area = _scroller(self.canvas)
        self._pin_root = True  # the view shows the root row; kept there while the profile grows
        root_bar = self.main_area.verticalScrollBar()
        root_bar.rangeChanged.connect(self._range_changed)
        root_bar.valueChanged.connect(self._scrolled)
        self.split.addWidget(self.main_area)
        self.callee_area = _scroller(self.callee_canvas)
        self.split.addWidget(self.callee_area)
        self.callee_area.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(controls)
        lay.addLayout(top)
        lay.addWidget(self.split, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)  # debounce typing
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._apply_search)
        self.sample_type.currentIndexChanged.connect(self._on_sample_type)
        self.color_mode.currentIndexChanged.connect(
            lambda _i: self._each_canvas(lambda c: c.set_color_mode(self.color_mode.currentData()))
        )
        self.orientation.currentIndexChanged.connect(
            lambda _i: self.canvas.set_orientation(self.orientation.currentData())
        )
        self.sort.currentIndexChanged.connect(
            lambda _i: self._each_canvas(lambda c: c.set_sort_by_size(bool(self.sort.currentData())))
        )
        self.invert_box.toggled.connect(lambda _b: self._transform_changed())
        self.parked_box.toggled.connect(lambda _b: self._transform_changed())
        self.sandwich_btn.toggled.connect(lambda _b: self._transform_changed())
        self.focus_edit.editingFinished.connect(self._transform_changed)
        self.ignore_edit.editingFinished.connect(self._transform_changed)
        self.canvas.zoomChanged.connect(self._update_crumbs)
        self.canvas.searchChanged.connect(self._on_match)
        self.canvas.nodeClicked.connect(self._remember_frame)
        QShortcut(QKeySequence.StandardKey.Find, self, self._focus_search)
        self.last_menu: QMenu | None = None
        for c in (self.canvas, self.callee_canvas):
            c.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            c.customContextMenuRequested.connect(lambda pos, c=c: self._box_menu(c, pos))

    # --------------------------------------------------------------- public
    def set_profile(self, profile: Profile | None, *, delta: np.ndarray | None = None, keep_zoom: bool = True) -> None:
        """Show a new (snapshot of a) profile; the zoom path and settings are kept."""
        first = self.source is None or profile is None or (self.source.sample_types != profile.sample_types)
        self.source = profile
        self.parked_box.setVisible(profile is not None and any(st.type == "wall" for st in profile.sample_types))
        self.labels.set_profile(profile)
        self.delta = delta
        if first:
            self.sample_type.blockSignals(True)
            self.sample_type.clear()
            if profile is not None:
                for st in profile.sample_types:
                    self.sample_type.addItem(f"{st.type} ({st.unit})")
                self.sample_type.setCurrentIndex(profile.default_sample_type)
            self.sample_type.blockSignals(False)
        if delta is not None:
            self.color_mode.setCurrentIndex(self.color_mode.findData(COLOR_DIFF))
        elif self.color_mode.currentData() == COLOR_DIFF:
            self.color_mode.setCurrentIndex(self.color_mode.findData(COLOR_PACKAGE))
        self._run_transform(keep_zoom=keep_zoom and not first)

    # ------------------------------------------------------------ public API
    @property
    def profile(self) -> Profile | None:
        """The profile drawn now (after focus/ignore/invert): what an export writes."""
        return self.canvas.profile

    @property
    def sample_index(self) -> int:
        return int(self.canvas.sample_index)

    def focus_on(self, pattern: str) -> None:
        """Focus (pprof's -focus) on functions matching the regex ``pattern``."""
        self.focus_edit.setText(pattern)
        self.focus_edit.editingFinished.emit()

    def save_png(self, path: str) -> bool:
        return bool(self.canvas.grab().save(path, "PNG"))

    def focus_frame(self, frame_id: int) -> None:
        """Zoom the flame graph to the heaviest node of ``frame_id`` (from the top table)."""
        p = self.canvas.profile
        if p is None:
            return
        nodes = np.flatnonzero(p.frame == frame_id)
        if not len(nodes):
            return
        tot = p.total_values()[nodes, self.canvas.sample_index]
        self._each_canvas(lambda c: c.set_selected_frame(p.frames[frame_id]))
        self.canvas.zoom_to_node(int(nodes[int(np.argmax(tot))]))

    def set_search_text(self, text: str) -> None:
        self.search.setText(text)
        self._apply_search()

    # -------------------------------------------------------------- private
    def _each_canvas(self, fn) -> None:
        fn(self.canvas)
        fn(self.callee_canvas)

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _on_sample_type(self, i: int) -> None:
        if i >= 0:
            self._each_canvas(lambda c: c.set_sample_index(i))

    def _apply_search(self) -> None:
        self._search_timer.stop()
        text = self.search.text()
        try:
            self._each_canvas(lambda c: c.set_search(text))
            self.search.setStyleSheet("")
        except re.error as exc:
            self.search.setStyleSheet("QLineEdit { border: 1px solid #d33; }")
            self.error.emit(WorkbenchError(f"search: bad regular expression: {exc}", "fix the pattern"))

    def _on_match(self, fraction: float) -> None:
        self.match_label.setText("" if fraction < 0 else f"matched: {format_percent(fraction)}")

    def _remember_frame(self, node: int) -> None:
        p = self.canvas.profile
        if p is not None and 0 < node < p.n_nodes:
            frame = p.frames[int(p.frame[node])]
            self._each_canvas(lambda c: c.set_selected_frame(frame))
            self.frameSelected.emit(frame)

    def _box_menu(self, canvas: FlameGraphWidget, pos: QPoint) -> None:
        """Right-click on a box: actions on its function."""
        p, node = canvas.profile, canvas.node_at(QPointF(pos))
        if p is None or not 0 < node < p.n_nodes:
            return
        frame = p.frames[int(p.frame[node])]
        menu = QMenu(self)
        menu.addAction("Show source").triggered.connect(lambda _c=False: self.sourceRequested.emit(frame))
        if frame.module == "label" and frame.function in self.labels.pairs():
            # a group-by-label root: narrow the view to that value
            menu.addAction(f"Focus on {frame.function}").triggered.connect(
                lambda _c=False: self.labels.choose_focus(frame.function)
            )
        self.last_menu = menu  # kept: a popup is not modal, and tests pick its actions
        menu.popup(canvas.mapToGlobal(pos))

    def select_frame(self, frame: Frame | None) -> None:
        """Outline ``frame``'s boxes (a row picked in the top table); the sandwich uses it too."""
        self._each_canvas(lambda c: c.set_selected_frame(frame))

    def _selected_frame_id(self) -> int:
        """The selected function's id in the shown profile, -1 if none (or not in it)."""
        p, frame = self.canvas.profile, self.canvas.selected_frame
        fid = None if p is None or frame is None else p.frames.find(frame)
        return -1 if fid is None else fid

    def _update_crumbs(self) -> None:
        while self.crumbs.count():
            item = self.crumbs.takeAt(0)
            w = item.widget()
            if w is not None:
                w.hide()  # deleteLater runs only when control returns to the event loop
                w.deleteLater()
        crumbs = self.canvas.breadcrumb()
        if len(crumbs) > MAX_CRUMBS:
            # all > … > the last few: the hidden middle is one click away on the "…" button
            hidden = crumbs[-MAX_CRUMBS]
            crumbs = [crumbs[0], (hidden[0], "…"), *crumbs[-MAX_CRUMBS + 1 :]]
        for i, (node, label) in enumerate(crumbs):
            b = QToolButton()
            b.setText((label if len(label) <= 40 else label[:39] + "…").replace("&", "&&"))  # & is a mnemonic
            b.setAutoRaise(True)
            b.setEnabled(i < len(crumbs) - 1)
            b.clicked.connect(lambda _c=False, n=node: self.canvas.zoom_to_node(n) if n else self.canvas.reset_zoom())
            self.crumbs.addWidget(b)
            if i < len(crumbs) - 1:
                self.crumbs.addWidget(QLabel(">"))
        self.crumbs.addStretch(1)

    def _current_transform(self) -> Transform:
        sandwich = -1
        if self.sandwich_btn.isChecked():
            sandwich = self._selected_frame_id()
            hov = self.canvas.hover_node
            p = self.canvas.profile
            if sandwich < 0 and p is not None and hov > 0:
                sandwich = int(p.frame[hov])
            if sandwich < 0:
                self.error.emit(
                    WorkbenchError("sandwich needs a function", "click a box first, then press sandwich again")
                )
                self.sandwich_btn.blockSignals(True)
                self.sandwich_btn.setChecked(False)
                self.sandwich_btn.blockSignals(False)
        return Transform(
            focus=self.focus_edit.text().strip(),
            ignore=self.ignore_edit.text().strip(),
            invert=self.invert_box.isChecked(),
            sandwich_frame=sandwich,
            hide_parked=not self.parked_box.isHidden() and self.parked_box.isChecked(),
            tag_focus=self.labels.focus_filter() if not self.labels.isHidden() else "",
            group_label=self.labels.group_key() if not self.labels.isHidden() else "",
        )

    def _transform_changed(self) -> None:
        t = self._current_transform()
        if t == self.transform:
            return
        self.transform = t
        self._run_transform(keep_zoom=False)

    def _run_transform(self, keep_zoom: bool) -> None:
        src = self.source
        t = self.transform
        plain = src is None or t == Transform()

        def fn(job: Job[Any]) -> tuple[Profile | None, Profile | None]:
            return (src, None) if plain or src is None else apply_transform(src, t, job)

        inline = plain or (src is not None and src.n_nodes <= SYNC_LIMIT)
        # whatever runs now supersedes a pending transform (an inline result included)
        self.jobs.submit("transform", fn, lambda res: self._show(res[0], res[1], keep_zoom), inline=inline)

    def _show(self, main: Profile | None, callee: Profile | None, keep_zoom: bool) -> None:
        delta = self.delta if self.transform == Transform() else None
        # a live profile grows taller as deeper stacks arrive: a view showing the root keeps it
        self._pin_root = not keep_zoom or self._at_root()
        self.canvas.set_profile(main, delta=delta, keep_zoom=keep_zoom)
        if callee is not None:
            self.canvas.set_orientation(FLAME)
            self.callee_canvas.set_profile(callee, keep_zoom=False)
            self.callee_area.show()
        else:
            self.canvas.set_orientation(self.orientation.currentData())
            self.callee_area.hide()
        if self._pin_root and self.canvas.orientation == FLAME:
            # a flame graph grows upwards from its root: start (and stay) scrolled to the bottom row
            QTimer.singleShot(0, self._scroll_to_root)
        self.transformed.emit()

    def _scroll_to_root(self) -> None:
        bar = self.main_area.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _at_root(self) -> bool:
        bar = self.main_area.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _range_changed(self, _lo: int, hi: int) -> None:
        """The canvas grew after a layout: a view pinned to the root follows it down."""
        if self._pin_root and self.canvas.orientation == FLAME:
            self.main_area.verticalScrollBar().setValue(hi)

    def _scrolled(self, _value: int) -> None:
        self._pin_root = self._at_root()  # the user scrolled away from the root, or back to it
