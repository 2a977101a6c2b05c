"""The ``agent`` capture plugin: consent, preflight, inject, stream reports, detach."""

from __future__ import annotations

from typing import Any

from workbench.capture import (
    FINDINGS,
    LEAK_EVIDENCE,
    SERIES,
    Check,
    Option,
    PluginBase,
    Sink,
    Target,
    TargetKind,
    resolve_options,
)
from workbench.capture.targets import ptrace_verdict
from workbench.errors import CaptureError, ConsentRequired, WorkbenchError

from .. import debugger
from .capture import SOURCE, AgentHandle
from .inject import REMOTE_EXEC_VERSION, plan, python_version


class AgentPlugin(PluginBase):
    name: str = SOURCE
    title: str = "Python runtime agent (GC, containers, pools, asyncio task stacks; injected on consent)"
    targets: frozenset[TargetKind] = frozenset({TargetKind.PID})
    runtimes = frozenset({"python"})
    # the container census feeds the leak engine (findings named by the container)
    provides = frozenset({SERIES, FINDINGS, LEAK_EVIDENCE})
    # `workbench leaks`: a census and GC/pool report every 2 s (consent comes as yes=True)
    kind_options: dict[str, dict[str, Any]] = {"leaks": {"census_interval": 2.0, "interval": 2.0}}  # noqa: RUF012
    options: tuple[Option, ...] = (
        Option("yes", bool, False, "consent: inject the agent into the target (the CLI's --yes)", label="consent"),
        Option("duration", float, 0.0, "seconds to run, 0 = until stopped", unit="s", label="duration"),
        Option("interval", float, 1.0, "seconds between GC and pool reports", unit="s", label="report interval"),
        Option("census_interval", float, 5.0, "seconds between container censuses", unit="s", label="census interval"),
        Option(
            "census_budget_ms",
            float,
            50.0,
            "time budget of one census; a cut census says so",
            unit="ms",
            label="census budget",
            advanced=True,
        ),
        Option(
            "min_len",
            int,
            32,
            "smallest container length reported (or 16 KiB)",
            unit="items",
            label="smallest container",
            advanced=True,
        ),
        Option(
            "tracemalloc",
            int,
            0,
            "traceback depth for tracemalloc so containers name the code that fills them; 0 = off (it slows the target)",
            unit="frames",
            label="tracemalloc depth",
            advanced=True,
        ),
        Option(
            "fill_sites",
            bool,
            True,
            "when a container grows, trace a few seconds of allocations (tracemalloc, then off) to name the code "
            "that fills it",
            label="find fill sites",
            advanced=True,
        ),
        Option(
            "heartbeat",
            float,
            10.0,
            "the agent exits when the workbench is silent this long",
            unit="s",
            label="heartbeat",
            advanced=True,
        ),
        Option(
            "async_rate",
            float,
            10.0,
            "samples per second of the asyncio tasks' awaiting coroutine chains (a wall profile); 0 = off",
            unit="Hz",
            label="asyncio task stacks",
            advanced=True,
        ),
        Option(
            "inject_timeout",
            float,
            10.0,
            "seconds to wait for a thread of the target to release the GIL",
            unit="s",
            label="inject timeout",
            advanced=True,
        ),
    )

    def consent_text(self, target: Target) -> str | None:
        """What injection runs in the target: asked before every start (it changes the process)."""
        if target.kind is not TargetKind.PID:
            return None  # nothing to inject into; start() refuses it
        try:
            version = python_version(target.pid)
        except WorkbenchError:
            version = (3, 0)
        return "; ".join(plan(target.pid, version))

    def preflight(self, target: Target) -> list[Check]:
        checks: list[Check] = []
        try:
            version = python_version(target.pid)
        except WorkbenchError as exc:
            return [Check("python", False, exc.message, exc.fix)]
        checks.append(Check("python", True, f"CPython {version[0]}.{version[1]}"))
        if version < REMOTE_EXEC_VERSION:
            # gdb, or lldb where gdb cannot call functions in a process (probed once)
            checks.append(debugger.check())
            v = ptrace_verdict(target.pid)
            checks.append(Check("ptrace", v.allowed, v.reason, v.fix))
        for i, step in enumerate(plan(target.pid, version), 1):
            checks.append(Check(f"will run ({i})", True, step))
        checks.append(
            Check("consent", True, "nothing is injected without an explicit yes", "the CLI needs --source agent --yes")
        )
        return checks

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> AgentHandle:
        if target.kind is not TargetKind.PID:
            raise CaptureError("the runtime agent attaches to a process by PID", "use --pid")
        opts = resolve_options(self, options)
        if opts.get("yes") is not True:
            raise ConsentRequired(
                f"injecting the runtime agent changes process {target.pid}: {self.consent_text(target)}",
                "pass --yes (CLI) or confirm in the GUI to allow it",
            )
        return AgentHandle(target, opts, sink)


plugin = AgentPlugin()
