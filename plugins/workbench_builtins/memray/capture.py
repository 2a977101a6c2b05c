"""The workbench side of a memray capture: runs the helper, turns its messages into batches.

One helper child process per capture (``helper.py``), in its own process group so a
watchdog can end it together with the gdb it runs. Three worker jobs here: the reader of
the helper's JSON lines, a tail of its stderr (for error messages), and the watchdog
that ends an attach that never finishes. Batches go to the sink whole; the sink never
waits on the helper.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

import numpy as np

from workbench.capture import HandleBase, Job, Sink, Target
from workbench.errors import (
    CaptureError,
    PermissionDenied,
    TargetExited,
    TargetNotFound,
    UnsupportedTarget,
    WorkbenchError,
)
from workbench.model import (
    INUSE_OBJECTS,
    INUSE_SPACE,
    EventKind,
    FindingsBatch,
    Frame,
    FrameTable,
    ProfileBatch,
    ProfileKey,
    Runtime,
    SeriesBatch,
    SeriesPoint,
    StackSet,
)
from workbench.model.keys import HEAP

from ..debugger import require as require_debugger
from .growth import GrowthTracker

SOURCE = "memray"

SAMPLE_TYPES = (INUSE_SPACE, INUSE_OBJECTS)
MAX_LINE_BYTES = 256 * 1024 * 1024  # one snapshot message; larger ones are dropped, not buffered
STDERR_TAIL_LINES = 40
# Ending a helper whose gdb is mid-attach must not kill gdb while its breakpoints sit in
# the target's malloc (the target would die of SIGTRAP at its next allocation). gdb
# stops on any SIGCONT the target receives, its script then ends and it detaches,
# removing the breakpoints; SIGCONT is a no-op for a running process, so we nudge
# first. Then the usual escalation, each step waiting for the helper to exit.
NUDGE_S = 10.0
NUDGE_EVERY_S = 0.2
ESCALATION = ((signal.SIGINT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0))

_ERRORS: dict[str, type[WorkbenchError]] = {
    "memray_missing": UnsupportedTarget,
    "unsupported": UnsupportedTarget,
    "target_not_found": TargetNotFound,
    "permission": PermissionDenied,
}


class MemrayCapture(HandleBase):
    """A ``CaptureHandle`` for one live memray attach."""

    def __init__(
        self,
        pid: int,
        sink: Sink,
        *,
        interval_s: float = 1.0,
        duration_s: float = 0.0,
        native: bool = False,
        attach_timeout_s: float = 60.0,
        stop_timeout_s: float = 30.0,
        max_depth: int = 4096,
        max_stacks: int = 20_000,
        top_sites: int = 10,
        interpreter: str = "",
        debugger: str = "",
        lldb_pythonpath: str = "",
        target_lib: str = "",
    ) -> None:
        if not debugger:  # the plugin passes its choice; else the same one, made here (probed once)
            choice = require_debugger("attach memray")
            debugger, lldb_pythonpath = choice.name, choice.env.get("PYTHONPATH", "")
        super().__init__(Target.from_pid(pid), sink, name=SOURCE, message="attaching")
        self.pid = pid
        # the live in-use snapshot: heap in use by allocation site, each replacing the last
        self.key = ProfileKey(SOURCE, self.target.value, HEAP)
        self.finding_target = f"memray:{pid}"
        self.attach_timeout_s = attach_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.interpreter = interpreter
        self.debugger = debugger
        self._status.extra.update({"pid": pid, "native": native, "interpreter": interpreter, "debugger": debugger})
        self._attached = threading.Event()
        self._done = threading.Event()
        self._stopping = False
        self._watchdog_fired = False
        self._frames = FrameTable()
        self._idmap: list[int] = []
        self._growth = GrowthTracker(top_sites)
        self._t_attached = 0.0
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        if getattr(sys, "frozen", False):
            # a frozen app has no interpreter to hand a script to: it re-enters itself
            launcher = [sys.executable, "--run-helper", "workbench_builtins.memray.helper:main"]
        else:
            # by path, not -m: importing the package would pull in numpy and the workbench,
            # seconds of start-up on a busy machine that the helper does not need
            launcher = [sys.executable, str(Path(__file__).with_name("helper.py"))]
        cmd = [
            *launcher,
            "--pid",
            str(pid),
            "--interval",
            str(interval_s),
            "--duration",
            str(duration_s),
            "--max-depth",
            str(max_depth),
            "--max-stacks",
            str(max_stacks),
            "--debugger",
            debugger,
        ]
        if lldb_pythonpath:
            cmd += ["--lldb-pythonpath", lldb_pythonpath]
        if target_lib:  # a containerised target loads its own memray's injector
            cmd += ["--target-lib", target_lib]
        if native:
            cmd.append("--native")
        self._t_spawn = time.time()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: the watchdog signals it and its gdb
        )
        stderr = self._proc.stderr
        assert self._proc.stdout is not None and stderr is not None
        self._reader = self.spawn(lambda job: self._read(), f"read-{pid}")
        self._err_reader = self.spawn(lambda job: self._read_stderr(stderr), f"err-{pid}")
        self.spawn(self._watch, f"watchdog-{pid}")
        self.event(EventKind.CAPTURE, f"memray attaching to PID {pid}")

    # ----------------------------------------------------------- handle API
    def stop(self) -> None:
        with self._lock:
            first = not self._stopping
            self._stopping = True
        if first:
            self._send_stop()
        # an attach in flight is allowed to finish (then one snapshot and a clean detach)
        wait_s = self.stop_timeout_s + (0.0 if self._attached.is_set() else self.attach_timeout_s)
        if not self._done.wait(wait_s):
            self._terminate()
        self._done.wait()

    def join(self, timeout: float | None = None) -> bool:
        # the reader's end is the capture's (it reaps the helper); the stderr tail may
        # outlive it while a stray gdb still holds the pipe
        return self._done.wait(timeout)

    # ------------------------------------------------------------ internals
    def _send_stop(self) -> None:
        stdin = self._proc.stdin
        if stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            stdin.write(b"stop\n")
            stdin.flush()
        with contextlib.suppress(OSError, ValueError):
            stdin.close()

    def _terminate(self) -> None:
        """Nudge gdb off the target, then SIGINT, SIGTERM, SIGKILL to the helper's group; always reaps.

        lldb ignores the target's SIGCONT: for it the group's SIGINT, the first step, is the nudge.
        """
        self._send_stop()
        end = time.monotonic() + (NUDGE_S if self.debugger == "gdb" else 0.0)
        while self._proc.poll() is None and time.monotonic() < end:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGCONT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(NUDGE_EVERY_S)
        killed = False
        for sig, wait_s in ESCALATION:
            if self._proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, sig)
            killed = sig == signal.SIGKILL
            try:
                self._proc.wait(wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self._proc.wait()
        if killed:
            # gdb died without detaching; a tracee caught in a stop stays stopped until continued
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGCONT)

    def _watch(self, job: Job[None]) -> None:
        end = time.monotonic() + self.attach_timeout_s
        while not (self._attached.is_set() or self._done.is_set()) and (left := end - time.monotonic()) > 0:
            self._attached.wait(min(0.2, left))  # short steps: a capture that ended ends its watchdog
        if self._attached.is_set() or self._done.is_set():
            return
        self._watchdog_fired = True
        self.set_error(
            CaptureError(
                f"memray attach to PID {self.pid} did not finish within {self.attach_timeout_s:.0f} s "
                "(gdb waits for the target to run Python code; a process blocked in a long sleep or "
                "system call, or stopped, never does); the helper was ended and the target left running",
                "retry while the target is busy, or raise the attach timeout (option attach_timeout)",
            )
        )
        self._terminate()

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._stderr.append(raw[:2000].decode("utf-8", "replace").rstrip())

    def _read(self) -> None:
        out = self._proc.stdout
        assert out is not None
        ended: dict[str, Any] | None = None
        try:
            while True:
                line = out.readline(MAX_LINE_BYTES)
                if not line:
                    break
                if not line.endswith(b"\n"):
                    # an oversized message: skip to its end instead of buffering it
                    while line and not line.endswith(b"\n"):
                        line = out.readline(MAX_LINE_BYTES)
                    with self._lock:
                        self._status.dropped_batches += 1
                    continue
                t_line = time.perf_counter()
                try:
                    msg = json.loads(line)
                except ValueError:
                    self._stderr.append(line[:2000].decode("utf-8", "replace").rstrip())
                    continue
                kind = msg.get("type")
                if kind == "snapshot":
                    self._on_snapshot(msg)
                    with self._lock:  # workbench-side cost of one snapshot: decode, batch, session
                        self._status.extra["batch_s"] = time.perf_counter() - t_line
                        self._status.extra["batch_bytes"] = len(line)
                elif kind == "attached":
                    self._on_attached(msg)
                elif kind == "error":
                    self._on_error(msg)
                elif kind == "ended":
                    ended = msg
        except Exception as exc:  # a bug here must not leave the capture hanging
            self.set_error(CaptureError(f"memray capture failed: {type(exc).__name__}: {exc}", "report this bug"))
            self._terminate()
        finally:
            rc = self._proc.wait() if self._watchdog_fired else self._wait_helper()
            self._finish(ended, rc)

    def _wait_helper(self) -> int:
        try:
            return self._proc.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self._terminate()
            return self._proc.wait()

    def _finish(self, ended: dict[str, Any] | None, rc: int) -> None:
        self._err_reader.wait(2.0)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        text = f"memray capture of PID {self.pid} ended"
        if ended is not None:
            reason = ended.get("reason", "")
            if reason == "target_exited":
                text = f"target PID {self.pid} exited; the memory captured so far is kept"
                self.set_error(TargetExited(text, "restart the target and attach again to continue"))
                self.event(EventKind.TARGET_EXITED, text)
            elif reason == "tracker_stopped":
                text += (
                    ": memray tracking in the target was ended from elsewhere (another memray attach or "
                    "`memray detach`); the memory captured so far is kept"
                )
            elif ended.get("detach_error"):
                text += f"; memray could not be deactivated in the target: {ended['detach_error']}"
            else:
                text += "; memray detached, the target keeps running"
        else:
            with self._lock:
                has_error = self._status.error is not None
            if not has_error:
                tail = " | ".join(list(self._stderr)[-5:]) or f"exit status {rc}"
                self.set_error(CaptureError(f"memray helper for PID {self.pid} failed: {tail}", "report this bug"))
        with self._lock:
            self._status.running = False
            if self._status.error is None:
                self._status.message = text
        self.event(EventKind.CAPTURE_STOPPED, text)
        self._done.set()

    def _on_attached(self, msg: dict[str, Any]) -> None:
        self._t_attached = float(msg.get("t", time.time()))
        with self._lock:
            self._status.message = "attached"
            self._status.extra["attach_s"] = float(msg.get("attach_s", 0.0))
            # where the attach went: helper start-up, gdb (memray imported meanwhile), memray's
            # activation in the target (listen_s) and the reader's connection
            timings = msg.get("timings")
            if isinstance(timings, dict):
                self._status.extra["attach_timings"] = {str(k): float(v) for k, v in timings.items()}
            if "t_run" in msg:  # the helper's own start-up: interpreter, stdlib imports
                self._status.extra["helper_start_s"] = max(0.0, float(msg["t_run"]) - self._t_spawn)
        self._attached.set()
        self.event(EventKind.CAPTURE_STARTED, f"memray attached to PID {self.pid}", t=self._t_attached)

    def _on_error(self, msg: dict[str, Any]) -> None:
        kind = str(msg.get("kind", ""))
        if kind == "interrupted" and (self._watchdog_fired or self._stopping):
            return  # we asked for it; the watchdog already said why
        message = str(msg.get("message", "memray attach failed"))
        fix = str(msg.get("fix", ""))
        if kind == "memray_missing":
            py = self.interpreter or "<target-python>"
            fix = f"install memray in the target's environment: {py} -m pip install memray"
            message = f"memray is not importable in the target's interpreter ({py}): {message}"
        self.set_error(_ERRORS.get(kind, CaptureError)(message, fix))

    def _frame(self, item: list[Any]) -> Frame:
        fn, file, line, native = str(item[0]), str(item[1]), int(item[2]), bool(item[3])
        if not file and fn.startswith("["):
            return Frame(fn, runtime=Runtime.OTHER)  # the helper's markers, same as the model's
        return Frame(fn, file, line, "", Runtime.NATIVE if native else Runtime.PYTHON)

    def _compact(self, flat: np.ndarray, offsets: np.ndarray, vals: np.ndarray) -> StackSet:
        """The snapshot with a frame table of only its own frames.

        A replacing batch is rebuilt into a fresh profile by the session, which interns
        every frame of the batch's table; the capture's table only ever grows, this one
        is as small as the snapshot.
        """
        used, inverse = np.unique(flat, return_inverse=True)
        if len(self._frames) <= 2 * len(used):
            return StackSet(self._frames, flat, offsets, vals)  # mostly in use: compacting costs more
        table = FrameTable()
        for fid in used.tolist():
            table.intern(self._frames[int(fid)])
        return StackSet(table, inverse.astype(np.int64).reshape(-1), offsets, vals)

    def _on_snapshot(self, msg: dict[str, Any]) -> None:
        for item in msg.get("frames", ()):
            self._idmap.append(self._frames.intern(self._frame(item)))
        stacks: list[list[int]] = msg["stacks"]
        values: list[list[float]] = msg["values"]
        t = float(msg["t"])
        idmap = np.asarray(self._idmap, dtype=np.int64)
        lengths = np.fromiter((len(s) for s in stacks), dtype=np.int64, count=len(stacks))
        offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter((f for s in stacks for f in s), dtype=np.int64, count=int(offsets[-1]))
        flat = idmap[flat] if len(flat) else flat
        vals = np.asarray(values, dtype=np.float64).reshape(len(stacks), 2)
        ids = self._idmap
        table_stacks = [[ids[f] for f in s] for s in stacks]
        growth = self._growth.update(t, table_stacks, vals.tolist(), self._frames)
        heap = float(msg.get("heap_bytes", 0))
        meta = {
            "pid": str(self.pid),
            "heap_bytes": str(int(heap)),
            "objects": str(int(msg.get("objects", 0))),
            "snapshot_latency_s": f"{float(msg.get('latency_s', 0.0)):.6f}",
            "folded_stacks": str(int(msg.get("folded_stacks", 0))),
            "growth_top": json.dumps([g.as_dict() for g in growth]),
            "view": "live memory allocated since attach (memray)",
        }
        t0 = self._t_attached or t
        self.sink.put(
            ProfileBatch(
                self.key,
                SAMPLE_TYPES,
                self._compact(flat, offsets, vals),
                t0,
                t,
                source=SOURCE,
                meta=meta,
                replace=True,
                runtime="python",
            )
        )
        self.sink.put(
            SeriesBatch(
                [
                    SeriesPoint("memray.heap_bytes", t, heap, "bytes"),
                    SeriesPoint("memray.heap_objects", t, float(msg.get("objects", 0)), "count"),
                ]
            )
        )
        self.sink.put(
            FindingsBatch([g.finding(self.finding_target, t) for g in growth], replace_target=self.finding_target)
        )
        with self._lock:
            st = self._status
            st.samples += 1
            st.batches += 3
            elapsed = max(1e-9, time.time() - st.started)
            st.samples_per_s = st.samples / elapsed
            st.extra["heap_bytes"] = heap
            st.extra["snapshot_latency_s"] = float(msg.get("latency_s", 0.0))
            st.extra["growth_top"] = [g.as_dict() for g in growth]
