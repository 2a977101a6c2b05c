"""The ``pyspy`` capture plugin: live CPU stacks of a running Python process by PID."""

from __future__ import annotations

from typing import Any

from workbench.capture import CaptureHandle, Check, Option, Sink, Target, TargetKind, resolve_options
from workbench.errors import PluginError

from .binary import find_pyspy
from .capture import PySpyCapture, PySpyOptions
from .checks import checks

MAX_RATE = 10_000


class PySpyPlugin:
    name = "pyspy"
    title = "Python CPU (py-spy)"
    targets = frozenset({TargetKind.PID})
    options: tuple[Option, ...] = (
        Option("rate", int, 100, "samples per second (py-spy --rate)"),
        Option("duration", float, 0.0, "seconds to capture; 0 = until stopped"),
        Option("idle", bool, False, "include idle threads; values become wall time (py-spy --idle)"),
        Option("gil", bool, False, "only threads holding the GIL (py-spy --gil)"),
        Option("native", bool, False, "include native C/C++/Cython frames (py-spy --native)"),
        Option("subprocesses", bool, False, "also profile child processes (py-spy --subprocesses)"),
        Option("nonblocking", bool, False, "do not pause the target while sampling (py-spy --nonblocking)"),
        Option("threads", bool, False, "one root per thread, named (py-spy --threads)"),
        Option("thread_filter", str, "", "only threads whose name or id contains this text"),
        Option("function", bool, True, "aggregate by function instead of by line (py-spy --function)"),
        Option("chunk_s", float, 1.0, "seconds per live batch"),
    )

    def preflight(self, target: Target) -> list[Check]:
        if target.kind != TargetKind.PID:
            return [Check("target kind", False, "py-spy attaches to a PID", "pass --pid")]
        out = [c for c, _ in checks(target.pid)]
        try:
            out.append(Check("py-spy binary", True, str(find_pyspy())))
        except PluginError as exc:
            out.append(Check("py-spy binary", False, exc.message, exc.fix))
        return out

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> CaptureHandle:
        if target.kind != TargetKind.PID:
            raise PluginError("py-spy attaches to a process by PID, not a URL", "pass --pid PID")
        opts = PySpyOptions.from_dict(resolve_options(self, options))
        if not 1 <= opts.rate <= MAX_RATE:
            raise PluginError(f"pyspy: rate {opts.rate} Hz is out of range", f"use 1..{MAX_RATE} (100 is typical)")
        if opts.native and opts.nonblocking:
            # the same refusal py-spy makes, up front and in one sentence
            raise PluginError("pyspy: --native cannot be combined with --nonblocking", "drop one of the two")
        if opts.chunk_s < 0.2:
            raise PluginError("pyspy: chunk_s must be at least 0.2 s", "use the default of 1 s")
        binary = find_pyspy()
        for _check, err in checks(target.pid):
            if err is not None:
                raise err
        return PySpyCapture(binary, target.pid, opts, sink).start()


plugin = PySpyPlugin()

__all__ = ["PySpyPlugin", "plugin"]
