"""One inspector session: rolling CPU profile windows, heap sampling snapshots, heap series.

A single worker owns the CDP connection and runs three schedules on it in turn, so the
target sees one request at a time: every ``window`` seconds ``Profiler.stop`` (one CPU
window, a ProfileBatch) and ``Profiler.start`` again; every ``heap_interval`` seconds
``HeapProfiler.getSamplingProfile`` (allocation sites with the bytes still in use, a
replacing snapshot the leak engine tracks); every ``interval`` seconds
``Runtime.getHeapUsage`` and ``process.memoryUsage()`` as series. Stopping emits the
last partial window, stops both profilers and closes the session (Node also stops a
closed session's profilers itself).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from typing import Any, BinaryIO

from workbench.analysis.node_retainers import retainer_hints
from workbench.analysis.node_sizes import container_series_name
from workbench.capture import CaptureStatus, HandleBase, Job, Sink, Target
from workbench.errors import CaptureError, LimitExceeded, PluginError, TargetExited, WorkbenchError
from workbench.formats.devtools import cpuprofile_stacks, heapprofile_stacks, heapsnapshot_stacks
from workbench.formats.heapsnapshot_trace import read_traced_snapshot
from workbench.model import (
    INUSE_OBJECTS,
    INUSE_SPACE,
    SAMPLES,
    WALL_NS,
    EventKind,
    FindingsBatch,
    FrameTable,
    ProfileBatch,
    ProfileKey,
    SeriesBatch,
    SeriesPoint,
)

from .cdp import CdpClient

SOURCE = "inspector"
SNAPSHOT_TIMEOUT_S = 300.0  # serialising a heap of several GB takes minutes; longer is a hang
# the first container-naming pass comes this soon (a leak check's first verdict is at ~15 s)
FIRST_NAMING_S = 5.0
# V8 samples on a wall clock: idle time is an "(idle)" frame, so the values are wall time
CPU_TYPES = (SAMPLES, WALL_NS)
HEAP_TYPES = (INUSE_SPACE, INUSE_OBJECTS)
# read-only: Node's own counters (no state in the target changes)
_MEMORY_USAGE = "JSON.stringify(process.memoryUsage())"
# a named container's element count, read where it lives (read-only: a getter, no side effect)
_CONTAINER_SIZE = (
    "function () { return (this instanceof Map || this instanceof Set) ? this.size"
    " : Array.isArray(this) ? this.length : Object.keys(this).length; }"
)
_CONTAINER_GROUP = "workbench-containers"  # released on detach, so the target keeps no handle
MAX_SIZED_CONTAINERS = 32
_MEMORY_SERIES = {
    "rss": "node.rss_bytes",
    "external": "node.external_bytes",
    "arrayBuffers": "node.array_buffers_bytes",
}


class InspectorCapture(HandleBase):
    def __init__(
        self, client: CdpClient, pid: int, opts: dict[str, Any], sink: Sink, target: Target | None = None
    ) -> None:
        super().__init__(target or Target.from_pid(pid), sink, name=SOURCE, message="attaching")
        self.client = client
        self.pid = pid
        self.opts = opts
        profile = str(opts["profile"])
        self.cpu = profile in ("all", "cpu", "wall")
        # V8's sampler already samples on a wall clock keeping "(idle)": "wall" names the profile so
        # (the "Waiting on" view and --profile wall find it); the samples are the same
        self.cpu_kind = "wall" if profile == "wall" else "cpu"
        self.heap = profile in ("all", "heap")
        self.window_s = max(0.2, float(opts["window"]))
        self.heap_interval_s = max(0.2, float(opts["heap_interval"]))
        self.interval_s = max(0.1, float(opts["interval"]))
        duration = float(opts["duration"] or 0.0)
        self.started = self._status.started
        self.deadline = self.started + duration if duration > 0 else None
        self._counts = {"cpu": 0, "heap": 0, "metrics": 0, "snapshot": 0, "naming": 0}
        self._naming_s = 0.0
        self._error: WorkbenchError | None = None
        self._snapshot_wanted = threading.Event()
        self._in_full_snapshot = False
        self.snapshot_max_bytes = int(opts.get("snapshot_max_mb") or 1024) * 1024 * 1024
        self.retainer_interval_s = max(0.0, float(opts.get("retainer_interval") or 0.0))
        self.retainer_window_s = max(0.5, float(opts.get("retainer_window") or 3.0))
        self.retainer_max_bytes = int(opts.get("retainer_max_mb") or 256) * 1024 * 1024
        self._tracking_until: float | None = None
        # named container -> (V8 heap object id, the inspector's handle on it): its real size is
        # read at every heap snapshot (the naming snapshots alone come every 20 s)
        self._containers: dict[str, tuple[int, str]] = {}
        self._job = self.make_job(self._run, str(pid))

    def key(self, kind: str) -> ProfileKey:
        return ProfileKey(SOURCE, str(self.pid), kind)

    def begin(self) -> InspectorCapture:
        # the first requests run here, so a refused Profiler.start is the caller's error
        self.client.call("Profiler.enable")
        if self.cpu:
            rate = int(self.opts["rate"] or 0)
            if rate > 0:
                self.client.call("Profiler.setSamplingInterval", {"interval": max(1, 1_000_000 // rate)})
            self.client.call("Profiler.start")
        if self.heap:
            self.client.call(
                "HeapProfiler.startSampling", {"samplingInterval": max(1, int(self.opts["heap_sampling_bytes"]))}
            )
        self._cpu_t0 = time.time()
        self.event(EventKind.CAPTURE_STARTED, f"inspector attached to node PID {self.pid}", t=self.started)
        self._job.start()
        return self

    # ------------------------------------------------------------ the worker
    def _run(self, job: Job[None]) -> None:
        now = time.monotonic()
        next_cpu = now + self.window_s
        next_heap = now  # a first snapshot at once: the leak engine needs its baseline
        next_metrics = now
        naming = self.heap and self.retainer_interval_s > 0
        next_naming = now + min(FIRST_NAMING_S, self.retainer_interval_s)
        try:
            while not job.cancelled:
                if self.deadline is not None and time.time() >= self.deadline:
                    break
                now = time.monotonic()
                if now >= next_metrics:
                    self._metrics()
                    next_metrics = now + self.interval_s
                if self.heap and now >= next_heap:
                    self._heap_snapshot()
                    next_heap = time.monotonic() + self.heap_interval_s
                if self.cpu and now >= next_cpu:
                    self._cpu_window(restart=True)
                    next_cpu = time.monotonic() + self.window_s
                if naming and self._tracking_until is None and now >= next_naming:
                    self._start_tracking()
                elif self._tracking_until is not None and now >= self._tracking_until:
                    naming = self._name_containers()
                    next_naming = time.monotonic() + self.retainer_interval_s
                if self._snapshot_wanted.is_set():
                    self._snapshot_wanted.clear()
                    self._heap_snapshot_full()
                due = min(
                    [next_metrics]
                    + ([next_heap] if self.heap else [])
                    + ([next_cpu] if self.cpu else [])
                    + ([next_naming] if naming and self._tracking_until is None else [])
                    + ([self._tracking_until] if self._tracking_until is not None else [])
                )
                wait = due - time.monotonic()
                if self.deadline is not None:
                    wait = min(wait, self.deadline - time.time())
                if wait > 0 and self._sleep(job, wait):
                    break
            if self._snapshot_wanted.is_set():
                # asked for just before the end (the CLI's --action without @): still taken
                self._snapshot_wanted.clear()
                self._heap_snapshot_full()
            self._detach(final=True)
        except WorkbenchError as exc:
            with self._lock:
                self._error = exc
            self._detach(final=not isinstance(exc, TargetExited))
            if isinstance(exc, TargetExited):
                self.event(EventKind.TARGET_EXITED, f"node PID {self.pid}: {exc.message}")
        finally:
            self.client.close()
            self.event(EventKind.CAPTURE_STOPPED, f"inspector detached from PID {self.pid}")

    def _sleep(self, job: Job[None], seconds: float) -> bool:
        """Sleep in short steps so a snapshot request is served promptly; True if cancelled."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if job.sleep(min(left, 0.1)):
                return True
            if self._snapshot_wanted.is_set():
                return False
        return False

    def request_heap_snapshot(self) -> None:
        """Ask for one full heap snapshot (on demand: it pauses the target while V8 writes it)."""
        self._snapshot_wanted.set()

    def run_action(self, name: str) -> None:
        if name != "heap-snapshot":
            raise PluginError(f"inspector: no action {name!r}", "the inspector's action is heap-snapshot")
        self.request_heap_snapshot()

    def _heap_snapshot_full(self) -> None:
        """HeapProfiler.takeHeapSnapshot streamed into a temp file, summarised by constructor, deleted."""
        fd, path = tempfile.mkstemp(prefix="wb-node-", suffix=".heapsnapshot")
        written = 0

        def chunk(method: str, params: dict[str, Any], fh: BinaryIO) -> None:
            nonlocal written
            if method != "HeapProfiler.addHeapSnapshotChunk":
                return
            data = str(params.get("chunk", "")).encode("utf-8")
            written += len(data)
            if written > self.snapshot_max_bytes:
                raise LimitExceeded(
                    f"the heap snapshot passed {self.snapshot_max_bytes} bytes",
                    "raise snapshot_max_mb, or use the heap sampling profile for this process",
                )
            fh.write(data)

        t = time.time()
        self._in_full_snapshot = True
        try:
            with os.fdopen(fd, "wb") as fh:
                self.client.call(
                    "HeapProfiler.takeHeapSnapshot",
                    {"reportProgress": False},
                    timeout=SNAPSHOT_TIMEOUT_S,
                    on_event=lambda m, p: chunk(m, p, fh),
                )
            table = FrameTable()
            stacks = heapsnapshot_stacks(path, table)
        except LimitExceeded as exc:
            with self._lock:
                self._error = exc
            return
        finally:
            self._in_full_snapshot = False
            with contextlib.suppress(OSError):
                os.unlink(path)
        meta = {"pid": str(self.pid), "runtime": "node", "snapshot_bytes": str(written)}
        self.sink.put(
            ProfileBatch(
                self.key("snapshot"),
                HEAP_TYPES,
                stacks,
                t,
                time.time(),
                source=SOURCE,
                meta=meta,
                replace=True,
                runtime="node",
            )
        )
        self._count("snapshot", 0)

    # ------------------------------------------------------------ container naming
    def _start_tracking(self) -> None:
        """V8 records the allocation stack of every object from now on (slower allocation) until
        the naming snapshot, ``retainer_window`` seconds later."""
        self.client.call("HeapProfiler.startTrackingHeapObjects", {"trackAllocations": True})
        self._tracking_until = time.monotonic() + self.retainer_window_s

    def _stop_tracking_into(self, fh: BinaryIO | None, cap: int) -> int:
        """HeapProfiler.stopTrackingHeapObjects: V8 writes one snapshot (with allocation traces)
        as it stops; its chunks go to ``fh`` up to ``cap`` bytes (dropped when ``fh`` is None)."""
        written = 0
        over = False

        def chunk(method: str, params: dict[str, Any]) -> None:
            nonlocal written, over
            if method != "HeapProfiler.addHeapSnapshotChunk":
                return
            data = str(params.get("chunk", "")).encode("utf-8")
            written += len(data)
            over = over or written > cap
            if fh is not None and not over:
                fh.write(data)

        self._tracking_until = None
        self.client.call(
            "HeapProfiler.stopTrackingHeapObjects",
            {"reportProgress": False},
            timeout=SNAPSHOT_TIMEOUT_S,
            on_event=chunk,
        )
        return -1 if over else written

    def _name_containers(self) -> bool:
        """The naming snapshot: which container holds each site's objects allocated in the window
        (retainer paths), as hints for the leak engine. False: too large, naming stops."""
        fd, path = tempfile.mkstemp(prefix="wb-node-names-", suffix=".heapsnapshot")
        t0 = time.monotonic()
        try:
            with os.fdopen(fd, "wb") as fh:
                written = self._stop_tracking_into(fh, self.retainer_max_bytes)
            if written < 0:
                self.event(
                    EventKind.CAPTURE,
                    f"node PID {self.pid}: naming snapshot passed {self.retainer_max_bytes >> 20} MiB; leak "
                    "suspects keep their function names (raise retainer_max_mb to name containers)",
                )
                return False
            found: dict[str, int] = {}
            hints = retainer_hints(read_traced_snapshot(path), target=self.key("retainers").text, containers=found)
        except WorkbenchError as exc:
            if isinstance(exc, TargetExited):
                raise
            self.event(EventKind.CAPTURE, f"node PID {self.pid}: containers not named: {exc.message}")
            return False
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.sink.put(FindingsBatch(hints, replace_target=self.key("retainers").text))
        self._hold_containers(found)
        self._naming_s = time.monotonic() - t0
        self._count("naming", 0)
        return True

    def _hold_containers(self, found: dict[str, int]) -> None:
        """A handle on each newly named container (by its heap object id), so its size can be read."""
        for label, oid in found.items():
            held = self._containers.get(label)
            if (held is not None and held[0] == oid) or (
                held is None and len(self._containers) >= MAX_SIZED_CONTAINERS
            ):
                continue
            try:
                res = self.client.call(
                    "HeapProfiler.getObjectByHeapObjectId", {"objectId": str(oid), "objectGroup": _CONTAINER_GROUP}
                )
            except WorkbenchError as exc:
                if isinstance(exc, TargetExited):
                    raise
                continue  # collected since the snapshot: nothing to measure
            handle = res.get("result", {}).get("objectId")
            if isinstance(handle, str):
                if held is not None:  # the code holds a new container under that name: let the old one go
                    with contextlib.suppress(WorkbenchError):
                        self.client.call("Runtime.releaseObject", {"objectId": held[1]})
                self._containers[label] = (oid, handle)

    def _container_sizes(self, t: float) -> list[SeriesPoint]:
        points = []
        for label, (_oid, handle) in list(self._containers.items()):
            try:
                res = self.client.call(
                    "Runtime.callFunctionOn",
                    {"functionDeclaration": _CONTAINER_SIZE, "objectId": handle, "returnByValue": True},
                )
            except WorkbenchError as exc:
                if isinstance(exc, TargetExited):
                    raise
                del self._containers[label]
                continue
            v = res.get("result", {}).get("value")
            if isinstance(v, int | float) and not isinstance(v, bool):
                points.append(SeriesPoint(container_series_name(label), t, float(v), "items"))
        return points

    def _detach(self, final: bool) -> None:
        """Last window and snapshot, then both profilers off; errors here only lose that last bit."""
        if self._containers:
            self._containers.clear()
            with contextlib.suppress(WorkbenchError):
                self.client.call("Runtime.releaseObjectGroup", {"objectGroup": _CONTAINER_GROUP})
        if self._tracking_until is not None:
            with contextlib.suppress(WorkbenchError):
                self._stop_tracking_into(None, 0)  # allocation tracking off: its snapshot is dropped
        if not final:
            return
        try:
            if self.cpu:
                self._cpu_window(restart=False)
            if self.heap:
                self._heap_snapshot()
                self.client.call("HeapProfiler.stopSampling")
            self.client.call("Profiler.disable")
        except WorkbenchError as exc:
            with self._lock:
                if self._error is None and not isinstance(exc, TargetExited):
                    self._error = exc

    def _cpu_window(self, restart: bool) -> None:
        result = self.client.call("Profiler.stop")
        t1 = time.time()
        t0, self._cpu_t0 = self._cpu_t0, t1
        if restart:
            self.client.call("Profiler.start")
        table = FrameTable()
        stacks, _ = cpuprofile_stacks(result.get("profile"), table)
        n = int(stacks.values[:, 0].sum()) if len(stacks.values) else 0
        meta = {"pid": str(self.pid), "runtime": "node"}
        self.sink.put(
            ProfileBatch(self.key(self.cpu_kind), CPU_TYPES, stacks, t0, t1, source=SOURCE, meta=meta, runtime="node")
        )
        self._count("cpu", n)

    def _heap_snapshot(self) -> None:
        if self.opts.get("gc_before_heap"):
            self.client.call("HeapProfiler.collectGarbage")
        result = self.client.call("HeapProfiler.getSamplingProfile")
        t = time.time()
        table = FrameTable()
        stacks = heapprofile_stacks(result.get("profile"), table)
        meta = {"pid": str(self.pid), "runtime": "node", "sampling_bytes": str(self.opts["heap_sampling_bytes"])}
        batch = ProfileBatch(
            self.key("heap"), HEAP_TYPES, stacks, t, t, source=SOURCE, meta=meta, replace=True, runtime="node"
        )
        self.sink.put(batch)
        if self._containers:
            points = self._container_sizes(t)
            if points:
                self.sink.put(SeriesBatch(points))
        self._count("heap", 0)

    def _metrics(self) -> None:
        t = time.time()
        usage = self.client.call("Runtime.getHeapUsage")
        points = []
        for field, name in (("usedSize", "node.heap_used_bytes"), ("totalSize", "node.heap_total_bytes")):
            v = usage.get(field)
            if isinstance(v, int | float):
                points.append(SeriesPoint(name, t, float(v), "bytes"))
        mem = self.client.call("Runtime.evaluate", {"expression": _MEMORY_USAGE, "returnByValue": True})
        value = mem.get("result", {}).get("value")
        try:
            doc = json.loads(value) if isinstance(value, str) else {}
        except ValueError:
            doc = {}
        for field, name in _MEMORY_SERIES.items():
            v = doc.get(field) if isinstance(doc, dict) else None
            if isinstance(v, int | float):
                points.append(SeriesPoint(name, t, float(v), "bytes"))
        if points:
            self.sink.put(SeriesBatch(points))
        self._count("metrics", 0)

    def _count(self, kind: str, samples: int) -> None:
        with self._lock:
            self._counts[kind] += 1
            self._status.batches += 1
            self._status.samples += samples

    # ------------------------------------------------------------ handle
    def stop(self) -> None:
        self._job.cancel()
        if not self._job.wait(10.0) and self._in_full_snapshot:
            # V8 is still streaming a snapshot the user asked for: it is worth the wait
            self._job.wait(SNAPSHOT_TIMEOUT_S)

    def _refresh_status(self, st: CaptureStatus) -> None:
        st.running = not self._job.done
        elapsed = max(1e-9, time.time() - self.started)
        st.samples_per_s = st.samples / elapsed
        c = self._counts
        st.message = (
            f"node PID {self.pid}: {c['cpu']} CPU windows, {c['heap']} heap snapshots, {c['metrics']} heap polls"
            + (f", {c['snapshot']} full heap snapshots" if c["snapshot"] else "")
            + (f", {c['naming']} naming snapshots (last {self._naming_s:.1f} s)" if c["naming"] else "")
        )
        err = self._error
        if err is None and self._job.error is not None:
            err = CaptureError(
                f"inspector worker stopped: {type(self._job.error).__name__}: {self._job.error}",
                "report this with the Node version",
            )
        st.error = err
        st.extra = {"pid": self.pid, "ws": self.client.ws_url, "bytes": self.client.bytes_read}
