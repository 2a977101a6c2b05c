"""The ``procstats`` capture plugin: what any process looks like from outside, at 1 Hz."""

from __future__ import annotations

from typing import Any

import psutil

from workbench.capture import RUNTIMES, SERIES, Check, Option, PluginBase, Sink, Target, TargetKind, resolve_options
from workbench.errors import PermissionDenied, PluginError, TargetNotFound

from .capture import ProcStatsCapture


class ProcStatsPlugin(PluginBase):
    name = "procstats"
    title = "Process stats (psutil)"
    targets = frozenset({TargetKind.PID})
    # runtimes: any (PluginBase's default); a default source next to each runtime's own
    default_for = frozenset(RUNTIMES)
    provides = frozenset({SERIES})
    # `workbench leaks` watches RSS and connections next to the runtime's heap evidence
    kind_options: dict[str, dict[str, Any]] = {"leaks": {"interval": 1.0}}  # noqa: RUF012
    options: tuple[Option, ...] = (
        Option("interval", float, 1.0, "seconds between readings", unit="s", label="interval"),
        Option("duration", float, 0.0, "seconds to capture; 0 = until stopped", unit="s", label="duration"),
    )

    def preflight(self, target: Target) -> list[Check]:
        if target.kind != TargetKind.PID:
            return [Check("target kind", False, "process stats need a PID", "pass --pid")]
        if not psutil.pid_exists(target.pid):
            return [Check("process exists", False, f"no process with PID {target.pid}", "check the PID")]
        try:
            name = psutil.Process(target.pid).name()
        except psutil.Error:
            name = "?"
        return [Check("process exists", True, f"PID {target.pid} ({name})")]

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> ProcStatsCapture:
        if target.kind != TargetKind.PID:
            raise PluginError("process stats read a process by PID, not a URL", "pass --pid PID")
        opts = resolve_options(self, options)
        if opts["interval"] < 0.05:
            raise PluginError("procstats: interval must be at least 0.05 s", "use the default of 1 s")
        try:
            return ProcStatsCapture(target, opts["interval"], opts["duration"], sink).begin()
        except psutil.NoSuchProcess as exc:
            raise TargetNotFound(f"no process with PID {target.pid}", "check the PID and try again") from exc
        except psutil.AccessDenied as exc:
            raise PermissionDenied(f"reading /proc of PID {target.pid} was refused", "run with sudo") from exc
