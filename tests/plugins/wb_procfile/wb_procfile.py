"""``procfile``: a third-party capture plugin, installed with pip by the test suite.

It exists to prove the plugin contract: written against ``workbench.capture`` only, it
becomes a default source for processes no built-in profiles (runtime "other": shell
scripts, C programs), offers an action, serves triggers (it provides a ``cpu`` profile),
is checked by ``doctor`` and feeds the leak engine, with no line of ``workbench/`` naming it.

What it reads is real: every thread's state and kernel wait channel from
``/proc/PID/task/*/{stat,wchan}`` sampled as one-frame-per-level stacks (a poor man's
profiler), and a report file the target writes (its path in the target's environment as
``WB_PROCFILE_REPORT``), one ``NAME LENGTH`` line per container the target holds.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from workbench.capture import (
    ANY_RUNTIME,
    LEAK_EVIDENCE,
    SERIES,
    Action,
    CaptureStatus,
    Check,
    Option,
    PluginBase,
    Sink,
    Target,
    TargetKind,
)
from workbench.errors import CaptureError, PluginError, TargetExited
from workbench.model import (
    EventBatch,
    Frame,
    FrameTable,
    ProfileBatch,
    ProfileKey,
    SampleType,
    SeriesBatch,
    SeriesPoint,
    stackset_from_lists,
)

ENV = "WB_PROCFILE_REPORT"
SAMPLES = (SampleType("samples", "count"),)


def report_path(pid: int) -> Path | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for item in raw.split(b"\0"):
        key, _, value = item.partition(b"=")
        if key.decode(errors="replace") == ENV:
            return Path(os.fsdecode(value))
    return None


def thread_stacks(pid: int) -> list[list[Frame]]:
    """One root-first stack per thread: process name > thread name > state > wait channel."""
    stacks = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError as exc:
        raise TargetExited(f"PID {pid} is gone", "restart the target") from exc
    for tid in tids[:256]:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            wchan = Path(f"/proc/{pid}/task/{tid}/wchan").read_text().strip() or "running"
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        stacks.append([Frame(comm), Frame(f"state {state}"), Frame(wchan if wchan != "0" else "running")])
    return stacks


class ProcfileHandle:
    def __init__(self, target: Target, options: dict[str, Any], sink: Sink) -> None:
        self.target, self.options, self.sink = target, options, sink
        self.report = report_path(target.pid)
        self._status = CaptureStatus(started=time.time(), message="sampling /proc")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="procfile", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = 1.0 / max(1, int(self.options["rate"]))
        deadline = time.time() + float(self.options["duration"] or 1e12)
        key = ProfileKey("procfile", self.target.value, "cpu")
        window: list[list[Frame]] = []
        t0 = time.time()
        try:
            while not self._stop.is_set() and time.time() < deadline:
                window += thread_stacks(self.target.pid)
                if time.time() - t0 >= 1.0:
                    self._flush(key, window, t0)
                    window, t0 = [], time.time()
                self._stop.wait(interval)
            self._flush(key, window, t0)
        except TargetExited as exc:
            with self._lock:
                self._status.error = exc
        with self._lock:
            self._status.running = False

    def _flush(self, key: ProfileKey, window: list[list[Frame]], t0: float) -> None:
        now = time.time()
        if window:
            table = FrameTable()
            ids = [[table.intern(f) for f in stack] for stack in window]
            stacks = stackset_from_lists(table, ids, [[1.0]] * len(ids))
            self.sink.put(ProfileBatch(key, SAMPLES, stacks, t0, now, source="procfile", runtime="other"))
        points = []
        if self.report is not None:
            try:
                lines = self.report.read_text().splitlines()[-64:]
            except OSError:
                lines = []
            for line in lines:
                name, _, n = line.rpartition(" ")
                if name and n.isdigit():
                    points.append(SeriesPoint(f"procfile.container.{name}.len", now, float(n), "items"))
        if points:
            self.sink.put(SeriesBatch(points))
        with self._lock:
            self._status.samples += len(window)
            self._status.batches += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> CaptureStatus:
        with self._lock:
            return self._status.copy()

    def run_action(self, name: str) -> None:
        if name != "mark":
            raise PluginError(f"procfile offers no action {name!r}", "use mark")
        self.sink.put(EventBatch(time.time(), "procfile.mark", "marked by the user", self.target.label()))


class ProcfilePlugin(PluginBase):
    name = "procfile"
    title = "Process file (/proc thread states and the target's own container report)"
    targets = frozenset({TargetKind.PID})
    runtimes = frozenset({ANY_RUNTIME})
    provides = frozenset({"cpu", SERIES, LEAK_EVIDENCE})
    default_for = frozenset({"other"})
    options = (
        Option("rate", int, 20, "thread-state samples per second", unit="Hz", label="sampling rate"),
        Option("duration", float, 0.0, "seconds to capture; 0 = until stopped", unit="s"),
    )
    actions = (Action("mark", "Mark", "a marker on the timeline"),)
    kind_options = {"cpu": {}, "leaks": {"rate": 5}}  # noqa: RUF012

    def preflight(self, target: Target) -> list[Check]:
        path = report_path(target.pid)
        if path is None:
            return [Check("report file", True, f"no {ENV} in the target's environment: thread states only")]
        ok = path.exists()
        return [Check("report file", ok, str(path), "" if ok else f"create {path} in the target")]

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> ProcfileHandle:
        if not Path(f"/proc/{target.value}").exists():
            raise CaptureError(f"no process with PID {target.value}", "check the PID")
        return ProcfileHandle(target, options, sink)


plugin = ProcfilePlugin()
