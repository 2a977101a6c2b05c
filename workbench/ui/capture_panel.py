"""Capture controls generated from each plugin's declared ``Option``s, start/stop and status.

Plugins come from the registry; one that fails to load is listed with its error instead
of its options. Everything about capturing is the ``CaptureController``'s (the same one
``record`` and ``leaks`` use): this widget shows its plan, asks consent, and runs its
blocking calls in jobs. Status is polled once a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..capture.api import (
    Action,
    CapturePlugin,
    Sink,
    Target,
    TargetKind,
    short_title,
)
from ..capture.controller import LEAKS, CaptureController, Plan, PlannedSource
from ..capture.registry import PluginEntry, PluginRegistry
from ..capture.triggers import SYNTAX, TriggerEngine, check_rules, parse_trigger
from ..capture.worker import Job
from ..errors import CaptureError, WorkbenchError
from ..model.session import Session
from ..model.units import format_percent, format_rate, format_seconds
from .jobs import JobRunner
from .option_editors import OptionsForm, widget_value
from .text import plain_tooltip


@dataclass
class PluginControls:
    entry: PluginEntry
    box: QGroupBox
    editors: dict[str, QWidget] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {k: widget_value(w) for k, w in self.editors.items()}


class CapturePanel(QWidget):
    """The capture controls over one ``CaptureController``; emits ``error`` for the banner and
    ``started``/``stopped`` for the window. Planning (runtime detection, locating a Go PID's
    listener), starting and stopping run in jobs; consent is asked here, on the GUI thread."""

    error = Signal(object)
    started = Signal()
    stopped = Signal()
    planned = Signal(object)  # the default Plan of a newly chosen target

    def __init__(self, registry: PluginRegistry, parent: QWidget | None = None, sink: Sink | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.controller = CaptureController(sink if sink is not None else _NoSink(), registry)
        self.target: Target | None = None
        self.runtime = ""
        self.default_plan: Plan | None = None
        self._user_chose = False
        self._epoch = 0  # bumped by Stop and Pause: a start planned before it does not start
        self.controls: dict[str, PluginControls] = {}
        # a newer target's plan supersedes an older one's; every start, stop and pause is wanted
        self.jobs = JobRunner(("plan-target",), self)
        self.jobs.error.connect(self._job_failed)
        self._reported: set[int] = set()  # handles whose error the banner already showed
        self.target_label = QLabel("target: none (pick a process or enter a URL)")
        self.target_label.setWordWrap(True)
        self.start_btn = QPushButton("Start")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        # Pause detaches every source (the target runs unprofiled) and Resume re-attaches the
        # same sources with the same options into the same session; both are marked on the timeline.
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setCheckable(True)
        self.pause_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        self.pause_btn.toggled.connect(self._pause_toggled)
        # Auto-capture: a rule in the trigger syntax (workbench.capture.triggers) runs a capture
        # of the next N seconds when a live series crosses a threshold.
        self.trigger_edit = QLineEdit()
        self.trigger_edit.setPlaceholderText("trigger, e.g. process.rss_bytes>200e6 for 5s -> cpu 10s")
        self.trigger_edit.setToolTip(plain_tooltip(SYNTAX))
        self.triggers: TriggerEngine | None = None
        self.status = QLabel("idle")
        self.status.setObjectName("captureStatus")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        btns = QHBoxLayout()
        btns.addWidget(self.start_btn)
        btns.addWidget(self.pause_btn)
        btns.addWidget(self.stop_btn)
        # one button per action a running source offers (a heap snapshot), shown while it runs
        self.actions_row = QHBoxLayout()
        self.action_btns: dict[tuple[str, str], QPushButton] = {}
        self.plugins_box = QVBoxLayout()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.target_label)
        lay.addLayout(self.plugins_box)
        lay.addWidget(self.trigger_edit)
        lay.addLayout(btns)
        lay.addLayout(self.actions_row)
        lay.addWidget(self.status)
        lay.addStretch(1)
        self._build()
        self._poll = QTimer(self)
        self._poll.setInterval(1000)
        self._poll.timeout.connect(self.poll_status)

    @property
    def sink(self) -> Sink:
        return self.controller.sink

    @sink.setter
    def sink(self, sink: Sink) -> None:
        """New captures go to ``sink`` (a session opened meanwhile); running ones keep theirs."""
        self.controller.sink = sink

    # ---------------------------------------------------------------- build
    def _build(self) -> None:
        for entry in self.registry.load_all():
            box = QGroupBox(entry.name)
            outer = QVBoxLayout(box)
            outer.setContentsMargins(6, 2, 6, 2)
            inner = QWidget()
            form = QFormLayout(inner)
            form.setContentsMargins(0, 0, 0, 0)
            outer.addWidget(inner)
            ctl = PluginControls(entry, box)
            plugin = entry.plugin
            if plugin is None or entry.error:
                err = QLabel(f"failed to load: {entry.error}\nfix: reinstall {entry.dist} ({entry.value})")
                err.setWordWrap(True)
                err.setTextFormat(Qt.TextFormat.PlainText)
                err.setStyleSheet("color: #b22;")
                form.addRow(err)
                box.setEnabled(True)
                box.setCheckable(False)
            else:
                # a group box is as wide as its title: the short part keeps the dock narrow,
                # the whole description is the tooltip
                box.setTitle(short_title(plugin))
                box.setToolTip(plain_tooltip(plugin.title or plugin.name))
                box.setCheckable(True)
                box.setChecked(False)
                box.clicked.connect(self._user_ticked)
                # options of an unticked source are noise: show them only when it is ticked
                inner.setVisible(False)
                box.toggled.connect(inner.setVisible)
                options = OptionsForm(plugin.options)
                ctl.editors = options.editors
                form.addRow(options)
            self.controls[entry.name] = ctl
            self.plugins_box.addWidget(box)

    def _user_ticked(self, _checked: bool = False) -> None:
        self._user_chose = True

    def plugin_status(self) -> list[tuple[str, bool, str]]:
        """(name, loaded ok, error) per discovered plugin, for selftest and the About box."""
        return [(c.entry.name, c.entry.ok, c.entry.error or "") for c in self.controls.values()]

    # ------------------------------------------------------------------ jobs
    def _submit(self, purpose: str, fn: Callable[[Job[Any]], Any], on_done: Callable[[Any], None]) -> Job[Any]:
        return self.jobs.submit(purpose, fn, on_done)

    def _job_failed(self, exc: WorkbenchError) -> None:
        self.error.emit(exc)
        self._reset_buttons()

    def busy(self) -> bool:
        return bool(self.jobs.busy())

    # --------------------------------------------------------------- target
    def set_target(self, target: Target) -> None:
        """Plan the target's default sources (DESIGN.md rule) off the GUI thread, then tick them."""
        self.target = target
        self.default_plan = None
        self.target_label.setText(f"target: {target.label()}")
        self.status.setText("looking at the target…")
        self._user_chose = False  # until the plan comes, ticks the user makes win over its defaults
        for ctl in self.controls.values():
            plugin = ctl.entry.plugin
            if plugin is not None and ctl.box.isCheckable():
                # a PID source may also locate what it reads (a Go PID's URL): the plan refines this
                ctl.box.setEnabled(target.kind in plugin.targets or target.kind is TargetKind.PID)
        controller = self.controller
        self._submit("plan-target", lambda job: controller.plan(target), self._planned)

    def _planned(self, plan: Plan) -> None:
        if self.target != plan.target:
            return
        self.default_plan = plan
        self.runtime = plan.runtime
        what = f"{plan.runtime} process" if plan.runtime else "service"
        if plan.container:
            what += f" in {plan.container}"
        served = f", served by PID {plan.served_by}" if plan.served_by else ""
        self.target_label.setText(f"target: {plan.target.label()} ({what}{served})")
        chosen = set(plan.names())
        for name, ctl in self.controls.items():
            plugin = ctl.entry.plugin
            if plugin is None or not ctl.box.isCheckable():
                continue
            usable = name in chosen or plugin.applies_to(plan.target, plan.runtime)
            ctl.box.setEnabled(usable)
            if not self._user_chose:
                ctl.box.setChecked(name in chosen)
        notes = "; ".join(plan.notes)
        self.status.setText(notes or "idle")
        self.planned.emit(plan)

    def select(self, names: list[str]) -> None:
        self._user_chose = True
        for name, ctl in self.controls.items():
            if ctl.box.isCheckable():
                ctl.box.setChecked(name in names)

    def ticked(self) -> list[str]:
        return [
            name
            for name, ctl in self.controls.items()
            if ctl.entry.plugin is not None and ctl.box.isCheckable() and ctl.box.isChecked() and ctl.box.isEnabled()
        ]

    # ---------------------------------------------------------- start / stop
    def start(self) -> None:
        """Start the ticked sources with their options (planned off the GUI thread)."""
        if self.target is None:
            self.error.emit(CaptureError("no target chosen", "pick a process from the list or enter a pprof URL"))
            return
        names = self.ticked()
        if not names:
            self.error.emit(CaptureError("no capture source selected", "tick at least one source above"))
            return
        per_source = {n: self.controls[n].values() for n in names}
        rule_text = self.trigger_edit.text().strip()
        try:
            rules = [parse_trigger(rule_text)] if rule_text else []
        except WorkbenchError as exc:
            self.error.emit(exc)
            return
        target, controller = self.target, self.controller
        self.start_btn.setEnabled(False)
        self.status.setText("starting…")
        epoch = self._epoch
        self._submit(
            "plan",
            lambda job: controller.plan(target, names, per_source=per_source),
            lambda p: self._go(p, rules) if epoch == self._epoch else self._reset_buttons(),
        )

    def watch_leaks(self) -> None:
        """Add the leak engine's sources (the plan ``workbench leaks`` runs) to the capture of the
        chosen target: evidence sources ask consent, the first that starts is kept."""
        if self.target is None:
            self.error.emit(CaptureError("no target chosen", "pick a process or enter a URL, then watch for leaks"))
            return
        target, controller = self.target, self.controller

        def plan(job: Job[Any]) -> Plan:
            p = controller.plan(target, purpose=LEAKS)
            running = {(src.name, src.target) for src, _h in controller.running()}
            p.sources = [s for s in p.sources if (s.name, s.target) not in running]
            return p

        self.status.setText("planning the leak watch…")
        epoch = self._epoch
        self._submit("plan", plan, lambda p: self.start_plan(p, first_only=True) if epoch == self._epoch else None)

    def start_plan(self, plan: Plan, first_only: bool = False) -> None:
        """Start a plan made elsewhere (the leak watch's): consent here, the rest in a job."""
        self._go(plan, [], first_only)

    def _go(self, plan: Plan, rules: list[Any], first_only: bool = False) -> None:
        for exc in self.controller.ask_consent(plan, self.ask_consent):
            self.error.emit(exc)
        if not plan.sources:
            self._reset_buttons()
            self.status.setText("idle")
            return
        if rules:
            try:
                check_rules(self.controller, plan, rules)
            except WorkbenchError as exc:
                self.error.emit(exc)
                self._reset_buttons()
                return
            self._stop_triggers()
            session = self.sink
            if isinstance(session, Session):
                self.triggers = TriggerEngine(
                    session, rules, self.controller.kind_starter(plan), target=plan.target.label()
                ).start()
        controller = self.controller
        self._submit("start", lambda job: controller.start(plan, first_only=first_only), self._started)

    def _started(self, errors: list[WorkbenchError]) -> None:
        for e in errors:
            self.error.emit(e)
        if self.controller.running():
            self._poll.start()
            self.started.emit()
        self._reset_buttons()
        self.poll_status()

    def ask_consent(self, plugin: CapturePlugin, target: Target, text: str = "") -> bool:
        """Ask the user (modal on purpose: consent must be an explicit act, never a default)."""
        answer = QMessageBox.question(
            self,
            f"Allow {plugin.name}?",
            text or f"{plugin.name} will change {target.label()}.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_btn.setText("Resume" if paused else "Pause")
        controller = self.controller
        if paused:
            self._epoch += 1  # a start still planning is dropped: Resume re-attaches what ran
            self.status.setText("paused: the target runs unprofiled; Resume re-attaches")
            self._submit("pause", lambda job: controller.pause(), self._stopped)
        else:
            self.status.setText("resuming…")
            self._submit("resume", lambda job: controller.resume(), self._started)
        self._reset_buttons()

    def _stop_triggers(self) -> None:
        engine, self.triggers = self.triggers, None
        if engine is not None:
            # stopping waits for a triggered capture to end: never on the GUI thread
            Job(lambda job: engine.stop(), name="triggers-stop").start()

    def stop(self) -> None:
        """Stop every source; a start still attaching stops what it attaches (the controller),
        and one still planning never starts."""
        self._epoch += 1
        self._stop_triggers()
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(False)
        self.pause_btn.setText("Pause")
        self.pause_btn.blockSignals(False)
        self.status.setText("stopping…")
        controller = self.controller
        self._submit("stop", lambda job: controller.stop(), self._stopped)
        self._reset_buttons(stopping=True)

    def _stopped(self, errors: list[WorkbenchError]) -> None:
        for e in errors:
            self.error.emit(e)
        self.stopped.emit()
        if not self.controller.running():
            self._poll.stop()
        self._reset_buttons()
        self.poll_status()

    def stop_all_blocking(self, timeout: float = 10.0) -> None:
        """On quit: stop every capture and wait (bounded) so no child process outlives us."""
        if self.triggers is not None:
            self.triggers.stop(timeout)
            self.triggers = None
        self.controller.shutdown(timeout)
        self._poll.stop()

    def _reset_buttons(self, stopping: bool = False) -> None:
        paused = self.pause_btn.isChecked()
        active = bool(self.controller.running()) or self.controller.starting
        self.start_btn.setEnabled(not paused and not stopping)
        self.stop_btn.setEnabled((active or paused) and not stopping)
        self.pause_btn.setEnabled((active or paused) and not stopping)
        self._update_actions()

    def _update_actions(self) -> None:
        wanted = {(source, a.name): a for source, a in self.controller.actions()}
        for key in [k for k in self.action_btns if k not in wanted]:
            self.action_btns.pop(key).deleteLater()
        for (source, name), a in wanted.items():
            if (source, name) in self.action_btns:
                continue
            btn = QPushButton(f"{a.label} ({source})")
            btn.setToolTip(plain_tooltip(a.help) if a.help else "")
            btn.clicked.connect(lambda _c=False, source=source, a=a: self._run_action(source, a))
            self.actions_row.addWidget(btn)
            self.action_btns[(source, name)] = btn

    def _run_action(self, source: str, a: Action) -> None:
        # the handle is looked up at the click: a button outlives a pause and resume of its source
        try:
            self.controller.run_action(source, a.name)
        except WorkbenchError as exc:
            self.error.emit(exc)

    @property
    def running(self) -> list[PlannedSource]:
        """The sources capturing now."""
        return [src for src, _h in self.controller.running()]

    def poll_status(self) -> None:
        statuses = self.controller.statuses()
        if not statuses:
            if not self.busy() and not self.pause_btn.isChecked():
                self.status.setText("idle")
            return
        lines = []
        for src, st in statuses:
            elapsed = time.time() - st.started if st.started else 0.0
            cov = f", coverage {format_percent(st.coverage, 0)}" if st.coverage is not None else ""
            state = "running" if st.running else "ended"
            where = f" @ {src.target.value}" if src.target != self.target else ""
            lines.append(
                f"{src.name}{where}: {state}, {format_seconds(elapsed)}, "
                f"{format_rate(st.samples_per_s, 'samples', per='s', signed=False)}{cov}, "
                f"dropped batches {st.dropped_batches}" + (f" - {st.message}" if st.message else "")
            )
            if st.error is not None and id(st.error) not in self._reported:
                self._reported.add(id(st.error))
                del_count = len(self._reported) - 256
                if del_count > 0:  # bounded: only recent errors matter for de-duplication
                    self._reported = set(list(self._reported)[del_count:])
                self.error.emit(st.error)
        self.status.setText("\n".join(lines))
        if self.controller.prune_ended() and not self.controller.running():
            self._poll.stop()
            self._reset_buttons()
            self.stopped.emit()


class _NoSink:
    """Until the window hands the panel its session."""

    def put(self, batch: Any) -> None:
        raise CaptureError("no session to capture into", "open a window first")
