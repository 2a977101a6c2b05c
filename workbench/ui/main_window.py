"""The main window: target picker and capture controls (left), flame graph / top functions /
leaks (centre), timeline (bottom), error banner (top), File menu.

Views refresh from the Session on a throttled timer, and only when ``session.version``
changed; file I/O, cuts of big profiles and capture start/stop run in Jobs whose stale
results are dropped (``LatestOnly``).
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..capture.registry import PluginRegistry, default_registry
from ..capture.worker import Job
from ..errors import FormatError, WorkbenchError
from ..model.findings import Finding
from ..model.frames import Frame
from ..model.keys import GOROUTINE, HEAP, ProfileKey
from ..model.profile import Profile
from ..model.session import Session
from ..model.units import format_seconds
from .banner import ErrorBanner
from .capture_panel import CapturePanel
from .flame_chart import FlameChartView
from .flame_view import FlameGraphView
from .gui_gc import collect_on_gui_thread
from .leak_panel import LeakPanel
from .services_view import ServicesView
from .session_controller import SessionController
from .source_view import SourceView
from .targets import TargetPicker
from .timeline import TimelineView
from .top_table import TopFunctionsView

REFRESH_MS = 333  # ~3 Hz: live enough, and a refresh costs little when nothing changed
SLOW_REFRESH_S = 0.05
REFRESH_BACKOFF = 5.0  # after a slow refresh, wait 5x its cost: at most ~20 % of the GUI thread
SYNC_CUT_NODES = 20_000  # cutting smaller profiles inline is cheaper than a thread hop
MAX_RECENT_FILES = 10
OPEN_FILTER = (
    "Profiles (*.collapsed *.folded *.txt *.json *.speedscope.json *.pb.gz *.pprof *.pb *.wbs *.bin *.memray "
    "*.cpuprofile *.heapprofile *.heapsnapshot);;"
    "All files (*)"
)
EXPORT_FILTER = (
    "SVG flame graph (*.svg);;speedscope (*.speedscope.json);;pprof (*.pb.gz);;collapsed stacks (*.collapsed);;"
    "PNG image of the flame graph (*.png);;CSV of the visible series (*.csv)"
)


class MainWindow(QMainWindow):
    def __init__(
        self,
        session: Session | None = None,
        registry: PluginRegistry | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        collect_on_gui_thread()  # no cyclic GC in capture threads: it can deadlock with Qt
        self.setWindowTitle("Profiling Workbench")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("profiling-workbench", "workbench")
        self.registry = registry or default_registry()
        self.session = session or Session()
        self._seen_version = -1
        self._next_refresh = 0.0
        self._shown_key: tuple[object, ...] = ()
        self.time_window: tuple[float, float] | None = None
        self.current: Profile | None = None  # the profile the views show (after any cut)
        self.diff_active = False  # a diff is on screen: live updates must not replace it
        # open, save, export, diff and leak judging: the session's work, apart from the layout
        self.docs = SessionController(self.session, self)
        self.jobs = self.docs.jobs
        self.docs.error.connect(self.show_error)
        self.jobs.busyChanged.connect(self._update_busy)
        self.docs.sessionReplaced.connect(self._session_replaced)
        self.docs.profilesOpened.connect(self._profiles_opened)
        self.docs.fileUsed.connect(self._remember_file)
        self.docs.diffReady.connect(self._present_diff)
        self.docs.verdictsJudged.connect(self._judged)

        # centre
        self.banner = ErrorBanner()
        self.profile_combo = QComboBox()
        self.profile_combo.setMinimumWidth(280)
        self.profile_combo.currentIndexChanged.connect(lambda _i: self._show_current(force=True))
        self.window_label = QLabel("")
        self.flame = FlameGraphView()
        self.flame.error.connect(self.show_error)
        self.top = TopFunctionsView()
        self.top.frameActivated.connect(self._focus_from_top)
        self.top.frameSelected.connect(self.flame.select_frame)
        self.flame.frameSelected.connect(self.top.select_frame)
        self.leaks = LeakPanel()
        self.source_view = SourceView(self.settings)
        self.flame.sourceRequested.connect(self.show_source)
        self.top.sourceRequested.connect(self.show_source)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.flame, "Flame graph")
        # time order, linked to the timeline's brush both ways (flame_chart.py)
        self.chart = FlameChartView()
        self.tabs.addTab(self.chart, "Flame chart")
        self.tabs.addTab(self.top, "Top functions")
        self.tabs.addTab(self.source_view, "Source")
        self.tabs.addTab(self.leaks, "Leaks")
        self.leaks.show_stack.connect(self.show_filling_stack)
        self.tabs.currentChanged.connect(lambda _i: self._update_top())
        self.tabs.currentChanged.connect(lambda _i: self._update_source())
        self.timeline = TimelineView()
        self.timeline.rangeSelected.connect(self.set_window)
        self.timeline.rangeCleared.connect(lambda: self.set_window(None, None))
        self.chart.rangeRequested.connect(self.timeline.set_range)
        self.chart.wholeRequested.connect(lambda: self.timeline.brush_box.setChecked(False))
        row = QHBoxLayout()
        row.addWidget(QLabel("profile:"))
        row.addWidget(self.profile_combo)
        row.addWidget(self.window_label, 1)
        self.watch_leaks_btn = QPushButton("Watch for leaks")
        self.watch_leaks_btn.setToolTip(
            "add the sources `workbench leaks` runs for this target (heap and goroutine snapshots, "
            "the Python runtime agent's census with your consent): the Leaks tab then judges them"
        )
        row.addWidget(self.watch_leaks_btn)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(4, 4, 4, 0)
        cl.addWidget(self.banner)
        cl.addLayout(row)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(self.timeline)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([560, 340])
        self.timeline.setMinimumHeight(220)
        cl.addWidget(split, 1)
        self.setCentralWidget(centre)

        # left: targets and capture
        self.picker = TargetPicker(self.settings)
        self.capture = CapturePanel(self.registry)
        self.capture.sink = self.session
        self.capture.error.connect(self.show_error)
        self.watch_leaks_btn.clicked.connect(self.capture.watch_leaks)
        self.picker.targetChosen.connect(self.capture.set_target)
        # the services a Prometheus server scrapes: a click attaches (the picker chooses its URL)
        self.services = ServicesView(self.capture.controller)
        self.services.attach.connect(self.picker.choose)
        self.services.chart.connect(self.capture.start_plan)
        self.services.error.connect(self.show_error)
        self.tabs.addTab(self.services, "Services")
        capture_scroll = QScrollArea()
        capture_scroll.setWidgetResizable(True)
        capture_scroll.setWidget(self.capture)
        capture_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        capture_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.picker)
        left.addWidget(capture_scroll)
        dock = QDockWidget("Target and capture")
        dock.setObjectName("captureDock")
        dock.setWidget(left)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        left.setMinimumWidth(300)
        left.setMaximumWidth(420)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resizeDocks([dock], [380], Qt.Orientation.Horizontal)  # room for the picker's columns

        # long work shows in the status bar with a cancel button
        self.busy_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: readers do not report progress
        self.busy_bar.setMaximumWidth(160)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.cancel_jobs)
        for w in (self.busy_label, self.busy_bar, self.cancel_btn):
            self.statusBar().addPermanentWidget(w)
            w.hide()

        self._build_menu()
        self.timeline.set_session(self.session)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # ------------------------------------------------------------------ menu
    def _build_menu(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&Open…", self._open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self._action(m, "&Save session…", self._save_dialog, QKeySequence.StandardKey.Save)
        self._action(m, "&Export current view…", self._export_dialog, "Ctrl+E")
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        v = self.menuBar().addMenu("&View")
        self._action(v, "Diff: selected window vs the window before it", self.diff_window_before)
        self._action(v, "Diff against another profile of the session", self.diff_against_other)
        self._action(v, "Diff against a file…", self._diff_file_dialog)
        self._action(v, "Clear diff", lambda: self._show_current(force=True))
        h = self.menuBar().addMenu("&Help")
        self._action(h, "&About Profiling Workbench", self.show_about)
        self._refresh_recent_menu()

    def about_text(self) -> str:
        """Version (from the package metadata, i.e. pyproject), runtimes and plugin status."""
        import platform

        import PySide6

        from .. import __version__

        lines = [
            f"Profiling Workbench {__version__}",
            f"Python {platform.python_version()}, Qt {PySide6.QtCore.qVersion()}, PySide6 {PySide6.__version__}",
            "",
            "Capture sources:",
        ]
        for name, ok, err in self.capture.plugin_status():
            lines.append(f"  {name}: {'loaded' if ok else 'failed: ' + err}")
        return "\n".join(lines)

    def show_about(self) -> None:
        QMessageBox.about(self, "About Profiling Workbench", self.about_text())

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        a.triggered.connect(lambda _c=False: slot())
        menu.addAction(a)
        return a

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            self._action(self.recent_menu, path, lambda p=path: self.open_files([p]))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def recent_files(self) -> list[str]:
        raw = self.settings.value("recent_files", [])
        return [str(x) for x in (raw if isinstance(raw, list) else [raw] if raw else [])]

    def _remember_file(self, path: str) -> None:
        items = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent_files", items[:MAX_RECENT_FILES])
        self._refresh_recent_menu()

    # ---------------------------------------------------------------- errors
    def show_error(self, exc: BaseException) -> None:
        self.banner.show_error(exc)

    # --------------------------------------------------------------- refresh
    def refresh(self) -> None:
        """Timer tick: update views only if the session changed since the last tick.

        A refresh of a huge live profile (snapshot copy + layout) can take a while; the next
        one then waits ``REFRESH_BACKOFF`` times as long, so refreshing never eats the GUI thread.
        """
        s = self.session
        if s.version == self._seen_version or time.monotonic() < self._next_refresh:
            return
        started = time.monotonic()
        try:
            self._refresh(s)
        finally:
            cost = time.monotonic() - started
            self._next_refresh = started + cost * REFRESH_BACKOFF if cost > SLOW_REFRESH_S else 0.0

    def _refresh(self, s: Session) -> None:
        self._seen_version = s.version
        keys = s.profile_keys()
        have = [self.profile_combo.itemText(i) for i in range(self.profile_combo.count())]
        if keys != have:
            cur = self.profile_combo.currentText()
            self.profile_combo.blockSignals(True)
            self.profile_combo.clear()
            self.profile_combo.addItems(keys)
            if cur in keys:
                self.profile_combo.setCurrentText(cur)
            self.profile_combo.blockSignals(False)
        findings, stored = self.docs.findings()
        self.leaks.set_findings(findings)
        if stored and not any(self.docs.verdicts):
            # a reopened session: its stored verdicts, until live data judges anew
            self.leaks.set_verdicts([f for f in stored if f.suspect], [f for f in stored if not f.suspect])
        self.docs.judge_leaks()
        self.timeline.refresh()
        self._show_current()

    def _show_current(self, force: bool = False) -> None:
        if self.diff_active and not force:
            return
        self.diff_active = False
        key = self.profile_combo.currentText()
        s = self.session
        with s.lock():
            live = s.profiles.get(key)
            version = live.version if live is not None else -1
        shown_key = (id(s), key, version, self.time_window)
        if not force and shown_key == self._shown_key:
            return
        self._shown_key = shown_key
        # an opened file never changes: show it without a snapshot copy (1M nodes cost ~0.5 s)
        static = live is not None and s.key_of(key).source == ProfileKey.for_file("").source
        snap = live if static else s.snapshot_profile(key) if key else None
        self.chart.set_profile(snap)  # uncut: the chart shows the window within the whole
        if snap is None:
            self._present(None)
            return
        win = self.time_window
        if win is None:
            self._present(snap)
            return
        self._submit("cut", lambda job: snap.cut(*win), self._present, inline=snap.n_nodes <= SYNC_CUT_NODES)

    def _present(self, profile: Profile | None, delta: np.ndarray | None = None) -> None:
        self.current = profile
        self.flame.set_profile(profile, delta=delta)
        self._update_top()
        self._update_source()

    def show_source(self, frame: Frame) -> None:
        """The Source tab with ``frame``'s function, its hottest line highlighted."""
        try:
            self.source_view.show_frame(self.current, frame, self.flame.sample_index)
        except WorkbenchError as exc:
            self.show_error(exc)
        self.tabs.setCurrentWidget(self.source_view)

    def _update_source(self) -> None:
        """A live capture or a new window: the shown function's listing follows the profile."""
        sv = self.source_view
        if self.tabs.currentWidget() is sv and sv.frame is not None and sv.profile is not self.current:
            try:
                sv.set_profile(self.current)
            except WorkbenchError as exc:
                self.show_error(exc)

    def _update_top(self) -> None:
        if self.tabs.currentWidget() is self.top:
            try:
                self.top.set_profile(self.current, self.flame.sample_index)
            except WorkbenchError as exc:
                self.show_error(exc)

    def _focus_from_top(self, frame_id: int) -> None:
        self.tabs.setCurrentWidget(self.flame)
        self.flame.focus_frame(frame_id)

    def set_window(self, t0: float | None, t1: float | None) -> None:
        """Cut the flame graph to [t0, t1) (the timeline brush), or back to everything."""
        self.time_window = None if t0 is None or t1 is None else (min(t0, t1), max(t0, t1))
        if self.time_window is None:
            self.window_label.setText("")
        else:
            self.window_label.setText(
                f"window: {format_seconds(self.time_window[1] - self.time_window[0])} selected on the timeline"
            )
        self.chart.set_window(self.time_window)
        self._show_current(force=True)

    # ---------------------------------------------------------------- jobs
    def _submit(self, purpose: str, fn, on_done, inline: bool = False) -> Job[Any]:
        return self.jobs.submit(purpose, fn, on_done, inline=inline)

    def _update_busy(self, names: list[str]) -> None:
        on = bool(names)
        self.busy_label.setText(", ".join(names) + "…" if on else "")
        for w in (self.busy_label, self.busy_bar, self.cancel_btn):
            w.setVisible(on)

    def cancel_jobs(self) -> None:
        """Cancel every pending job: its result, when it comes, is dropped."""
        self.jobs.cancel_all()

    def busy(self) -> bool:
        return bool(self.jobs.busy()) or self.capture.busy()

    # ------------------------------------------------------------ open/save
    def _open_dialog(self) -> None:
        paths, _f = QFileDialog.getOpenFileNames(self, "Open profile or session", "", OPEN_FILTER)
        if paths:
            self.open_files(paths)

    def open_files(self, paths: list[str]) -> None:
        self.docs.open_files(paths)

    def _profiles_opened(self, first: str) -> None:
        self._next_refresh = 0.0  # the user asked for this: no backoff
        self.refresh()
        self.profile_combo.setCurrentText(first)
        self.banner.hide()

    def _judged(self, suspects: list[Finding], checked: list[Finding]) -> None:
        self.leaks.set_verdicts(suspects, checked)

    def store_verdicts(self) -> None:
        self.docs.store_verdicts()

    def show_filling_stack(self, finding: Finding) -> None:
        """Flame graph of the profile that holds the finding's site, focused on the filling code."""
        func = (finding.where or finding.name).split(" (", 1)[0]
        if not finding.stack:
            self.show_error(WorkbenchError(f"{finding.name}: no filling stack", _why_no_stack(finding)))
            return
        keys = self.session.profile_keys()
        prefer = GOROUTINE if finding.kind == "goroutines" else HEAP
        ordered = sorted(keys, key=lambda k: self.session.key_of(k).kind != prefer)
        if not ordered:
            self.show_error(WorkbenchError(
                f"{finding.name}: filled by {finding.where or finding.stack[-1]}",
                "this session has no profile to show it in; its whole stack is in the Leaks tab's details pane",
            ))  # fmt: skip
            return
        self.profile_combo.setCurrentText(ordered[0])
        self.flame.focus_on(re.escape(func))
        self.tabs.setCurrentWidget(self.flame)

    def set_session(self, session: Session) -> None:
        """Show another session (an opened .wbs); running captures keep feeding the old one."""
        self.docs.set_session(session)

    def _session_replaced(self, session: Session) -> None:
        self.session = session
        self.capture.sink = session
        self._seen_version = -1
        self._next_refresh = 0.0
        self.timeline.set_session(session)
        self.profile_combo.clear()
        self.refresh()

    def _save_dialog(self) -> None:
        path, _f = QFileDialog.getSaveFileName(self, "Save session", "session.wbs", "Workbench session (*.wbs)")
        if path:
            self.save_session(path)

    def save_session(self, path: str) -> Job[Any]:
        return self.docs.save(path)

    # ---------------------------------------------------------------- export
    def _export_dialog(self) -> None:
        path, _f = QFileDialog.getSaveFileName(self, "Export current view", "", EXPORT_FILTER)
        if path:
            self.export(path)

    def export(self, path: str) -> Job[Any] | None:
        """Export what is shown: PNG of the flame graph, CSV of the series, or the profile by extension."""
        low = path.lower()
        if low.endswith(".png"):
            if not self.flame.save_png(path):
                self.show_error(FormatError("cannot write the image", "check the directory is writable", path=path))
            return None
        if low.endswith(".csv"):
            try:
                self.timeline.export_csv(path)
            except OSError as exc:
                self.show_error(FormatError(f"cannot write: {exc.strerror}", "check the directory", path=path))
            return None
        prof = self.flame.profile
        if prof is None:
            self.show_error(WorkbenchError("nothing to export", "open a profile or start a capture first"))
            return None
        return self.docs.export_profile(prof, path, self.flame.sample_index)

    # ------------------------------------------------------------------ diff
    def show_diff(self, base: Profile, new: Profile) -> Job[Any]:
        """Colour the union tree by the normalised change from ``base`` to ``new``."""
        return self.docs.diff(base, new, self.flame.sample_index)

    def _present_diff(self, profile: Profile, delta: np.ndarray) -> None:
        self.diff_active = True
        self._present(profile, delta=delta)

    def diff_window_before(self) -> None:
        key = self.profile_combo.currentText()
        snap = self.session.snapshot_profile(key) if key else None
        if snap is None or self.time_window is None:
            self.show_error(WorkbenchError("no window selected", "tick 'select range' on the timeline first"))
            return
        t0, t1 = self.time_window
        self.show_diff(snap.cut(t0 - (t1 - t0), t0), snap.cut(t0, t1))

    def diff_against_other(self) -> None:
        keys = self.session.profile_keys()
        cur = self.profile_combo.currentText()
        others = [k for k in keys if k != cur]
        if not others or self.current is None:
            self.show_error(WorkbenchError("no other profile to compare with", "open a second file or capture"))
            return
        base = self.session.snapshot_profile(others[-1])
        if base is not None:
            self.show_diff(base, self.current)

    def _diff_file_dialog(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, "Diff against (base)", "", OPEN_FILTER)
        if path and self.current is not None:
            self.docs.diff_file(path, self.current, self.flame.sample_index)

    # ----------------------------------------------------------- drag & drop
    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.open_files(paths)

    # ------------------------------------------------------------- lifecycle
    def closeEvent(self, ev) -> None:
        self.timer.stop()
        self.capture.stop_all_blocking()
        super().closeEvent(ev)


def _why_no_stack(finding: Finding) -> str:
    """Why a finding has no filling stack, in words that are true for where it came from."""
    if finding.kind == "pool":
        return "a pool finding is about saturation (connections in use), not growth: no code fills it"
    if finding.kind == "goroutines" and not finding.where:
        return "it is the process's total goroutine count; the goroutine profile's per-stack suspects name the code"
    if finding.unit == "items" or finding.where == finding.name:
        return (
            "the runtime agent turns tracemalloc on for a few seconds when a container grows and has not caught "
            "its new entries yet (ints and interned strings carry no trace); the fill site comes at a later census"
        )
    return "the source that reported it records no stack"
