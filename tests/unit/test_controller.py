"""The capture controller's rules on declared plugins: which sources a target gets, options
resolved once, consent, and a Stop pressed while a start is still attaching. The plugins here
are declarations around a trivial handle (the real ones run in tests/integration)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from workbench.capture import (
    SERIES,
    URL_TARGET,
    CaptureStatus,
    Option,
    PluginBase,
    PluginEntry,
    PluginRegistry,
    Target,
    TargetKind,
)
from workbench.capture.controller import LEAKS, CaptureController
from workbench.errors import PluginError
from workbench.model import Session


class _Handle:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.stopped = threading.Event()
        if gate is not None:
            gate.wait(10)

    def stop(self) -> None:
        self.stopped.set()

    def status(self) -> CaptureStatus:
        return CaptureStatus(running=not self.stopped.is_set())

    def join(self, timeout: float | None = None) -> bool:
        return self.stopped.wait(timeout)


class _Plugin(PluginBase):
    def __init__(self, name: str, **decl: Any) -> None:
        self.name = name
        self.title = name
        for k, v in decl.items():
            setattr(self, k, v)
        self.started: list[tuple[Target, dict[str, Any]]] = []
        self.handles: list[_Handle] = []
        self.gate: threading.Event | None = None

    def start(self, target: Target, options: dict[str, Any], sink: Any) -> _Handle:
        self.started.append((target, options))
        h = _Handle(self.gate)
        self.handles.append(h)
        return h


class _Registry(PluginRegistry):
    def __init__(self, *plugins: _Plugin) -> None:
        super().__init__("none")
        self._entries = {p.name: PluginEntry(p.name, f"x:{p.name}", "test", p, None, True) for p in plugins}

    def load(self, name: str) -> Any:
        e = self._entries.get(name) if self._entries else None
        if e is None:
            raise PluginError(f"no capture source named {name!r}", "check the name")
        return e.plugin


class _Located(_Plugin):
    """Reads URLs; for a PID of its runtime it locates the PID's own URL (as pprof does for Go)."""

    def locate(self, target: Target, runtime: str) -> Target | None:
        if target.kind is TargetKind.PID:
            return Target.from_url(f"http://127.0.0.1:1/{target.value}") if runtime in self.default_for else None
        return target


def _plugins() -> tuple[_Plugin, ...]:
    cpu = _Plugin(
        "cpu",
        runtimes=frozenset({"python"}),
        provides=frozenset({"cpu", "wall"}),
        default_for=frozenset({"python"}),
        options=(Option("rate", int, 100), Option("idle", bool, False)),
        kind_options={"wall": {"idle": True}},
    )
    stats = _Plugin("stats", provides=frozenset({SERIES}), default_for=frozenset({"python", "go", "other"}))
    heap = _Plugin("heap", runtimes=frozenset({"python"}), provides=frozenset({"heap", "leak-evidence"}))
    web = _Located(
        "web",
        targets=frozenset({TargetKind.URL}),
        provides=frozenset({"cpu", SERIES}),
        default_for=frozenset({URL_TARGET, "python"}),
    )
    return cpu, stats, heap, web


def _controller() -> tuple[CaptureController, dict[str, _Plugin]]:
    plugins = _plugins()
    return CaptureController(Session(), _Registry(*plugins)), {p.name: p for p in plugins}


ME = Target.from_pid(os.getpid())  # this test runs in a Python process


def test_a_pids_runtime_decides_its_sources_and_a_located_target_is_planned() -> None:
    c, _p = _controller()
    plan = c.plan(ME)
    assert plan.runtime == "python"
    assert plan.names() == ["cpu", "web", "stats"]  # profiling sources first
    web = next(s for s in plan.sources if s.name == "web")
    assert web.target == Target.from_url(f"http://127.0.0.1:1/{os.getpid()}")
    assert next(s for s in plan.sources if s.name == "cpu").options == {"rate": 100, "idle": False}


def test_options_given_once_reach_every_source_that_declares_them() -> None:
    c, _p = _controller()
    plan = c.plan(ME, ["cpu"], given={"rate": "250", "unknown": 1}, per_source={"cpu": {"idle": True}})
    assert plan.sources[0].options == {"rate": 250, "idle": True}


def test_a_profile_kind_picks_the_source_that_provides_it_with_its_kind_options() -> None:
    c, _p = _controller()
    assert c.plan(ME, profile="heap").names() == ["heap", "stats"]
    wall = c.plan(ME, profile="wall")
    assert wall.names()[0] == "cpu" and wall.sources[0].options["idle"] is True
    with pytest.raises(PluginError, match="mutex"):
        c.plan(ME, profile="mutex")


def test_the_leak_plan_keeps_series_and_adds_evidence_sources() -> None:
    c, _p = _controller()
    assert c.plan(ME, purpose=LEAKS).names() == ["heap", "stats"]


def test_a_named_source_that_cannot_read_the_target_is_refused_up_front() -> None:
    c, _p = _controller()
    with pytest.raises(PluginError, match="cannot capture"):
        c.plan(Target.from_url("http://127.0.0.1:1"), ["cpu"])


def test_consent_declined_leaves_the_plan_and_is_reported() -> None:
    c, p = _controller()
    p["heap"].consent_text = lambda target: "inject code"  # type: ignore[method-assign]
    plan = c.plan(ME, ["heap", "stats"])
    refused = c.ask_consent(plan, lambda plugin, target, text: False)
    assert plan.names() == ["stats"] and "consent" in refused[0].message


def test_stop_while_a_start_is_attaching_stops_what_it_attaches() -> None:
    c, p = _controller()
    p["cpu"].gate = gate = threading.Event()
    plan = c.plan(ME, ["cpu", "stats"])
    t = threading.Thread(target=c.start, args=(plan,))
    t.start()
    deadline = time.monotonic() + 5
    while not c.starting and time.monotonic() < deadline:
        time.sleep(0.01)
    c.stop()
    gate.set()  # the attach completes after the stop
    t.join(10)
    assert p["cpu"].handles[0].stopped.is_set()
    assert p["stats"].started == []  # the rest of the plan was not started after the stop
    assert c.running() == []


def test_pause_detaches_and_resume_reattaches_the_same_plan() -> None:
    c, p = _controller()
    plan = c.plan(ME, ["stats"])
    assert c.start(plan) == []
    c.pause()
    assert c.running() == [] and p["stats"].handles[0].stopped.is_set()
    c.resume()
    assert len(c.running()) == 1 and len(p["stats"].started) == 2
    c.stop()
    assert c.running() == []
