"""What a wall-clock profile's stacks wait on: pool, lock, channel/queue, network, sleep, GC.

Wall-clock sources put the thread's or goroutine's state at the leaf as a *state frame*
(``[select]``, ``[chan receive]``, ``[IO wait]``, ``[sleep]``, ``[running]``): Go's
goroutine dumps name it, and the Python source derives it from the native stack. A stack
is classified from its state frame and the frames just above it, leaf first:

- the state (or a well-known blocking function) gives the primitive: lock, channel/queue,
  network, sleep, GC;
- a pool frame a few frames above the primitive (``database/sql.(*DB).conn``, a Python
  ``Queue.get`` called from a class or file named like a pool, an asyncio task's
  ``[semaphore wait]`` under ``ConnectionPool.connection``) makes it "waiting for a pool
  connection", the wait a user fixes by sizing the pool or holding connections less.

"The frame that waits" is the first frame above the runtime's own machinery (the caller of
``runtime.selectgo`` or of ``Condition.wait``, or the pool frame): the line a user reads.

Pure functions over profiles and stack sets; no Qt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..model.frames import Frame
from ..model.profile import Profile, StackSet
from .treeops import nonzero_nodes

IntArray = npt.NDArray[np.int64]

# display order of the "Waiting on" view and of the wait.<kind>.share series
WAIT_KINDS: tuple[str, ...] = ("pool", "lock", "channel", "network", "sleep", "gc", "other")
WAIT_LABELS: dict[str, str] = {
    "pool": "pool / connection",
    "lock": "lock / mutex",
    "channel": "channel / queue",
    "network": "network",
    "sleep": "sleep",
    "gc": "GC",
    "other": "other wait",
}
WAIT_EXPLAIN: dict[str, str] = {
    "pool": "waiting for a pool connection",
    "lock": "waiting for a lock",
    "channel": "waiting on a channel or queue",
    "network": "waiting for the network",
    "sleep": "sleeping",
    "gc": "waiting for the garbage collector",
    "other": "waiting (kind not told)",
}
SERIES_PREFIX = "wait."
SERIES_SUFFIX = ".share"

# A goroutine Go reports waiting a minute or more, or a thread that used no CPU for a whole
# capture window: leaked or background, hidden with one click ("hide parked").
PARKED_MARK = "parked"
PARKED_PATTERN = r"^\[.*, parked\]$"
STATES_RUNNING = frozenset({"running", "runnable", "syscall", "on CPU"})

# state frame text (without brackets, and without ", parked") -> wait kind
_STATE_KIND: dict[str, str] = {
    # Go (runtime2.go waitReason strings)
    "chan receive": "channel",
    "chan send": "channel",
    "chan receive (nil chan)": "channel",
    "chan send (nil chan)": "channel",
    "select": "channel",
    "select (no cases)": "channel",
    "sync.Cond.Wait": "lock",
    "semacquire": "lock",
    "sync.Mutex.Lock": "lock",
    "sync.RWMutex.Lock": "lock",
    "sync.RWMutex.RLock": "lock",
    "sync.WaitGroup.Wait": "lock",
    "IO wait": "network",
    "sleep": "sleep",
    "GC assist wait": "gc",
    "GC sweep wait": "gc",
    "GC scavenge wait": "gc",
    "GC worker (idle)": "gc",
    "GC assist marking": "gc",
    "GC weak to strong wait": "gc",
    "garbage collection": "gc",
    "garbage collection scan": "gc",
    "finalizer wait": "gc",
    "force gc (idle)": "gc",
    "stopping the world": "gc",
    "wait for GC cycle": "gc",
    # Python (the pyspy source's states, from the native stack)
    "lock wait": "lock",
    "GIL wait": "lock",
    "condition wait": "lock",
    "socket read": "network",
    "socket write": "network",
    "poll/select": "network",
    "connect": "network",
    "file read": "other",
    "waiting": "other",
    # Python asyncio tasks (the runtime agent's states, from the task's innermost asyncio frame)
    "semaphore wait": "lock",
    "event wait": "lock",
    "queue get": "channel",
    "queue put": "channel",
    "accept": "network",
    "task wait": "other",
    "future wait": "other",
}

# frames that block whatever the state says (for sources without state frames)
_BLOCKING_FUNCS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\(idle\)$"), "other"),  # V8: the event loop waiting for work
    (re.compile(r"(^|\.)sleep$"), "sleep"),
    (re.compile(r"^time\.Sleep$"), "sleep"),
    (re.compile(r"(^|\.)(Lock|RLock|Semaphore|BoundedSemaphore)\.acquire$|^sync\.\(\*(RW)?Mutex\)\.R?Lock$"), "lock"),
    (re.compile(r"(^|\.)Condition\.wait(_for)?$|^Event\.wait$"), "lock"),
    (re.compile(r"(^|\.)(Simple|Lifo|Priority)?Queue\.(get|put)$"), "channel"),
    (re.compile(r"(recv|recv_into|recvfrom|readinto|accept|sendall|connect|create_connection)$"), "network"),
    (re.compile(r"(^|\.)(select|poll|epoll|kqueue)(\.poll|\.select)?$|Selector\.select$"), "network"),
    (re.compile(r"^internal/poll\.runtime_pollWait$|^internal/poll\.\(\*pollDesc\)\.wait"), "network"),
)
# a pool frame turns a lock/channel/network wait under it into a pool wait
_POOL_FUNC = re.compile(r"^database/sql\.\(\*DB\)\.conn$|pool|(^|\.)(getconn|get_connection|_do_get)$", re.IGNORECASE)
_POOL_FILE = re.compile(r"(^|/)[^/]*pool[^/]*\.py$", re.IGNORECASE)
# the runtime's own machinery between a state and the frame a user wrote or calls
_MACHINERY = re.compile(
    r"^runtime\.|^runtime/internal|^internal/poll\.|^sync\.runtime_|^sync\.\(\*(Cond|WaitGroup)\)"
    r"|^(Condition|Event|Semaphore|BoundedSemaphore)\.|^_(Async)?GeneratorContextManager\.|^contextlib\."
    r"|^_ContextManagerMixin\.|^StreamReader\.|^StreamWriter\.drain$|^FlowControlMixin\."
    r"|^(Simple|Lifo|Priority)?Queue\.(_get|_put|_qsize)$",
)
POOL_SEARCH_DEPTH = 8  # frames above the primitive searched for a pool frame


def state_of(frame: Frame) -> str | None:
    """The state in a state frame (``[select, parked]`` -> ``select``), or None."""
    f = frame.function
    if not (f.startswith("[") and f.endswith("]")) or frame.file:
        return None
    inner = f[1:-1]
    if inner.endswith(", " + PARKED_MARK):
        inner = inner[: -len(PARKED_MARK) - 2]
    return inner


def state_frame(state: str, *, parked: bool = False, runtime: Frame | None = None) -> Frame:
    """The leaf frame a wall-clock source appends for a state."""
    name = f"[{state}, {PARKED_MARK}]" if parked else f"[{state}]"
    return Frame(name, runtime=runtime.runtime) if runtime is not None else Frame(name)


@dataclass(frozen=True, slots=True)
class Wait:
    kind: str
    waiter: int  # index (into the leaf-first frame list) of the frame that waits


def classify(frames_leaf_first: list[Frame]) -> Wait | None:
    """The wait of one stack (leaf first), or None when it runs (or the state says nothing)."""
    if not frames_leaf_first:
        return None
    kind: str | None = None
    start = 0
    state = state_of(frames_leaf_first[0])
    if state is not None:
        if state in STATES_RUNNING:
            return None
        kind = _STATE_KIND.get(state, "other")
        start = 1
    else:
        # no state frame: a well-known blocking function near the leaf tells (py-spy --idle alone)
        for i, fr in enumerate(frames_leaf_first[:4]):
            for rx, k in _BLOCKING_FUNCS:
                if rx.search(fr.function):
                    kind, start = k, i
                    break
            if kind is not None:
                break
        if kind is None:
            return None
    # the first frame above the machinery waits; a pool frame a little higher makes it a pool wait
    n = len(frames_leaf_first)
    waiter = min(start, n - 1)  # a stack of a state frame alone waits in that state
    while waiter < n - 1 and _MACHINERY.search(frames_leaf_first[waiter].function):
        waiter += 1
    if kind in ("lock", "other"):
        # a condition variable is the machinery of many waits: the function over it says which
        # (``Queue.get`` over ``Condition.wait`` waits on a queue, not on a lock)
        for fr in frames_leaf_first[start : waiter + 1]:
            hit = next((k for rx, k in _BLOCKING_FUNCS if rx.search(fr.function)), None)
            if hit is not None and hit != kind:
                kind = hit
                break
    if kind in ("lock", "channel", "network", "other"):
        for j in range(start, min(n, waiter + POOL_SEARCH_DEPTH)):
            fr = frames_leaf_first[j]
            if _POOL_FUNC.search(fr.function) or (fr.file and _POOL_FILE.search(fr.file)):
                return Wait("pool", j)
    return Wait(kind, waiter)


@dataclass(slots=True)
class WaitGroup:
    """One row of the "Waiting on" view: a kind, its value, and the frames that wait."""

    kind: str
    value: float
    share: float  # of the profile's total
    frames: list[tuple[Frame, float]] = field(default_factory=list)  # heaviest first

    @property
    def label(self) -> str:
        return WAIT_LABELS.get(self.kind, self.kind)


@dataclass(slots=True)
class WaitSummary:
    groups: list[WaitGroup]  # non-empty kinds, in WAIT_KINDS order
    total: float
    running: float  # value of stacks that do not wait


def _classify_stacks(ss: StackSet) -> tuple[list[str | None], list[int]]:
    """Per stack: its wait kind (None = running) and the frame id that waits (-1)."""
    table = ss.table
    kinds: list[str | None] = []
    waiters: list[int] = []
    memo: dict[tuple[int, ...], tuple[str | None, int]] = {}
    for i in range(len(ss)):
        ids = ss.frames[ss.offsets[i] : ss.offsets[i + 1]]
        # the classification only reads frames near the leaf: key the memo on those
        tail = tuple(int(x) for x in ids[::-1][: POOL_SEARCH_DEPTH + 8])
        hit = memo.get(tail)
        if hit is None:
            w = classify([table[f] for f in tail])
            hit = (None, -1) if w is None else (w.kind, tail[w.waiter])
            memo[tail] = hit
        kinds.append(hit[0])
        waiters.append(hit[1])
    return kinds, waiters


def waiting_on(profile: Profile, sample_index: int = 0, max_frames: int = 20) -> WaitSummary:
    """Group the profile's waits by kind, each with the frames that wait (heaviest first)."""
    nodes = nonzero_nodes(profile)
    nodes = nodes[nodes > 0]
    if len(nodes) == 0:
        return WaitSummary([], 0.0, 0.0)
    ss = profile.paths(nodes)
    vals = ss.values[:, sample_index]
    kinds, waiters = _classify_stacks(ss)
    by_kind: dict[str, float] = {}
    by_frame: dict[str, dict[int, float]] = {}
    running = 0.0
    for k, w, v in zip(kinds, waiters, vals.tolist(), strict=True):
        if k is None:
            running += v
            continue
        by_kind[k] = by_kind.get(k, 0.0) + v
        fr = by_frame.setdefault(k, {})
        fr[w] = fr.get(w, 0.0) + v
    total = float(vals.sum())
    groups = []
    for k in WAIT_KINDS:
        if by_kind.get(k, 0.0) <= 0:
            continue
        frames = sorted(by_frame[k].items(), key=lambda kv: -kv[1])[:max_frames]
        groups.append(
            WaitGroup(
                k,
                by_kind[k],
                by_kind[k] / total if total else 0.0,
                [(ss.table[fid], v) for fid, v in frames],
            )
        )
    return WaitSummary(groups, total, running)


def is_parked(frame: Frame) -> bool:
    return not frame.file and frame.function.endswith(f", {PARKED_MARK}]")


def wait_shares(ss: StackSet, value_index: int = 0, *, skip_parked: bool = True) -> dict[str, float]:
    """Share of the stack set's total spent in each wait kind (every kind, zeros included).

    Long-parked goroutines and threads (leaked or background) are left out of the total by
    default: the shares then say what the service's live work waits on.
    """
    out = dict.fromkeys(WAIT_KINDS, 0.0)
    if len(ss) == 0:
        return out
    vals = ss.values[:, value_index].copy()
    if skip_parked:
        leaves = ss.frames[ss.offsets[1:] - 1] if len(ss.frames) else np.zeros(0, dtype=np.int64)
        for i, f in enumerate(leaves.tolist()):
            if ss.offsets[i + 1] > ss.offsets[i] and is_parked(ss.table[f]):
                vals[i] = 0.0
    total = float(vals.sum())
    if total <= 0:
        return out
    kinds, _ = _classify_stacks(ss)
    for k, v in zip(kinds, vals.tolist(), strict=True):
        if k is not None:
            out[k] += v / total
    return out


def share_series_name(kind: str) -> str:
    return f"{SERIES_PREFIX}{kind}{SERIES_SUFFIX}"


def is_wall_profile(profile: Profile) -> bool:
    """Whether the profile's values are wall-clock time (the "Waiting on" view applies)."""
    return any(st.type == "wall" for st in profile.sample_types)
