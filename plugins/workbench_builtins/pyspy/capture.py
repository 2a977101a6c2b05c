"""Live CPU stacks from py-spy: rolling ``py-spy record`` chunks handed over without a gap.

py-spy writes its output only when a recording ends, so a live view needs many short
recordings. Each chunk is a py-spy process started without a fixed end; when it is time
to cut a chunk, the *next* py-spy is started first, and only once it prints that it is
sampling does the current one get SIGINT (py-spy's Ctrl+C path: stop at the next
interval, write the file). The two overlap for at most one sampling interval instead of
leaving a gap of py-spy's attach time (~50 ms idle, much more on a loaded machine).
In blocking mode the successor's attach still disturbs the running sampler (both want
the target's threads under ptrace: measured ~1-3 failed samples per handover with one
thread, ~50 with fifty), which py-spy reports as errors; coverage accounts for them and
chunks lengthen (up to 2 s) when they cost more than 5%. Polling ``py-spy dump`` was
not used: every dump is a fresh attach, so it cannot sample at 100 Hz.

Each chunk also gets ``-d`` as a dead-man's switch: if the workbench dies without
stopping it, py-spy ends by itself a few seconds later, so it can never be orphaned for
long. py-spy runs in its own session so a terminal Ctrl+C reaches only the workbench,
which then stops the chunks in order and keeps what they captured.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from workbench.analysis.waits import share_series_name, wait_shares
from workbench.capture import CaptureStatus, HandleBase, Job, Sink, Target
from workbench.errors import CaptureError, TargetExited, WorkbenchError
from workbench.model import CPU_NS, SAMPLES, WALL_NS, EventKind, ProfileBatch, ProfileKey, SeriesBatch, SeriesPoint
from workbench.model.keys import CPU, WALL

from .checks import error_from_pyspy
from .raw import FrameParser, parse_raw
from .threadstate import ThreadStates

SOURCE = "pyspy"
FIRST_CHUNK_S = 0.5  # short first chunk: the first flame graph within the 2 s budget
ATTACH_TIMEOUT_S = 20.0  # py-spy retries attaching for a while on a busy machine
STOP_TIMEOUT_S = 3.0
DEADMAN_SLACK_S = 5
MAX_HANDOVER_RETRIES = 3
HANDOVER_ERROR_BUDGET = 0.05  # failed samples per expected, above which chunks get longer
MAX_CHUNK_S = 2.0  # live views still refresh at least every 2 s
MAX_OUTPUT_BYTES = 64 << 20


def _gone(pid: int) -> bool:
    """True once the target has exited (a zombie awaiting its parent counts as exited)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


@dataclass(slots=True)
class PySpyOptions:
    rate: int = 100
    chunk_s: float = 1.0
    duration: float = 0.0  # 0: until stop()
    idle: bool = False
    oncpu: bool = True  # CPU mode: only samples of threads running (threadstate.py)
    gil: bool = False
    native: bool = False
    subprocesses: bool = False
    nonblocking: bool = False
    threads: bool = False
    thread_filter: str = ""
    function: bool = False  # by line, as py-spy itself: `workbench list` and the source view need the line
    # False when py-spy cannot unwind native frames: the target's binaries exist only in its container
    native_ok: bool = True

    @property
    def reads_states(self) -> bool:
        """py-spy runs with --idle and our threadstate decides (wall states, honest CPU)."""
        return not self.gil and (self.idle or self.oncpu)

    @property
    def native_stack(self) -> bool:
        """Native frames are read for thread states (py-spy refuses them with --nonblocking)."""
        return self.reads_states and not self.nonblocking and self.native_ok

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PySpyOptions:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


class _Chunk:
    """One py-spy process recording into its own file."""

    def __init__(self, binary: Path, pid: int, opts: PySpyOptions, out: Path, index: int) -> None:
        self.out = out
        self.index = index
        self.ready = threading.Event()
        self.t_ready: float | None = None  # wall time py-spy said it was sampling
        self.t_end: float | None = None
        self.status_lines: deque[str] = deque(maxlen=50)
        self.stderr_path = out.with_suffix(".err")
        self.timed_out = False  # never said it was sampling within ATTACH_TIMEOUT_S
        deadman = math.ceil(max(opts.chunk_s, FIRST_CHUNK_S)) + DEADMAN_SLACK_S
        cmd = [str(binary), "record", "--pid", str(pid), "-f", "raw", "-o", str(out)]
        cmd += ["-r", str(opts.rate), "-d", str(deadman), "--threads", "--full-filenames"]
        for flag, on in (
            ("--idle", opts.idle or opts.reads_states),
            ("--gil", opts.gil),
            ("--native", opts.native or opts.native_stack),
            ("--subprocesses", opts.subprocesses),
            ("--nonblocking", opts.nonblocking),
            ("--function", opts.function),
        ):
            if on:
                cmd.append(flag)
        env = dict(os.environ, RUST_BACKTRACE="0", RUST_LOG="error")
        self._err: IO[bytes] = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in wait()
        self.t_spawn = time.time()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
            start_new_session=True,
        )
        self._reader: Job[None] = Job(lambda job: self._read_stdout(), name=f"pyspy-out-{index}").start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not self.ready.is_set() and "Sampling process" in line:
                self.t_ready = time.time()
                self.ready.set()
            self.status_lines.append(line[:500])
        self.proc.stdout.close()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def interrupt(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            self.t_end = time.time()

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Reap the process (SIGKILL if it does not end in time) and close its files."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self.t_end is None:
            self.t_end = time.time()
        self._reader.wait(2.0)
        self._err.close()
        return rc

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, "rb") as fh:
                fh.seek(max(0, self.stderr_path.stat().st_size - 8192))
                return fh.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def pyspy_counts(self) -> tuple[int | None, int | None]:
        """(Samples, Errors) from py-spy's closing line, if it wrote one."""
        for line in self.status_lines:
            if "Samples:" in line and "Errors:" in line:
                try:
                    tail = line.rsplit("Samples:", 1)[1].split()
                    return int(tail[0]), int(tail[2])
                except (IndexError, ValueError):
                    return None, None
        return None, None

    def target_exited(self) -> bool:
        return any("process exited" in ln for ln in self.status_lines)


@dataclass(slots=True)
class _Stats:
    started: float = 0.0
    first_ready: float | None = None
    first_batch: float | None = None
    last_end: float | None = None  # end of the newest parsed chunk: coverage is judged up to here
    covered_s: float = 0.0
    ticks: int = 0
    samples: int = 0
    batches: int = 0
    chunks: int = 0
    errors: int = 0
    late_messages: int = 0
    attach_s: deque[float] = field(default_factory=lambda: deque(maxlen=20))


class PySpyCapture(HandleBase):
    """The CaptureHandle of one py-spy attach. All work happens on one controller job."""

    stop_timeout_s = ATTACH_TIMEOUT_S + 2 * STOP_TIMEOUT_S + 5

    def __init__(self, binary: Path, pid: int, opts: PySpyOptions, sink: Sink) -> None:
        super().__init__(Target.from_pid(pid), sink, name=SOURCE, message="attaching")
        self.binary = binary
        self.pid = pid
        self.opts = opts
        # idle threads included: the values are wall time, the profile is a wall-clock one
        self.key = ProfileKey(SOURCE, self.target.value, WALL if opts.idle else CPU)
        self.sample_types = (SAMPLES, WALL_NS if opts.idle else CPU_NS)
        self.period_ns = 1e9 / opts.rate
        self._stats = _Stats(started=self._status.started)
        self._parser = FrameParser()
        self._states = (
            ThreadStates(pid, wall=opts.idle, native_stack=opts.native_stack, keep_native=opts.native)
            if opts.reads_states
            else None
        )
        self._tmp = Path(tempfile.mkdtemp(prefix=f"wb-pyspy-{pid}-"))
        self._live: list[_Chunk] = []
        self._last_error_ratio = 0.0
        self._n = 0
        self._job = self.make_job(lambda job: self._run(), str(pid))

    # --------------------------------------------------------- handle API
    def start(self) -> PySpyCapture:
        self._job.start()
        return self

    def stop(self) -> None:
        super().stop()
        self._reap_all()

    def _refresh_status(self, st: CaptureStatus) -> None:
        s = self._stats
        now = time.time()
        st.samples = s.samples
        st.batches = s.batches
        t0 = s.first_ready or s.started
        # judged over finished chunks only: the running chunk's samples are not in yet
        judged = max(1e-9, (s.last_end or now) - t0)
        st.samples_per_s = s.samples / judged if s.last_end else 0.0
        if s.last_end:
            expected = self.opts.rate * judged
            # py-spy does not report its interval count, so two views of it:
            # intervals inside recordings minus py-spy's failed samples (an estimate),
            # and the busiest thread's trace count (a lower bound, exact when a thread
            # is always on CPU). The true value is at least the bound.
            estimate = (self.opts.rate * s.covered_s - s.errors) / expected
            st.coverage = max(0.0, min(1.0, max(estimate, s.ticks / expected)))
        st.extra = {
            "busiest_thread_coverage": min(1.0, s.ticks / (self.opts.rate * judged)) if s.last_end else None,
            "window_coverage": min(1.0, s.covered_s / judged) if s.last_end else None,
            "chunks": s.chunks,
            "pyspy_errors": s.errors,
            "late_messages": s.late_messages,
            "attach_s": (sum(s.attach_s) / len(s.attach_s)) if s.attach_s else None,
            "first_batch_s": (s.first_batch - s.started) if s.first_batch else None,
            "rate": self.opts.rate,
        }

    # --------------------------------------------------------- controller
    def _spawn(self) -> _Chunk:
        self._n += 1
        c = _Chunk(self.binary, self.pid, self.opts, self._tmp / f"chunk-{self._n}.txt", self._n)
        self._live.append(c)
        with self._lock:
            self._stats.chunks += 1
        return c

    def _wait_ready(self, c: _Chunk, other: _Chunk | None) -> str:
        """'ready', 'failed' (c died first), 'other' (the running chunk ended) or 'stop'."""
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while time.monotonic() < deadline:
            if c.ready.wait(0.01):
                return "ready"
            if not c.alive():
                c._reader.wait(1.0)
                return "ready" if c.ready.is_set() else "failed"
            if other is not None and not other.alive():
                return "other"
            if other is None and self._job.cancelled:
                return "stop"
        c.timed_out = True
        return "failed"

    def _run(self) -> None:
        try:
            self.event(EventKind.CAPTURE_STARTED, f"py-spy attached to PID {self.pid} at {self.opts.rate} Hz")
            self._loop()
            self.update_status(message=f"stopped after {self._stats.samples} samples")
        except WorkbenchError as exc:
            self.set_error(exc, first=False)
        except Exception as exc:  # a bug here must still end the capture cleanly, visibly
            where = traceback.extract_tb(exc.__traceback__)[-1]  # the line a bug report needs
            self.set_error(
                CaptureError(
                    f"py-spy capture failed: {type(exc).__name__}: {exc} "
                    f"(at {os.path.basename(where.filename)}:{where.lineno})",
                    "report a bug with this line",
                ),
                first=False,
            )
        finally:
            self._reap_all()
            shutil.rmtree(self._tmp, ignore_errors=True)
            self.update_status(running=False)
            st = self.status()
            if isinstance(st.error, TargetExited):
                self.event(EventKind.TARGET_EXITED, st.error.message)
            self.event(EventKind.CAPTURE_STOPPED, st.message or "py-spy capture stopped")

    def _loop(self) -> None:
        cur = self._spawn()
        state = self._wait_ready(cur, None)
        if state == "stop":
            cur.interrupt()
            cur.wait()
            return
        if state != "ready":
            cur.interrupt()
            rc = cur.wait()
            raise self._attach_error(cur, rc)
        self._note_ready(cur)
        self.update_status(message=f"sampling PID {self.pid} at {self.opts.rate} Hz")
        chunk_len = FIRST_CHUNK_S
        end_at = (cur.t_ready or time.time()) + self.opts.duration if self.opts.duration > 0 else math.inf
        while True:
            assert cur.t_ready is not None
            lead = self._lead(chunk_len)
            cut_at = min(cur.t_ready + chunk_len, end_at)
            # sleep until it is time to start the successor (or stop, or the chunk ends)
            while not self._job.cancelled and cur.alive() and time.time() < cut_at - lead:
                self._job.sleep(min(0.05, max(0.0, cut_at - lead - time.time())))
            last = self._job.cancelled or time.time() >= end_at - 1e-3 or cut_at >= end_at
            if not cur.alive():
                # py-spy ended on its own: the target exited, or the dead-man switch fired
                self._finish(cur)
                if cur.target_exited() or _gone(self.pid):
                    raise self._exited()
                if last:
                    return
                restarted = self._restart()
                if restarted is None:
                    return
                cur = restarted
                chunk_len = self.opts.chunk_s
                continue
            if last:
                if not self._job.cancelled:
                    while time.time() < end_at and not self._job.cancelled and cur.alive():
                        self._job.sleep(min(0.05, end_at - time.time()))
                cur.interrupt()
                self._finish(cur)
                if cur.target_exited():
                    raise self._exited()
                return
            nxt = self._handover(cur)
            if nxt is None:
                return
            cur = nxt
            chunk_len = self._next_chunk_len(chunk_len)

    def _handover(self, cur: _Chunk) -> _Chunk | None:
        """Start the successor, then end ``cur``; None when the capture should end quietly.

        A successor can fail for a moment while ``cur`` holds the target's threads
        under ptrace (blocking mode), so failures are retried while ``cur`` keeps
        sampling; only repeated failures, or a vanished target, end the capture.
        """
        for attempt in range(MAX_HANDOVER_RETRIES + 1):
            nxt = self._spawn()
            state = self._wait_ready(nxt, cur)
            if state == "ready":
                cur.interrupt()
                self._finish(cur)
                self._note_ready(nxt)
                return nxt
            if state == "other":
                # cur ended by itself while nxt attaches (target exit or dead-man switch)
                self._finish(cur)
                if cur.target_exited() or _gone(self.pid):
                    nxt.interrupt()
                    self._discard(nxt)
                    raise self._exited()
                if self._wait_ready(nxt, None) == "ready":
                    self._note_ready(nxt)
                    return nxt
                self._fail(nxt)
                return None
            nxt.interrupt()
            rc = self._discard(nxt)
            if _gone(self.pid) or self._job.cancelled or not cur.alive():
                break
            if attempt < MAX_HANDOVER_RETRIES:
                time.sleep(0.05 * (attempt + 1))
                continue
            cur.interrupt()
            self._finish(cur)
            raise self._attach_error(nxt, rc)
        cur.interrupt()
        self._finish(cur)
        if cur.target_exited() or _gone(self.pid):
            raise self._exited()
        if self._job.cancelled:
            return None
        return self._restart()  # cur ended by itself (dead-man switch) while nxt failed

    def _fail(self, c: _Chunk) -> None:
        c.interrupt()
        rc = self._discard(c)
        if _gone(self.pid):
            raise self._exited()
        if self._job.cancelled:
            return
        raise self._attach_error(c, rc)

    def _attach_error(self, c: _Chunk, rc: int) -> WorkbenchError:
        if c.timed_out:
            return CaptureError(
                f"py-spy did not attach to PID {self.pid} within {ATTACH_TIMEOUT_S:.0f} s",
                "the machine may be overloaded, or the target stopped (SIGSTOP, a debugger); retry",
            )
        return error_from_pyspy(c.stderr_text(), self.pid, rc)

    def _discard(self, c: _Chunk) -> int:
        """Reap a chunk that never sampled (or whose data is not wanted)."""
        rc = c.wait()
        self._live = [x for x in self._live if x is not c]
        with contextlib.suppress(OSError):
            c.out.unlink()
        return rc

    def _restart(self) -> _Chunk | None:
        """A new chunk after the previous one ended by itself; None if stop() came meanwhile."""
        c = self._spawn()
        state = self._wait_ready(c, None)
        if state != "ready":
            c.interrupt()
            rc = self._discard(c)
            if _gone(self.pid):
                raise self._exited()
            if state == "stop":
                return None
            raise self._attach_error(c, rc)
        self._note_ready(c)
        return c

    def _next_chunk_len(self, chunk_len: float) -> float:
        """Longer chunks when handovers cost samples.

        In blocking mode two py-spy processes contend for ptrace while the successor
        attaches; with many threads that costs tens of intervals per handover (measured:
        ~50 at 50 threads), so fewer handovers keep coverage up at the price of a slower
        live refresh.
        """
        base = max(chunk_len, self.opts.chunk_s)
        if self._last_error_ratio > HANDOVER_ERROR_BUDGET:
            return min(max(MAX_CHUNK_S, self.opts.chunk_s), base * 2)
        return base if base > self.opts.chunk_s else self.opts.chunk_s

    def _lead(self, chunk_len: float) -> float:
        """How early to start the successor: a bit more than the typical attach time.

        Capped at half a chunk: on a loaded machine attach can take longer than a chunk,
        and starting successors back to back would only add load and shorten chunks.
        """
        a = sorted(self._stats.attach_s)
        typical = a[len(a) // 2] if a else 0.2
        return min(chunk_len / 2, max(0.05, 1.2 * typical))

    def _note_ready(self, c: _Chunk) -> None:
        with self._lock:
            if c.t_ready is not None:
                self._stats.attach_s.append(c.t_ready - c.t_spawn)
                if self._stats.first_ready is None:
                    self._stats.first_ready = c.t_ready

    def _exited(self) -> TargetExited:
        s = self._stats
        return TargetExited(
            f"PID {self.pid} exited during capture; kept {s.samples} samples from {s.batches} batches",
            "nothing to do; restart the target to capture more",
        )

    def _finish(self, c: _Chunk) -> None:
        """Reap a chunk's process, parse its file, hand the batch to the sink."""
        c.wait()
        self._live = [x for x in self._live if x is not c]
        if c.t_ready is None:
            return
        t0, t1 = c.t_ready, c.t_end or time.time()
        lines: list[bytes] = []
        if c.out.exists():
            size = c.out.stat().st_size
            with open(c.out, "rb") as fh:
                lines = fh.read(MAX_OUTPUT_BYTES).splitlines()
            if size > MAX_OUTPUT_BYTES:
                lines = lines[:-1]  # the last line may be cut in half
            c.out.unlink()
        if self._states is not None:
            lines = self._states.rewrite(lines, self.period_ns / 1e9)
        chunk = parse_raw(
            lines,
            period_ns=self.period_ns,
            keep_threads=self.opts.threads,
            thread_filter=self.opts.thread_filter,
            parser=self._parser,
        )
        _, errors = c.pyspy_counts()
        late = sum(1 for ln in c.status_lines if "behind in sampling" in ln)
        with self._lock:
            s = self._stats
            s.covered_s += max(0.0, t1 - t0)
            s.ticks += chunk.ticks
            s.samples += chunk.samples
            s.errors += errors or 0
            self._last_error_ratio = (errors or 0) / max(1.0, self.opts.rate * (t1 - t0))
            s.late_messages += late
            s.last_end = t1 if s.last_end is None else max(s.last_end, t1)
        meta = {
            "pid": str(self.pid),
            "rate_hz": str(self.opts.rate),
            "period_ns": str(int(self.period_ns)),
            "sampler": "py-spy record (rolling chunks)",
        }
        if self._states is not None and not self.opts.idle:
            meta["cpu"] = (
                "samples of threads on a CPU: native stack state"
                if self.opts.native_stack
                else "samples not in a known blocking call"
            ) + ", cut per thread to its CPU time (/proc/PID/task/TID/stat)"
        if len(chunk.stacks):
            self.sink.put(
                ProfileBatch(
                    self.key, self.sample_types, chunk.stacks, t0, t1, source=SOURCE, meta=meta, runtime="python"
                )
            )
            if self.opts.idle:  # the wall profile's waits by kind over time (the timeline chart)
                shares = wait_shares(chunk.stacks, 1)
                self.sink.put(SeriesBatch([SeriesPoint(share_series_name(k), t1, v) for k, v in shares.items()]))
        with self._lock:
            self._stats.batches += 1
            if self._stats.first_batch is None:
                self._stats.first_batch = time.time()

    def _reap_all(self) -> None:
        for c in list(self._live):
            c.interrupt()
            c.wait()
        self._live.clear()
