"""The memray capture plugin: live allocations of a Python process by PID.

Preflight checks everything that can be known without touching the target (the PID
is a Python process, ptrace is allowed, a debugger that can call functions in it is
installed (gdb, or lldb where gdb cannot: ``workbench_builtins.debugger``), memray imports in the
target's own interpreter at our version); ``start`` raises the first failure as a
typed error, then attaches asynchronously through the helper child process.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

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
from workbench.capture.namespaces import container_of, host_path, in_own_mount_ns
from workbench.capture.targets import detect_runtime, ptrace_verdict
from workbench.errors import CaptureError, PermissionDenied, TargetNotFound, UnsupportedTarget, WorkbenchError
from workbench.model.keys import HEAP

from .. import debugger
from .capture import SOURCE, MemrayCapture
from .interpreter import MemrayInTarget, check_memray, our_memray_version

# A passed preflight is reused by ``start`` for this long (the GUI runs both back to back,
# and the memray check starts the target's interpreter, which costs a second or more).
PREFLIGHT_TTL_S = 30.0
PREFLIGHT_CACHE = 16


class MemrayPlugin(PluginBase):
    name = SOURCE
    title = "memray (Python memory)"
    targets = frozenset({TargetKind.PID})
    runtimes = frozenset({"python"})
    # heap: memory in use by allocation site, a snapshot every interval (what the leak engine judges)
    provides = frozenset({HEAP, SERIES, FINDINGS, LEAK_EVIDENCE})
    kind_options: dict[str, dict[str, Any]] = {HEAP: {}, "leaks": {"interval": 2.0}}  # noqa: RUF012
    options: tuple[Option, ...] = (
        Option("native", bool, False, "track native (C/C++) frames as well", label="native frames"),
        Option(
            "interval",
            float,
            1.0,
            "seconds between live-memory snapshots (the first: at most 0.2 s after attach)",
            unit="s",
            label="snapshot interval",
        ),
        Option(
            "duration", float, 0.0, "seconds to capture, then detach (0: until stopped)", unit="s", label="duration"
        ),
        Option(
            "attach_timeout",
            float,
            60.0,
            "seconds to wait for memray to start in the target",
            unit="s",
            label="attach timeout",
            advanced=True,
        ),
        Option("top", int, 10, "growing allocation sites reported per snapshot", label="growing sites", advanced=True),
    )

    def __init__(self) -> None:
        super().__init__()
        self._passed: dict[tuple[int, float], tuple[float, list[tuple[Check, WorkbenchError | None]]]] = {}
        self._lock = threading.Lock()
        self._found: dict[int, MemrayInTarget] = {}  # the last memray check per PID (bounded)

    def _checks(self, target: Target) -> list[tuple[Check, WorkbenchError | None]]:
        key = None
        if target.kind == TargetKind.PID:
            try:
                key = (target.pid, psutil.Process(target.pid).create_time())
            except psutil.Error:
                key = None
        now = time.monotonic()
        with self._lock:
            hit = self._passed.get(key) if key else None
            if hit is not None and now - hit[0] < PREFLIGHT_TTL_S:
                return hit[1]
        result = self._run_checks(target)
        if key is not None and all(err is None for _, err in result):
            with self._lock:
                if len(self._passed) >= PREFLIGHT_CACHE:
                    self._passed.clear()
                self._passed[key] = (now, result)
        return result

    def _run_checks(self, target: Target) -> list[tuple[Check, WorkbenchError | None]]:
        out: list[tuple[Check, WorkbenchError | None]] = []
        if target.kind != TargetKind.PID:
            fix = "pick a process by PID"
            return [
                (Check("target", False, "memray attaches to a process", fix), CaptureError("memray needs a PID", fix))
            ]
        pid = target.pid
        try:
            info = detect_runtime(pid)
        except WorkbenchError as exc:
            return [(Check("process", False, exc.message, exc.fix), exc)]
        if info.runtime != "python":
            msg = f"PID {pid} ({info.name}) is not a Python process"
            fix = "memray reads Python processes; for Go use the pprof source, for any process procstats"
            return [(Check("python", False, msg, fix), UnsupportedTarget(msg, fix))]
        out.append((Check("python", True, f"Python {info.version} ({info.exe})"), None))
        # gdb, or lldb where gdb cannot call functions in a process (probed once)
        chk = debugger.check()
        out.append((chk, None if chk.ok else CaptureError(f"memray cannot attach: {chk.message}", chk.fix)))
        verdict = ptrace_verdict(pid)
        if not verdict.allowed:
            msg = f"ptrace of PID {pid} is not allowed: {verdict.reason}"
            out.append((Check("ptrace", False, msg, verdict.fix), PermissionDenied(msg, verdict.fix)))
        else:
            out.append((Check("ptrace", True, verdict.reason), None))
        try:
            found = check_memray(pid)
        except FileNotFoundError:
            msg = f"PID {pid} has exited"
            return [
                *out,
                (Check("memray", False, msg, "pick a running process"), TargetNotFound(msg, "pick a running process")),
            ]
        except PermissionError:
            msg = f"cannot read /proc/{pid}/exe to find the target's interpreter"
            fix = "run as root or as the target's user"
            return [*out, (Check("memray", False, msg, fix), PermissionDenied(msg, fix))]
        with self._lock:
            if len(self._found) >= PREFLIGHT_CACHE:
                self._found.clear()
            self._found[pid] = found
        ours = our_memray_version()
        box = container_of(pid)
        if not found.ok and box.runtime:
            msg = (
                f"memray is not importable in the container's interpreter {found.interpreter} "
                f"(PID {pid}, {box.label()}; looked up in its own filesystem: {found.detail})"
            )
            fix = (
                f"inside the container run: {found.interpreter} -m pip install memray=={ours} "
                "(docker exec -it CONTAINER ..., kubectl exec -it POD -- ...)"
            )
            out.append((Check("memray", False, msg, fix), UnsupportedTarget(msg, fix)))
        elif not found.ok:
            msg = f"memray is not importable in the target's interpreter {found.interpreter} ({found.detail})"
            fix = f"{found.interpreter} -m pip install memray=={ours}"
            out.append((Check("memray", False, msg, fix), UnsupportedTarget(msg, fix)))
        elif found.version != ours:
            msg = (
                f"the target has memray {found.version} but the workbench reads memray {ours}; "
                "the live protocol must match"
            )
            fix = f"{found.interpreter} -m pip install memray=={ours}"
            out.append((Check("memray", False, msg, fix), UnsupportedTarget(msg, fix)))
        elif box.namespaces and "mnt" in box.namespaces:
            # its own memray's injector, by the path the target's dlopen resolves in its filesystem
            lib = f"{found.package_dir}/_inject.abi3.so"
            ok = bool(found.package_dir) and os.path.isfile(host_path(pid, lib))
            msg = f"memray {found.version} in the container's {found.interpreter} ({box.label()}; injector {lib})"
            fix = f"inside the container run: {found.interpreter} -m pip install --force-reinstall memray=={ours}"
            out.append((Check("memray", ok, msg, "" if ok else fix), None if ok else UnsupportedTarget(msg, fix)))
        else:
            out.append((Check("memray", True, f"memray {found.version} in {found.interpreter}"), None))
        return out

    def preflight(self, target: Target) -> list[Check]:
        return [c for c, _ in self._checks(target)]

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> MemrayCapture:
        interpreter, target_lib = "", ""
        for _check, err in self._checks(target):
            if err is not None:
                raise err
        with self._lock:
            found = self._found.get(target.pid)
        if found is not None:
            interpreter = found.interpreter
            if in_own_mount_ns(target.pid):
                target_lib = f"{found.package_dir}/_inject.abi3.so"
        opts = resolve_options(self, options)
        choice = debugger.require("attach memray")
        return MemrayCapture(
            target.pid,
            sink,
            interval_s=max(0.05, float(opts["interval"])),
            duration_s=max(0.0, float(opts["duration"])),
            native=bool(opts["native"]),
            attach_timeout_s=max(1.0, float(opts["attach_timeout"])),
            top_sites=max(0, int(opts["top"])),
            interpreter=interpreter,
            debugger=choice.name,
            lldb_pythonpath=choice.env.get("PYTHONPATH", ""),
            target_lib=target_lib,
        )
