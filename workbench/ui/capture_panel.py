"""Capture controls generated from each plugin's declared ``Option``s, start/stop and status.

Plugins come from ``default_registry()``; one that fails to load is listed with its
error instead of its options. Starting and stopping run in Jobs (a plugin may spawn
a process or flush a file), and status is polled from ``CaptureHandle.status()``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..capture.api import (
    Action,
    CaptureHandle,
    CapturePlugin,
    Option,
    Sink,
    Target,
    plugin_actions,
    resolve_options,
    run_action,
)
from ..capture.registry import PluginEntry, PluginRegistry
from ..capture.triggers import SYNTAX, TriggerEngine, check_starter_target, parse_trigger, registry_starter
from ..capture.worker import Job
from ..errors import CaptureError, ConsentRequired, WorkbenchError
from ..model.session import EventBatch, Session
from .jobs import JobRelay
from .text import plain_tooltip


def option_widget(opt: Option) -> QWidget:
    """The editor for one declared option, initialised to its default."""
    if opt.type is bool:
        w: QWidget = QCheckBox()
        w.setChecked(bool(opt.default))
    elif opt.choices:
        w = QComboBox()
        w.addItems(list(opt.choices))
        if opt.default in opt.choices:
            w.setCurrentText(str(opt.default))
    elif opt.type is int:
        w = QSpinBox()
        w.setRange(0, 1_000_000)
        w.setValue(int(opt.default or 0))
    elif opt.type is float:
        w = QDoubleSpinBox()
        w.setRange(0.0, 1e9)
        w.setDecimals(2)
        w.setValue(float(opt.default or 0.0))
    else:
        w = QLineEdit("" if opt.default is None else str(opt.default))
    w.setToolTip(plain_tooltip(opt.help) if opt.help else "")
    return w


def widget_value(w: QWidget) -> Any:
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QSpinBox | QDoubleSpinBox):
        return w.value()
    if isinstance(w, QLineEdit):
        return w.text() or None
    return None


@dataclass
class PluginControls:
    entry: PluginEntry
    box: QGroupBox
    editors: dict[str, QWidget] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {k: widget_value(w) for k, w in self.editors.items()}


@dataclass
class Running:
    name: str
    handle: CaptureHandle
    started: float
    reported_error: bool = False


class CapturePanel(QWidget):
    """Emits ``error`` for the banner and ``started``/``stopped`` for the window."""

    error = Signal(object)
    started = Signal()
    stopped = Signal()

    def __init__(self, registry: PluginRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.sink: Sink | None = None
        self.target: Target | None = None
        self.controls: dict[str, PluginControls] = {}
        self.running: list[Running] = []
        self._pending: Job[Any] | None = None
        # a start still in flight when Stop or Pause is pressed: its captures, when they come,
        # are stopped at once instead of joining self.running (else the stop would be lost)
        self._starting: Job[Any] | None = None
        self._abandoned: set[Job[Any]] = set()
        self._relay = JobRelay()
        self._relay.done.connect(self._on_job)
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
        self._last: tuple[Target, Sink, list[tuple[CapturePlugin, dict[str, Any]]]] | None = None
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)
        self.pause_btn.toggled.connect(self._pause_toggled)
        # Auto-capture: a rule in the trigger syntax (workbench.capture.triggers) runs a CPU or
        # heap capture of the next N seconds when a live series crosses a threshold.
        self.trigger_edit = QLineEdit()
        self.trigger_edit.setPlaceholderText("trigger, e.g. process.rss_bytes>200e6 for 5s -> cpu 10s")
        self.trigger_edit.setToolTip(plain_tooltip(SYNTAX))
        self.triggers: Any = None
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
                title = getattr(plugin, "title", "") or entry.name
                # a group box is as wide as its title: the short part keeps the dock narrow,
                # the whole description is the tooltip
                short = re.split(r" \(|: ", title, maxsplit=1)[0]
                box.setTitle(short if short == entry.name else f"{short} ({entry.name})")
                box.setToolTip(plain_tooltip(title))
                box.setCheckable(True)
                box.setChecked(False)
                # options of an unticked source are noise: show them only when it is ticked
                inner.setVisible(False)
                box.toggled.connect(inner.setVisible)
                for opt in plugin.options:
                    w = option_widget(opt)
                    ctl.editors[opt.name] = w
                    form.addRow(opt.name, w)
            self.controls[entry.name] = ctl
            self.plugins_box.addWidget(box)

    def plugin_status(self) -> list[tuple[str, bool, str]]:
        """(name, loaded ok, error) per discovered plugin, for selftest and the About box."""
        return [(c.entry.name, c.entry.ok, c.entry.error or "") for c in self.controls.values()]

    # --------------------------------------------------------------- target
    def set_target(self, target: Target) -> None:
        self.target = target
        self.target_label.setText(f"target: {target.label()}")
        for name, ctl in self.controls.items():
            plugin = ctl.entry.plugin
            applicable = plugin is not None and target.kind in plugin.targets
            if ctl.box.isCheckable():
                ctl.box.setEnabled(applicable)
                # sensible defaults: py-spy + process stats for a PID, pprof for a URL
                ctl.box.setChecked(applicable and name in ("pyspy", "procstats", "pprof"))

    def select(self, names: list[str]) -> None:
        for name, ctl in self.controls.items():
            if ctl.box.isCheckable():
                ctl.box.setChecked(name in names)

    # ---------------------------------------------------------- start / stop
    def start(self) -> None:
        if self.target is None or self.sink is None:
            self.error.emit(CaptureError("no target chosen", "pick a process from the list or enter a pprof URL"))
            return
        chosen: list[tuple[CapturePlugin, dict[str, Any]]] = []
        declined = False
        try:
            for ctl in self.controls.values():
                plugin = ctl.entry.plugin
                if plugin is None or not ctl.box.isCheckable() or not ctl.box.isChecked() or not ctl.box.isEnabled():
                    continue
                opts = resolve_options(plugin, ctl.values())
                if getattr(plugin, "needs_consent", False) and not opts.get("yes"):
                    # a plugin that changes the target (injects code) runs only after an explicit yes
                    if not self.ask_consent(plugin, self.target):
                        declined = True
                        self.error.emit(
                            ConsentRequired(f"{plugin.name}: not started without consent", "press Start and answer Yes")
                        )
                        continue
                    opts["yes"] = True
                if "label" in opts and not opts["label"] and self.target.kind.value == "url":
                    opts["label"] = self._auto_label(self.target)
                chosen.append((plugin, opts))
        except WorkbenchError as exc:
            self.error.emit(exc)
            return
        if not chosen:
            if declined:
                return
            self.error.emit(CaptureError("no capture source selected", "tick at least one source above"))
            return
        rule_text = self.trigger_edit.text().strip()
        if rule_text:
            try:
                rules = [parse_trigger(rule_text)]
                check_starter_target(self.target, rules)
            except WorkbenchError as exc:
                self.error.emit(exc)
                return
            self._stop_triggers()
            if isinstance(self.sink, Session):
                self.triggers = TriggerEngine(
                    self.sink, rules, registry_starter(self.target), target=self.target.label()
                ).start()
        self._launch(self.target, self.sink, chosen)

    def _auto_label(self, target: Target) -> str:
        """A second service in one session gets its host:port as label, so its series
        (``go.goroutines@127.0.0.1:6061``) do not mix with the first one's."""
        keys = self.sink.profile_keys() if hasattr(self.sink, "profile_keys") else []
        others = {k.split(":", 1)[1].rsplit(":", 1)[0] for k in keys if k.startswith("pprof:")} - {target.value}
        return target.value.split("://", 1)[-1].split("/", 1)[0] if others else ""

    def _launch(self, target: Target, sink: Sink, chosen: list[tuple[CapturePlugin, dict[str, Any]]]) -> None:
        self._last = (target, sink, chosen)
        self.start_btn.setEnabled(False)
        self.status.setText("starting…")

        def work(job: Job[Any]) -> tuple[str, list[Running], list[WorkbenchError]]:
            started: list[Running] = []
            errors: list[WorkbenchError] = []
            for plugin, opts in chosen:
                failed = [c for c in plugin.preflight(target) if not c.ok]
                if failed:
                    errors.extend(CaptureError(f"{plugin.name}: {c.message}", c.fix) for c in failed)
                    continue
                try:
                    started.append(Running(plugin.name, plugin.start(target, opts, sink), time.time()))
                except WorkbenchError as exc:
                    errors.append(exc)
            return ("start", started, errors)

        job: Job[Any] = Job(work, name="capture-start")
        self._starting = job
        self._submit(job)

    def ask_consent(self, plugin: CapturePlugin, target: Target) -> bool:
        """Ask the user (modal on purpose: consent must be an explicit act, never a default)."""
        text_fn = getattr(plugin, "consent_text", None)
        text = text_fn(target) if callable(text_fn) else f"{plugin.name} will change process {target.value}."
        answer = QMessageBox.question(
            self,
            f"Allow {plugin.name}?",
            str(text),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _pause_toggled(self, paused: bool) -> None:
        if self._last is None:
            return
        target, sink, chosen = self._last
        what = "paused" if paused else "resumed"
        sink.put(EventBatch(time.time(), f"capture.{what}", f"capture {what}", target.label()))
        self.pause_btn.setText("Resume" if paused else "Pause")
        if paused:
            self._stop_running()
            self._reset_buttons()
            self.status.setText("paused: the target runs unprofiled; Resume re-attaches")
        else:
            self._launch(target, sink, chosen)

    def _stop_triggers(self) -> None:
        engine, self.triggers = self.triggers, None
        if engine is not None:
            # stopping waits for a triggered capture to end: never on the GUI thread
            Job(lambda job: engine.stop(), name="triggers-stop").start()

    def stop(self) -> None:
        self._stop_triggers()
        self._last = None
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(False)
        self.pause_btn.setText("Pause")
        self.pause_btn.setEnabled(False)
        self.pause_btn.blockSignals(False)
        self._stop_running()

    def _stop_running(self) -> None:
        running, self.running = self.running, []
        if self._starting is not None:
            self._abandoned.add(self._starting)
            self._starting = None
        self._update_actions()  # a stopping capture takes no more requests
        self.stop_btn.setEnabled(False)
        self.status.setText("stopping…")
        self._submit_stop(running)

    def _submit_stop(self, running: list[Running]) -> None:
        def work(job: Job[Any]) -> tuple[str, list[Running], list[WorkbenchError]]:
            errors: list[WorkbenchError] = []
            for r in running:
                try:
                    r.handle.stop()
                except WorkbenchError as exc:
                    errors.append(exc)
            return ("stop", running, errors)

        self._submit(Job(work, name="capture-stop"))

    def stop_all_blocking(self, timeout: float = 10.0) -> None:
        """On quit: stop every capture and wait (bounded) so no child process outlives us."""
        if self.triggers is not None:
            self.triggers.stop(timeout)
            self.triggers = None
        running = list(self.running)
        # starts still in flight would attach after we are gone: wait for them and stop theirs
        in_flight = [*self._abandoned, *([self._starting] if self._starting is not None else [])]
        for job in in_flight:
            if job.wait(timeout) and job.error is None and job.result is not None:
                running.extend(job.result[1])
        self._abandoned.clear()
        self._starting = None
        for r in running:
            try:
                r.handle.stop()
                r.handle.join(timeout)
            except Exception:  # quitting: nothing useful to show any more
                pass
        self.running = []
        self._poll.stop()

    def _submit(self, job: Job[Any]) -> None:
        self._pending = job
        job.on_done(self._relay.deliver)
        job.start()

    def _on_job(self, job: Job[Any]) -> None:
        if job.error is not None:
            self._abandoned.discard(job)
            self.error.emit(job.error)
            self._reset_buttons()
            return
        result: tuple[str, list[Running], list[WorkbenchError]] = job.result  # type: ignore[assignment]
        kind, runs, errors = result
        for e in errors:
            self.error.emit(e)
        if kind == "start" and job in self._abandoned:
            # Stop (or Pause) came while this start was in flight: stop what it started
            self._abandoned.discard(job)
            if runs:
                self._submit_stop(runs)
            return
        if kind == "start":
            if job is self._starting:
                self._starting = None
            self.running.extend(runs)
            if runs:
                self._poll.start()
                self.started.emit()
        else:
            self.stopped.emit()
            if not self.running:
                self._poll.stop()
        self._reset_buttons()
        self.poll_status()

    def _reset_buttons(self) -> None:
        paused = self.pause_btn.isChecked()
        self.start_btn.setEnabled(not paused)
        self.stop_btn.setEnabled(bool(self.running) or paused)
        self.pause_btn.setEnabled(bool(self.running) or paused)
        self._update_actions()

    def _update_actions(self) -> None:
        wanted: dict[tuple[str, str], Action] = {}
        for r in self.running:
            ctl = self.controls.get(r.name)
            for a in plugin_actions(ctl.entry.plugin if ctl is not None else None):
                wanted[(r.name, a.name)] = a
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
            for r in [r for r in self.running if r.name == source]:
                run_action(source, r.handle, a.name)
        except WorkbenchError as exc:
            self.error.emit(exc)
            return
        if isinstance(self.sink, Session):
            self.sink.put(EventBatch(time.time(), "action", f"{source}: {a.label.lower()} requested", source))

    def poll_status(self) -> None:
        if not self.running:
            if self._pending is None or self._pending.done:
                self.status.setText("idle")
            return
        lines = []
        still: list[Running] = []
        for r in self.running:
            st = r.handle.status()
            elapsed = time.time() - (st.started or r.started)
            cov = f", coverage {100 * st.coverage:.0f} %" if st.coverage is not None else ""
            state = "running" if st.running else "ended"
            lines.append(
                f"{r.name}: {state}, {elapsed:.0f} s, {st.samples_per_s:.0f} samples/s{cov}, "
                f"dropped batches {st.dropped_batches}" + (f" - {st.message}" if st.message else "")
            )
            if st.error is not None and not r.reported_error:
                r.reported_error = True
                self.error.emit(st.error)
            if st.running:
                still.append(r)
        self.status.setText("\n".join(lines))
        if not still:
            self.running = []
            self._poll.stop()
            self._reset_buttons()
            self.stopped.emit()
