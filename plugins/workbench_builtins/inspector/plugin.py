"""The ``inspector`` capture plugin: a Node.js process by PID (``--inspect``) or an inspector URL.

A PID whose inspector is closed can have it opened with SIGUSR1, only with ``yes=True``
(the CLI's ``--yes``): that changes the target (it listens on 127.0.0.1:9229, or the
port given by ``--inspect-port``, until it exits), so without consent the plugin says
so and stops. Inspector addresses off loopback are refused: a client can run code there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.capture.api import Action, Check, Option, Sink, Target, TargetKind, resolve_options
from workbench.errors import ConsentRequired, WorkbenchError

from .capture import InspectorCapture
from .cdp import CdpClient
from .discovery import open_inspector, ws_url_for_pid, ws_url_from_url

_PID_EXPR = "process.pid"


class InspectorPlugin:
    name: str = "inspector"
    title: str = "Node.js inspector (V8 CPU and heap sampling profiles, heap usage)"
    targets: frozenset[TargetKind] = frozenset({TargetKind.PID, TargetKind.URL})
    # No blanket prompt (the GUI and CLI ask before every start of a source that sets this):
    # attaching to an open inspector changes nothing. Opening a closed one needs the ``yes``
    # option (CLI --yes, the option's checkbox in the GUI), else start() raises ConsentRequired.
    needs_consent: bool = False
    options: tuple[Option, ...] = (
        Option("yes", bool, False, "consent: open a closed inspector with SIGUSR1 (the CLI's --yes)"),
        Option("duration", float, 0.0, "seconds to run, 0 = until stopped"),
        Option("profile", str, "all", "what to profile", ("all", "cpu", "heap", "none")),
        Option("rate", int, 1000, "CPU samples per second (V8's default is 1000)"),
        Option("window", float, 2.0, "seconds per CPU profile window"),
        Option("heap_interval", float, 2.0, "seconds between heap sampling snapshots"),
        Option("heap_sampling_bytes", int, 32768, "mean bytes between heap samples (V8's default 32 KiB)"),
        Option("interval", float, 1.0, "seconds between heap usage polls"),
        Option("snapshot_max_mb", int, 1024, "largest full heap snapshot taken on demand (MiB)"),
    )

    actions: tuple[Action, ...] = (
        Action(
            "heap-snapshot",
            "Heap snapshot",
            "a full V8 heap snapshot, summarised by constructor under retainer paths "
            "(inspector:<pid>:snapshot); the target pauses while V8 writes it",
        ),
    )

    def consent_text(self, target: Target) -> str:
        opening = (
            f"send SIGUSR1 to PID {target.value}: Node opens its inspector on 127.0.0.1 (port 9229 unless "
            "--inspect-port was given) and keeps it open until the process exits"
        )
        if target.kind is TargetKind.PID:
            try:
                if ws_url_for_pid(target.pid) is None:
                    return opening
            except WorkbenchError:
                return opening
        return (
            "attach to the open Node inspector and run V8's sampling CPU and heap profilers "
            "(a few % of a core); they stop when you detach"
        )

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
                f"needs a yes to: {self.consent_text(target)}",
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
                f"PID {target.value} has no open inspector; opening it changes the process: {self.consent_text(target)}",
                "pass --yes (CLI) or confirm in the GUI, or start node with --inspect=127.0.0.1:0",
            )
        return open_inspector(target.pid)

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> InspectorCapture:
        opts = resolve_options(self, options)
        client = CdpClient(self._ws_url(target, opts["yes"] is True))
        try:
            pid = target.pid if target.kind is TargetKind.PID else _remote_pid(client)
            return InspectorCapture(client, pid, opts, sink).begin()
        except BaseException:
            client.close()
            raise


def _remote_pid(client: CdpClient) -> int:
    """The PID behind an inspector URL (read-only), so keys name the process like a --pid capture."""
    res = client.call("Runtime.evaluate", {"expression": _PID_EXPR, "returnByValue": True})
    value = res.get("result", {}).get("value")
    return int(value) if isinstance(value, int | float) else 0


if TYPE_CHECKING:  # mypy checks that the plugin satisfies the protocol
    from workbench.capture.api import CapturePlugin

    _check: CapturePlugin = InspectorPlugin()
