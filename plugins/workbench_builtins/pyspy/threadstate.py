"""Which py-spy samples ran on a CPU, and what the others waited in.

py-spy's own idle guess reads ``/proc/PID/task/TID/wchan``, which recent kernels report
as ``0`` for every thread, so its default profile counts threads blocked in a condition,
``time.sleep`` or a socket read as running (measured: two "cores" of samples from a
GIL-bound process using one). Two things tell reliably on Linux instead:

1. **The native stack of each sample** (``py-spy --idle --native``): a thread whose
   innermost native frames are ``pthread_cond_wait``, ``futex``, ``sem_*wait``, ``poll``,
   ``recv``, ``clock_nanosleep``... is blocked there, not running. A thread waiting to get
   the GIL back sits in ``pthread_cond_*wait`` right under Python code (``take_gil`` is
   inlined). Native code that releases the GIL and computes (hashlib on big buffers,
   numpy) has no blocking frame at its leaf and stays CPU.
2. **Each thread's CPU time** (``utime + stime`` of ``/proc/PID/task/TID/stat``) over the
   chunk: a thread's on-CPU samples are scaled down to what it really used when the
   native stack missed a wait (an unsymbolised leaf), and up when py-spy fell behind its
   rate on a loaded machine. Threads born during the chunk count from zero; threads gone
   by its end keep their samples as classified.

The CPU profile keeps the samples classified running, weighed per thread to its CPU time. The
wall profile keeps every sample and appends the state as a leaf frame (``[lock wait]``,
``[socket read]``, ``[sleep]``, ``[running]``; ``, parked`` when the thread used no CPU
for PARKED_AFTER_S) so waits can be grouped (workbench.analysis.waits). Native frames are
stripped afterwards unless ``--native`` was asked.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from workbench.analysis.waits import PARKED_MARK, classify
from workbench.capture.namespaces import foreign_namespaces
from workbench.formats.collapsed import parse_frame

from .raw import MAX_FRAMES_PER_STACK, _split_frames, records

PARKED_AFTER_S = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# the per-thread cap forgives this much sampling noise before it scales samples down
CAP_SLACK = 1.15
_THREAD = re.compile(r"^thread \((?P<tid>\d+)\)")
_PY_FILE = re.compile(r"\.pyw?$|^<")
_LOC = re.compile(r" \((?P<file>[^()]*?)(?::\d+)?\)$")

# innermost native frame -> state; the first recognised frame from the leaf decides
_NATIVE_STATES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(take_gil|drop_gil|PyEval_RestoreThread|PyEval_AcquireThread)$"), "GIL wait"),
    (re.compile(r"^(clock_nanosleep|nanosleep|usleep|__nanosleep|pysleep|time_sleep)$"), "sleep"),
    (re.compile(r"^(e?poll|epoll_wait|epoll_pwait2?|ppoll|p?select|__select|kevent)$"), "poll/select"),
    (re.compile(r"^(recv|recvfrom|recvmsg|__libc_recv|read|__libc_read|readv|sock_recv\w*)$"), "socket read"),
    (re.compile(r"^(send|sendto|sendmsg|__libc_send|write|__libc_write|writev|sock_send\w*)$"), "socket write"),
    (re.compile(r"^(accept4?|connect|__libc_connect)$"), "connect"),
    (re.compile(r"^(waitpid|wait4|waitid)$"), "waiting"),
    (
        re.compile(
            r"^(pthread_cond_(timed|clock)?wait|__pthread_cond_wait\w*|futex\w*|__futex\w*|syscall"
            r"|sem_(timed|clock)?wait|__new_sem_wait\w*|do_futex_wait\w*|__lll_lock_wait\w*"
            r"|pthread_mutex_(timed|clock)?lock|PyThread_acquire_lock(_timed)?|PyCOND_\w*|PyMUTEX_\w*)$"
        ),
        "lock wait",
    ),
)
_SOCKET_CALLER = re.compile(r"^(sock_|internal_select|socket_)")


def is_python_frame(text: str) -> bool:
    m = _LOC.search(text)
    return m is not None and _PY_FILE.search(m.group("file")) is not None


def _function(text: str) -> str:
    m = _LOC.search(text)
    return text[: m.start()] if m is not None else text


def native_state(frames: list[str]) -> str:
    """The state of one sample from its native frames (root first): ``running`` or a wait."""
    i = len(frames)
    while i > 0 and not is_python_frame(frames[i - 1]):
        i -= 1
    tail = frames[i:]  # the native frames under the innermost Python frame, root first
    for j in range(len(tail) - 1, -1, -1):
        fn = _function(tail[j])
        for rx, state in _NATIVE_STATES:
            if rx.match(fn):
                if state == "lock wait":
                    caller = _function(tail[j - 1]) if j > 0 else ""
                    if j == 0:
                        return "GIL wait"  # straight under Python code: take_gil, inlined
                    if _SOCKET_CALLER.match(caller):
                        return "socket read"  # the GIL taken back after a socket call
                return state
    return "running"


def frame_state(frames: list[str]) -> str | None:
    """From Python frames alone (no native stack): None for a known blocking call, else running.

    None: the wall profile then adds no state frame, and the waits view reads the
    blocking call itself (``Condition.wait``, ``SocketIO.readinto``).
    """
    fr = [parse_frame(t) for t in reversed(frames[-6:])]
    return "running" if classify(fr) is None else None


@dataclass(slots=True)
class ThreadCpu:
    """utime+stime (seconds) of every thread of a process at one moment."""

    t: float
    cpu_s: dict[int, float]


def _tid_as_seen_inside(pid: int, name: str) -> int:
    """A thread's id in the target's own PID namespace (its last NSpid), as py-spy reports it."""
    try:
        with open(f"/proc/{pid}/task/{name}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return int(name)


def read_thread_cpu(pid: int, nested: bool = False) -> ThreadCpu:
    """``nested``: the target has its own PID namespace (a container), so its threads are
    keyed by the ids it sees itself, which are the ones py-spy's records carry."""
    out: dict[int, float] = {}
    t = time.time()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ThreadCpu(t, out)
    for name in tids:
        try:
            with open(f"/proc/{pid}/task/{name}/stat", "rb") as fh:
                data = fh.read(1024)
        except OSError:
            continue  # the thread ended meanwhile
        # the command may hold spaces and parentheses: fields start after the last ')'
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 12:
            tid = _tid_as_seen_inside(pid, name) if nested else int(name)
            out[tid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return ThreadCpu(t, out)


class ThreadStates:
    """Rewrites py-spy ``--idle --threads`` records into CPU-only or state-labelled ones."""

    def __init__(self, pid: int, *, wall: bool, native_stack: bool, keep_native: bool) -> None:
        self.pid = pid
        self.wall = wall
        self.native_stack = native_stack  # the records carry native frames to read states from
        self.keep_native = keep_native
        self.nested = "pid" in foreign_namespaces(pid)
        self.last = read_thread_cpu(pid, self.nested)
        self.last_busy: dict[int, float] = {}  # tid -> when its CPU time last moved
        self.dropped = 0
        self.scaled_away = 0  # net samples the per-thread weighing removed (negative: added)

    def rewrite(self, lines: Iterable[bytes], period_s: float) -> list[bytes]:
        """The chunk's records, rewritten; call right after the chunk ended."""
        now = read_thread_cpu(self.pid, self.nested)
        used = {tid: max(0.0, s - self.last.cpu_s.get(tid, 0.0)) for tid, s in now.cpu_s.items()}
        for tid, u in used.items():
            if u > 0 or tid not in self.last_busy:
                self.last_busy[tid] = now.t
        for tid in list(self.last_busy):
            if tid not in now.cpu_s:
                del self.last_busy[tid]
        self.last = now
        out: list[tuple[int, str, int]] = []  # (tid, text, count)
        kept: dict[int, int] = {}
        for rec in records(lines):
            text, sep, count_s = rec.rpartition(" ")
            if not sep or not count_s.isdigit():
                continue
            count = int(count_s)
            parts = _split_frames(text)[:MAX_FRAMES_PER_STACK]
            t_idx = next((i for i, p in enumerate(parts) if p.startswith("thread (")), -1)
            m = _THREAD.match(parts[t_idx]) if t_idx >= 0 else None
            tid = int(m.group("tid")) if m is not None else -1
            body = parts[t_idx + 1 :]
            state = native_state(body) if self.native_stack else frame_state(body)
            if self.native_stack and not self.keep_native:
                body = [p for p in body if is_python_frame(p)]
            if self.wall:
                parked = tid in self.last_busy and now.t - self.last_busy[tid] >= PARKED_AFTER_S
                if state is not None:
                    body = [*body, f"[{state}, {PARKED_MARK}]" if parked and state != "running" else f"[{state}]"]
            elif state != "running":
                self.dropped += count
                continue
            out.append((tid, ";".join([*parts[: t_idx + 1], *body]), count))
            kept[tid] = kept.get(tid, 0) + count
        if not self.wall:
            out = self._cap(out, kept, used, period_s)
        return [f"{text} {count}".encode() for _tid, text, count in out if count > 0]

    def _cap(
        self, out: list[tuple[int, str, int]], kept: dict[int, int], used: dict[int, float], period_s: float
    ) -> list[tuple[int, str, int]]:
        """Weigh each thread's running samples to the CPU time it used, down or up.

        Down: the native stack missed a wait. Up: py-spy fell behind its rate (a loaded
        machine: it runs on the same CPUs) and the samples it took stand for the ones it
        missed, as perf weights its samples by period. Either way the profile's CPU is the
        threads' measured CPU time, spread as the samples were.
        """
        target: dict[int, float] = {}
        for tid, n in kept.items():
            if tid not in used or n == 0:
                continue
            have = n * period_s
            if have > used[tid] * CAP_SLACK + period_s or have * CAP_SLACK + period_s < used[tid]:
                target[tid] = used[tid] / period_s
        if not target:
            return out
        acc: dict[int, float] = {}
        done: dict[int, int] = {}
        res = []
        for tid, text, count in out:
            if tid not in target:
                res.append((tid, text, count))
                continue
            # cumulative rounding: the thread's scaled counts add up to its target exactly
            acc[tid] = acc.get(tid, 0.0) + count * target[tid] / kept[tid]
            n = round(acc[tid]) - done.get(tid, 0)
            done[tid] = done.get(tid, 0) + n
            self.scaled_away += count - n
            res.append((tid, text, n))
        return res
