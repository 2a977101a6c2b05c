"""The ``pyspy`` capture plugin: declarations, preflight and start."""

from __future__ import annotations

from typing import Any

from workbench.capture import CaptureHandle, Check, Option, PluginBase, Sink, Target, TargetKind, resolve_options
from workbench.errors import PluginError
from workbench.model.keys import CPU, WALL

from ..exe_shadow import missing_exe
from .binary import find_pyspy
from .capture import SOURCE, PySpyCapture, PySpyOptions
from .checks import checks

MAX_RATE = 10_000


class PySpyPlugin(PluginBase):
    name = SOURCE
    title = "Python CPU (py-spy)"
    targets = frozenset({TargetKind.PID})
    runtimes = frozenset({"python"})
    provides = frozenset({CPU, WALL})
    default_for = frozenset({"python"})
    # idle threads included make the samples wall-clock time (the profile's kind becomes wall)
    kind_options: dict[str, dict[str, Any]] = {CPU: {}, WALL: {"idle": True}}  # noqa: RUF012
    options: tuple[Option, ...] = (
        Option("rate", int, 100, "samples per second (py-spy --rate)", unit="Hz", label="sampling rate"),
        Option("duration", float, 0.0, "seconds to capture; 0 = until stopped", unit="s", label="duration"),
        Option(
            "idle", bool, False, "include idle threads; values become wall time (py-spy --idle)", label="idle threads"
        ),
        Option(
            "oncpu",
            bool,
            True,
            "CPU profile: count only samples of threads running on a CPU (native stack and per-thread CPU time;"
            " off: py-spy's own idle guess)",
            label="on-CPU only",
            advanced=True,
        ),
        Option("gil", bool, False, "only threads holding the GIL (py-spy --gil)", label="GIL holders only"),
        Option("native", bool, False, "include native C/C++/Cython frames (py-spy --native)", label="native frames"),
        Option(
            "subprocesses",
            bool,
            False,
            "also profile child processes (py-spy --subprocesses)",
            label="child processes",
            advanced=True,
        ),
        Option(
            "nonblocking",
            bool,
            False,
            "do not pause the target while sampling (py-spy --nonblocking)",
            label="non-blocking",
            advanced=True,
        ),
        Option("threads", bool, False, "one root per thread, named (py-spy --threads)", label="split by thread"),
        Option(
            "thread_filter",
            str,
            "",
            "only threads whose name or id contains this text",
            label="thread filter",
            advanced=True,
        ),
        Option(
            "function",
            bool,
            False,
            "aggregate by function instead of by line (py-spy --function): fewer boxes, no per-line costs",
            label="by function",
            advanced=True,
        ),
        Option("chunk_s", float, 1.0, "seconds per live batch", unit="s", label="live batch", advanced=True),
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
        if missing_exe(target.pid) is not None:
            # py-spy's native unwinder opens the target's binaries by the paths in its maps,
            # which exist only inside its container; Python frames are read from memory
            if opts.native:
                raise PluginError(
                    f"pyspy: native frames of PID {target.pid} cannot be read: its binaries exist only in its container",
                    "drop --native (Python frames work), or run py-spy inside the container",
                )
            opts.native_ok = False
        return PySpyCapture(binary, target.pid, opts, sink).start()
