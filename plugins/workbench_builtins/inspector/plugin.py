"""The ``inspector`` capture plugin: a Node.js process by PID (``--inspect``) or an inspector URL.

A PID whose inspector is closed can have it opened with SIGUSR1, only with ``yes=True``
(the CLI's ``--yes``): that changes the target (it listens on 127.0.0.1:9229, or the
port given by ``--inspect-port``, until it exits), so without consent the plugin says
so and stops. Inspector addresses off loopback are refused: a client can run code there.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from workbench.capture import (
    LEAK_EVIDENCE,
    SERIES,
    URL_TARGET,
    Action,
    Check,
    Option,
    PluginBase,
    Sink,
    Target,
    TargetKind,
    resolve_options,
)
from workbench.errors import ConsentRequired, WorkbenchError
from workbench.model.keys import CPU, HEAP, WALL

from .capture import SOURCE, InspectorCapture
from .cdp import CdpClient
from .discovery import open_inspector, ws_url_for_pid, ws_url_from_url

_PID_EXPR = "process.pid"


def is_inspector_url(url: str) -> bool:
    """A URL only an inspector serves: ``ws://`` (a debugger session) or ``http://host:port/json...``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in ("ws", "wss"):
        return True
    return parts.scheme in ("http", "https") and parts.path.rstrip("/").startswith("/json")


class InspectorPlugin(PluginBase):
    name: str = SOURCE
    title: str = "Node.js inspector (V8 CPU and heap sampling profiles, heap usage)"
    targets: frozenset[TargetKind] = frozenset({TargetKind.PID, TargetKind.URL})
    runtimes = frozenset({"node"})
    # cpu: V8's sampler runs on a wall clock, idle time being its "(idle)" frame
    provides = frozenset({CPU, WALL, HEAP, SERIES, LEAK_EVIDENCE})
    default_for = frozenset({"node", URL_TARGET})  # URL: only inspector URLs (applies_to)
    kind_options: dict[str, dict[str, Any]] = {  # noqa: RUF012
        CPU: {"profile": "cpu"},
        WALL: {"profile": "wall"},
        HEAP: {"profile": "heap"},
        # `workbench leaks`: V8 heap sampling by allocation site every 2 s
        # plus a short allocation-tracking window every 20 s whose snapshot names the containers
        # and a full GC before each sampling snapshot, so a bounded cache's evicted entries are
        # gone from "in use" (V8 frees old-space objects only at a major GC, maybe minutes later)
        "leaks": {
            "profile": "heap",
            "heap_interval": 2.0,
            "heap_sampling_bytes": 8192,
            "retainer_interval": 20.0,
            "gc_before_heap": True,
        },
    }
    options: tuple[Option, ...] = (
        # consent reaches start() as yes=True once given (the GUI's dialog, the CLI's --yes)
        Option("yes", bool, False, "consent: open a closed inspector with SIGUSR1 (the CLI's --yes)", label="consent"),
        Option("duration", float, 0.0, "seconds to run, 0 = until stopped", unit="s", label="duration"),
        Option("profile", str, "all", "what to profile", ("all", "cpu", "wall", "heap", "none"), label="profile"),
        Option("rate", int, 1000, "CPU samples per second (V8's default is 1000)", unit="Hz", label="sampling rate"),
        Option("window", float, 2.0, "seconds per CPU profile window", unit="s", label="CPU window"),
        Option("heap_interval", float, 2.0, "seconds between heap sampling snapshots", unit="s", label="heap interval"),
        Option(
            "heap_sampling_bytes",
            int,
            32768,
            "mean bytes between heap samples (V8's default 32 KiB)",
            unit="bytes",
            label="heap sampling step",
            advanced=True,
        ),
        Option("interval", float, 1.0, "seconds between heap usage polls", unit="s", label="usage interval"),
        Option(
            "gc_before_heap",
            bool,
            False,
            "a full GC (HeapProfiler.collectGarbage) before each heap sampling snapshot: in-use is then "
            "what is live, not what the next major GC would free (a short pause each time)",
            label="GC before heap snapshot",
            advanced=True,
        ),
        Option(
            "snapshot_max_mb",
            int,
            1024,
            "largest full heap snapshot taken on demand",
            unit="MiB",
            label="snapshot cap",
            advanced=True,
        ),
        Option(
            "retainer_interval",
            float,
            0.0,
            "seconds between container-naming snapshots (allocation tracking for retainer_window "
            "seconds, then a heap snapshot); 0 = off",
            unit="s",
            label="container naming",
            advanced=True,
        ),
        Option(
            "retainer_window",
            float,
            3.0,
            "seconds V8 tracks allocations before a naming snapshot (slows allocation meanwhile)",
            unit="s",
            label="tracking window",
            advanced=True,
        ),
        Option(
            "retainer_max_mb",
            int,
            256,
            "largest naming snapshot; past it naming stops and sites keep their function names",
            unit="MiB",
            label="naming snapshot cap",
            advanced=True,
        ),
    )

    actions: tuple[Action, ...] = (
        Action(
            "heap-snapshot",
            "Heap snapshot",
            "a full V8 heap snapshot, summarised by constructor under retainer paths "
            "(inspector:<pid>:snapshot); the target pauses while V8 writes it",
        ),
    )

    def applies_to(self, target: Target, runtime: str) -> bool:
        if target.kind is TargetKind.URL:
            return is_inspector_url(target.value)  # a plain http URL is pprof's
        return super().applies_to(target, runtime)

    def consent_text(self, target: Target) -> str | None:
        """Text only when the target changes: a Node PID whose inspector is closed gets SIGUSR1.
        Attaching to an open inspector (or by URL) changes nothing that outlives the capture."""
        if target.kind is not TargetKind.PID:
            return None
        try:
            if ws_url_for_pid(target.pid) is not None:
                return None
        except WorkbenchError:
            pass  # start() says what is wrong; the text still says what would be done
        return _opening_text(target)

    def preflight(self, target: Target) -> list[Check]:
        try:
            if target.kind is TargetKind.URL:
                ws = ws_url_from_url(target.value)
                return [Check("inspector", True, ws)]
            ws_pid = ws_url_for_pid(target.pid)
        except WorkbenchError as exc:
            return [Check("inspector", False, exc.message, exc.fix)]
        if ws_pid:
            return [Check("inspector", True, ws_pid)]
        # not a failure: start() opens it with consent, and refuses (ConsentRequired) without
        return [
            Check("inspector", True, f"PID {target.value} runs Node without an open inspector"),
            Check(
                "consent",
                True,
                f"needs a yes to: {_opening_text(target)}",
                "pass --yes (CLI), answer Yes in the GUI, or start node with --inspect=127.0.0.1:0",
            ),
        ]

    def _ws_url(self, target: Target, yes: bool) -> str:
        if target.kind is TargetKind.URL:
            return ws_url_from_url(target.value)
        ws = ws_url_for_pid(target.pid)
        if ws:
            return ws
        if not yes:
            raise ConsentRequired(
                f"PID {target.value} has no open inspector; opening it changes the process: {_opening_text(target)}",
                "pass --yes (CLI) or confirm in the GUI, or start node with --inspect=127.0.0.1:0",
            )
        return open_inspector(target.pid)

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> InspectorCapture:
        opts = resolve_options(self, options)
        pid_ = target.pid if target.kind is TargetKind.PID else 0
        client = CdpClient(self._ws_url(target, opts["yes"] is True), pid=pid_)
        try:
            pid = target.pid if target.kind is TargetKind.PID else _remote_pid(client)
            return InspectorCapture(client, pid, opts, sink, target=target).begin()
        except BaseException:
            client.close()
            raise


def _opening_text(target: Target) -> str:
    return (
        f"send SIGUSR1 to PID {target.value}: Node opens its inspector on 127.0.0.1 (port 9229 unless "
        "--inspect-port was given) and keeps it open until the process exits"
    )


def _remote_pid(client: CdpClient) -> int:
    """The PID behind an inspector URL (read-only), so keys name the process like a --pid capture."""
    res = client.call("Runtime.evaluate", {"expression": _PID_EXPR, "returnByValue": True})
    value = res.get("result", {}).get("value")
    return int(value) if isinstance(value, int | float) else 0
