"""The pprof capture: profiles, GC/memory and pool series from a service URL.

One capture = one base URL. Up to three workers per capture, each strictly sequential,
so a service sees at most three requests from us at a time and never two CPU profiles:
the CPU loop (back-to-back ``profile?seconds=N``), the snapshot loop (heap, allocs,
goroutine, mutex, block every ``profile_interval``) and the metrics poller (every
``interval``). Each worker backs off when answers are slow or fail.

Several targets in one session: profile keys always carry the URL
(``pprof:<url>:<kind>``). Series use DESIGN.md's names as they are; a capture given
``label=NAME`` suffixes each of its series with ``@NAME`` (``go.goroutines@gateway``)
so two services do not write into one series.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.capture import CaptureStatus, HandleBase, Job, Sink, Target
from workbench.errors import PluginError, TargetExited, WorkbenchError
from workbench.model import (
    INUSE_OBJECTS,
    INUSE_SPACE,
    EventKind,
    FindingsBatch,
    Profile,
    ProfileBatch,
    ProfileKey,
    SampleType,
    SeriesBatch,
    StackSet,
)
from workbench.model.keys import GOROUTINE_LEAK

from . import cputurns
from .client import CPU_TIMEOUT_SLACK_S, Backoff, HttpClient
from .discovery import KIND_PATH, Endpoints
from .errors import ProfileEmpty, ProfileNotServed, ProfilerBusy, ServiceUnreachable
from .goroutines import wall_loop
from .poller import MetricsPoller
from .pools import safe_pool_name
from .profiles import EMPTY_NOTES, KINDS, CumulativeDelta, column_indices, decode_profile, select_columns

SOURCE = "pprof"
# "leaks": the snapshots leak detection reads (heap in use, goroutines), as `workbench leaks --url` asks
# "auto": CPU when the service serves pprof, else series only (a /metrics-only service)
# "wall": every goroutine's stack and state over time (goroutines.py), not a pprof endpoint of its own
PROFILE_CHOICES = ("auto", *KINDS, "wall", "all", "leaks", "none")
GIVE_UP_AFTER_S = 30.0  # unreachable this long: the service is gone, end the capture
_STOP_GRACE_S = 2.0


def _profile_kinds(choice: str, endpoints: Endpoints | None = None) -> list[str]:
    if choice == "auto":
        # CPU, plus the snapshots the leak engine judges (heap in use, goroutines by stack), so
        # a default live session names growing maps and leaking goroutines as `leaks` does
        return [k for k in ("cpu", "heap", "goroutine") if endpoints is None or endpoints.serves(k)]
    if choice == "all":  # every kind this service lists (other runtimes serving pprof offer fewer)
        return [k for k in KINDS if endpoints is None or endpoints.serves(k)]
    if choice == "none":
        return []
    if choice == "leaks":
        return ["heap", "goroutine"]
    return [choice]


class PprofCapture(HandleBase):
    """A running capture of one URL; the handle ``start`` returns."""

    def __init__(self, client: HttpClient, endpoints: Endpoints, opts: dict[str, Any], sink: Sink) -> None:
        super().__init__(Target.from_url(client.base_url), sink, name=SOURCE, message="")
        self.client = client
        # CPU requests on a client of their own: a newer CPU capture of this URL interrupts only them
        self.cpu_client = HttpClient(client.base_url, timeout_s=client.timeout_s)
        self.ep = endpoints
        self.opts = opts
        self.url = client.base_url
        # only Go serves goroutine profiles and expvar; another runtime speaking pprof is not judged as Go
        self.runtime = "go" if endpoints.serves("goroutine") or endpoints.vars else ""
        raw_label = str(opts.get("label") or "").strip()
        # the label becomes part of series names: same rules as pool names (no separators, no markup)
        self.label = safe_pool_name(raw_label) if raw_label else ""
        self.kinds = _profile_kinds(str(opts["profile"]), endpoints)
        self.started = self._status.started
        duration = float(opts["duration"] or 0.0)
        self.deadline: float | None = self.started + duration if duration > 0 else None
        self.max_bytes = int(opts["max_mb"]) * 1024 * 1024
        self._errors = 0
        self._loop_errors: dict[str, WorkbenchError] = {}  # latest problem of each worker
        self._fatal: WorkbenchError | None = None
        self._down_since: float | None = None
        self._notes: list[str] = []
        self._cpu_profiles = 0
        self._snapshots: dict[str, int] = {}
        self._nonzero: set[str] = set()  # kinds that delivered any value at all
        self._polls = 0
        self._stopped = False
        rate = int(opts.get("rate") or 0)
        if rate not in (0, 100) and "cpu" in self.kinds:
            self._notes.append(f"rate {rate} ignored: net/http/pprof samples CPU at a fixed 100 Hz")
        for k in self.kinds:
            if k in EMPTY_NOTES:
                self._notes.append(EMPTY_NOTES[k])

    # ------------------------------------------------------------ naming
    def series_name(self, name: str) -> str:
        return f"{name}@{self.label}" if self.label else name

    def key(self, kind: str) -> ProfileKey:
        return ProfileKey(SOURCE, self.url, kind)

    # ------------------------------------------------------------ lifecycle
    def _launch(self) -> None:
        self.event(EventKind.CAPTURE_STARTED, f"pprof-fetch {self.url}: {self.ep.summary()}", t=self.started)
        if "cpu" in self.kinds:
            self.spawn(self._cpu_loop, "cpu")
        if "wall" in self.kinds:
            self.spawn(lambda job: wall_loop(self, job), "wall")
        snaps = [k for k in self.kinds if k not in ("cpu", "wall")]
        if snaps:
            self.spawn(lambda job: self._snapshot_loop(job, snaps), "snap")
        if self.ep.vars or self.ep.metrics or self.ep.pprof_index:
            self.spawn(self._metrics_loop, "metrics")

    def stop(self) -> None:
        with self._lock:
            again, self._stopped = self._stopped, True
        if again:
            self.join(_STOP_GRACE_S)
            return
        self.cancel()
        if not self.join(_STOP_GRACE_S):
            # a CPU profile still has seconds to run: drop it rather than keep the caller waiting
            self.client.abort()
            self.cpu_client.abort()
            self.join(5.0)
        self.event(EventKind.CAPTURE_STOPPED, f"pprof-fetch {self.url} stopped")

    def _refresh_status(self, st: CaptureStatus) -> None:
        jobs = self._jobs
        st.running = any(not j.done for j in jobs)
        for j in jobs:
            if j.error is not None and self._fatal is None:
                # a bug, not the service: say so rather than let a worker vanish quietly
                self._fatal = PluginError(
                    f"pprof-fetch worker {j.name} stopped: {type(j.error).__name__}: {j.error}",
                    "report this with the service's profile; the other workers keep capturing",
                )
        elapsed = max(1e-9, time.time() - self.started)
        st.samples_per_s = st.samples / elapsed
        parts = [f"{self.url}: {self._cpu_profiles} CPU profiles, {self._polls} metric polls"]
        parts += [f"{n} {k} snapshots" for k, n in self._snapshots.items()]
        msg = ", ".join(parts)
        if self._loop_errors:
            msg += "; problems: " + "; ".join(str(e) for e in self._loop_errors.values())
        if self._notes:
            msg += "; note: " + "; ".join(self._notes)
        st.message = msg
        # while running only a fatal error is one (transient trouble is in the message and is
        # retried); once ended, a worker that failed and never delivered is the user's
        # problem, the profile they asked for first
        st.error = self._fatal
        if st.error is None and not st.running:
            produced = {
                "cpu": self._cpu_profiles,
                "snap": sum(n for k, n in self._snapshots.items() if k != "wall"),
                "wall": self._snapshots.get("wall", 0),
                "metrics": self._polls,
            }
            failed = [
                self._loop_errors[k]
                for k in ("cpu", "wall", "snap", "metrics")
                if k in self._loop_errors and not produced[k]
            ]
            st.error = failed[0] if failed else self._empty_error()
        st.extra = {
            "url": self.url,
            "serves": self.ep.summary(),
            "errors": self._errors,
            "notes": list(self._notes),
            "requests": self.client.requests + self.cpu_client.requests,
            "bytes": self.client.bytes_read + self.cpu_client.bytes_read,
        }

    def _empty_error(self) -> WorkbenchError | None:
        """A mutex/block capture that only ever saw zeros: say why instead of writing an empty file."""
        if len(self.kinds) != 1 or self.kinds[0] not in EMPTY_NOTES:
            return None
        kind = self.kinds[0]
        if not self._snapshots.get(kind) or kind in self._nonzero:
            return None
        return ProfileEmpty(f"the {kind} profile of {self.url} is empty", EMPTY_NOTES[kind])

    # ------------------------------------------------------------ helpers
    def _put(self, batch: ProfileBatch | SeriesBatch | FindingsBatch, samples: int = 0) -> None:
        self.put(batch, samples)

    def _ok(self) -> None:
        with self._lock:
            self._down_since = None

    def _problem(self, exc: WorkbenchError, loop: str) -> None:
        """Record a failed request; after GIVE_UP_AFTER_S of unreachability the capture ends."""
        now = time.time()
        with self._lock:
            self._errors += 1
            self._loop_errors[loop] = exc
            if isinstance(exc, ServiceUnreachable):
                if self._down_since is None:
                    self._down_since = now
                elif now - self._down_since > GIVE_UP_AFTER_S and self._fatal is None:
                    self._fatal = TargetExited(
                        f"{self.url} stopped answering for {GIVE_UP_AFTER_S:.0f} s ({exc.message}); "
                        "what was captured is kept",
                        "restart the service and attach again",
                    )
        if self._fatal is not None:
            self.cancel()

    def _fail(self, exc: WorkbenchError, loop: str) -> None:
        with self._lock:
            self._errors += 1
            self._loop_errors[loop] = exc
            if self._fatal is None:
                self._fatal = exc

    def _time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    def _wait(self, job: Job[None], seconds: float) -> bool:
        """Sleep ``seconds`` (cut at the deadline); True when the loop should end."""
        left = self._time_left()
        if left is not None:
            seconds = min(seconds, max(0.0, left))
        return job.sleep(seconds) or (left is not None and left - seconds <= 0.05)

    # ------------------------------------------------------------ CPU
    def _cpu_loop(self, job: Job[None]) -> None:
        ticket = cputurns.take(self.url, self.cpu_client)
        try:
            self._cpu_turns(job, ticket)
        finally:
            ticket.leave()

    def _cpu_turns(self, job: Job[None], ticket: cputurns.Ticket) -> None:
        cpu_seconds = max(1, int(self.opts["cpu_seconds"]))
        backoff = Backoff(base_s=0.0, max_s=30.0, slow_s=5.0)
        first = True
        while not job.cancelled:
            left = self._time_left()
            if left is not None and left < 0.5:
                return
            # live: a 1 s profile first so a flame graph appears at once, then full windows
            secs = 1 if first and self.deadline is None else cpu_seconds
            if left is not None:
                secs = max(1, min(secs, round(left)))
            while ticket.newer_active():  # a newer CPU capture of this service has the profiler
                if self._wait(job, 0.2):
                    return
            ticket.took_interrupt()  # an interrupt while no request was in flight cut nothing
            t0 = time.time()
            try:
                resp = self.cpu_client.get(
                    f"/debug/pprof/profile?seconds={secs}",
                    timeout_s=secs + CPU_TIMEOUT_SLACK_S,
                    max_bytes=self.max_bytes,
                    what="CPU profile",
                )
                # a profile that arrived is kept even if stop() came meanwhile: it is the last window
                prof = decode_profile(resp, "cpu")
                t1 = time.time()
                ss = prof.to_stackset(labels=True)  # pprof.Do labels travel with their samples
                meta = {"url": self.url, "kind": "cpu", "seconds": str(secs), "rate_hz": "100"}
                self._put(
                    ProfileBatch(
                        self.key("cpu"), prof.sample_types, ss, t0, t1, source=SOURCE, meta=meta, runtime=self.runtime
                    ),
                    samples=int(ss.values[:, 0].sum()) if len(ss) else 0,
                )
                with self._lock:
                    self._cpu_profiles += 1
                self._ok()
                backoff.success(max(0.0, resp.elapsed_s - secs))
                first = False
            except ProfileNotServed as exc:
                self._fail(exc, "cpu")
                return
            except ProfilerBusy as exc:
                if ticket.older_active():  # an older loop of ours is giving the profiler back
                    if self._wait(job, 0.2):
                        return
                    continue
                # someone else's profile runs for its own duration: wait at least a window
                self._problem(exc, "cpu")
                backoff.failure()
                if self._wait(job, max(backoff.delay(), float(cpu_seconds))):
                    return
                continue
            except WorkbenchError as exc:
                if job.cancelled:
                    return
                if ticket.took_interrupt():
                    continue  # a newer CPU capture of this service took the profiler: wait our turn
                self._problem(exc, "cpu")
                backoff.failure()
            if backoff.delay() > 0 and self._wait(job, backoff.delay()):
                return

    # ------------------------------------------------------------ snapshots
    def _snapshot_loop(self, job: Job[None], kinds: list[str]) -> None:
        interval = max(0.5, float(self.opts["profile_interval"]))
        backoff = Backoff(base_s=interval, max_s=max(60.0, interval), slow_s=float(self.opts["timeout"]) / 2)
        deltas: dict[str, CumulativeDelta] = {}
        last_t: dict[str, float] = {}
        # heap and allocs are one endpoint with four columns: fetch once, emit both
        fetches: list[tuple[str, list[str]]] = []
        heapish = [k for k in kinds if k in ("heap", "allocs")]
        if heapish:
            first = heapish[0]  # the asked-for kind is emitted first, the other from the same answer
            fetches.append((KIND_PATH[first], [first, "allocs" if first == "heap" else "heap"]))
        fetches += [(KIND_PATH[k], [k]) for k in kinds if k not in ("heap", "allocs")]
        if "goroutine" in kinds and self._serves_goroutineleak():
            fetches.append((GOROUTINE_LEAK, [GOROUTINE_LEAK]))
        final = False
        while True:
            t_round = time.monotonic()
            for path, emit in fetches:
                if job.cancelled:
                    return
                t = time.time()
                try:
                    resp = self.client.get(f"/debug/pprof/{path}", max_bytes=self.max_bytes, what=f"{emit[0]} profile")
                    prof = decode_profile(resp, emit[0])
                except ProfileNotServed as exc:
                    self._fail(exc, "snap")
                    return
                except WorkbenchError as exc:
                    if job.cancelled:
                        return
                    self._problem(exc, "snap")
                    backoff.failure()
                    continue
                self._ok()
                full = prof.to_stackset()
                for kind in emit:
                    self._emit_snapshot(kind, prof, full, t, deltas=deltas, last_t=last_t)
            backoff.success(time.monotonic() - t_round)
            if final or job.cancelled:
                return
            if self._wait(job, backoff.delay()):
                if job.cancelled:
                    return
                final = True  # the deadline: one last fetch so deltas cover the whole capture

    def _serves_goroutineleak(self) -> bool:
        """Go 1.26+ serves /debug/pprof/goroutineleak (listed in its index, or answering a probe;
        a 404 means absent, as on every older Go). A probe costs the service one GC on 1.26."""
        if GOROUTINE_LEAK in self.ep.profiles:
            return True
        if not self.ep.pprof_index or self.runtime != "go":
            return False
        try:
            self.client.get(f"/debug/pprof/{GOROUTINE_LEAK}", max_bytes=self.max_bytes, what="goroutineleak profile")
        except WorkbenchError:
            return False  # 404 (not served) or not answering: the trend of goroutine counts still judges
        with self._lock:
            self._notes.append(f"/debug/pprof/{GOROUTINE_LEAK} served: leaked goroutines come from the Go runtime")
        return True

    def _emit_snapshot(
        self,
        kind: str,
        prof: Profile,
        full: StackSet,
        t: float,
        *,
        deltas: dict[str, CumulativeDelta],
        last_t: dict[str, float],
    ) -> None:
        meta = {"url": self.url, "kind": kind}
        if kind in EMPTY_NOTES:
            meta["note"] = EMPTY_NOTES[kind]
        t0, replace, runtime = t, False, self.runtime
        if kind == "heap":
            cols = column_indices(prof, ("inuse_space", "inuse_objects"))
            if cols is None:
                # Node's pprof names its in-use columns space/bytes and objects/count
                cols = column_indices(prof, ("space", "objects"))
                if cols is None:
                    return
                runtime = "node"
            ss, _types = select_columns(prof, cols, full)
            types: tuple[SampleType, ...] = (INUSE_SPACE, INUSE_OBJECTS)
            meta["values"] = "in use at the last GC before the fetch; replaced by each fetch"
            replace = True
        elif kind == GOROUTINE_LEAK:
            ss, types = full, prof.sample_types
            meta["values"] = "goroutines the Go runtime found leaked; replaced by each fetch"
            replace = True
        elif kind == "goroutine":
            ss, types = full, prof.sample_types
            n = self._snapshots.get(kind, 0) + 1
            meta["values"] = f"sum of {n} snapshots; cut a window around one poll to see that moment"
        else:
            if kind == "allocs":
                cols = column_indices(prof, ("alloc_space", "alloc_objects"))
                if cols is None:
                    return
                cum, types = select_columns(prof, cols, full)
            else:
                cum, types = full, prof.sample_types
            tracker = deltas.get(kind)
            if tracker is None or tracker.sample_types != types:
                tracker = deltas[kind] = CumulativeDelta(types)
            ss, baseline = tracker.update(cum)
            t0 = t if baseline else last_t.get(kind, t)
            last_t[kind] = t
            meta["values"] = "cumulative since the service started; windows hold the growth between fetches"
        batch = ProfileBatch(
            self.key(kind), types, ss, t0, t, source=SOURCE, meta=meta, replace=replace, runtime=runtime
        )
        self._put(batch, samples=len(ss))  # for snapshots, "samples" counts stacks seen
        with self._lock:
            self._snapshots[kind] = self._snapshots.get(kind, 0) + 1
            if len(ss) and bool(ss.values.any()):
                self._nonzero.add(kind)

    # ------------------------------------------------------------ metrics
    def _metrics_loop(self, job: Job[None]) -> None:
        interval = max(0.2, float(self.opts["interval"]))
        poller = MetricsPoller(self.client, self.ep, self.series_name, target=self.url)
        backoff = Backoff(base_s=interval, max_s=max(30.0, interval), slow_s=float(self.opts["timeout"]) / 2)
        final = False
        while not job.cancelled:
            t_start = time.monotonic()
            res = poller.poll()
            # a poll that answered while Stop was pressed still counts: nothing fetched is lost
            if res.points:
                self._put(SeriesBatch(res.points))
            for f in res.findings:
                self._put(FindingsBatch([f], replace_target=f.target))
            if job.cancelled:
                return  # its errors are the aborted requests of the stop, not the service's
            for e in res.errors:
                self._problem(e, "metrics")
            if res.points:
                with self._lock:
                    self._polls += 1
                self._ok()  # partly answered: the service is there
                backoff.success(time.monotonic() - t_start)
            elif res.errors:
                backoff.failure()
            if final:
                return
            if self._wait(job, backoff.delay()):
                if job.cancelled:
                    return
                final = True


__all__ = ["GIVE_UP_AFTER_S", "PROFILE_CHOICES", "SOURCE", "PprofCapture"]
