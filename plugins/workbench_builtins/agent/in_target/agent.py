"""The runtime agent: runs inside the target Python process (3.9+), standard library only.

The workbench never imports this module. ``inject.py`` makes the target execute it in a
fresh namespace named ``__workbench_agent__`` with ``_wb_config`` (path of a JSON config)
set, and the bottom of this file then starts one daemon thread. Everything here is
written to leave the target as it was: no module registered in ``sys.modules``, no
names in ``__main__``, one entry in ``gc.callbacks`` that detach removes, and no user
code run (attributes are read through raw ``__dict__``/slot descriptors, never through
``getattr``, so properties, ``__getattr__`` and ORM lazy loads never fire).

Protocol: JSON lines over one loopback TCP connection. The client's first line is
``{"cmd": "hello", "token": ...}``; the agent answers ``{"type": "hello"}`` or an
error and closes. Then the agent sends ``gc``/``pools`` reports every ``interval_s``
and a ``census`` every ``census_interval_s``; the client sends ``ping`` (heartbeat),
``census`` (now) and ``detach``.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hmac
import io
import json
import os
import re
import select
import socket
import sys
import threading
import time
import tracemalloc
import types
import weakref
from typing import Any

PROTOCOL = 1
AGENT_MODULE = "__workbench_agent__"
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes defined in Python code
_MAX_LINE = 64 * 1024
_MAX_OWNERS = 1000  # instances remembered as holding large containers
_MAX_PAUSES = 4096
_MAX_PAUSES_SENT = 200  # per report: the longest ones
_MAX_POOLS = 64
_MAX_SITES = 50  # containers per census whose fill site is looked up (tracemalloc on)
_FILL_FRAMES = 24  # traceback depth of a fill-site window
_FILL_WINDOW_S = 2.0  # a window is this long (censuses come this often while it is open)...
_FILL_WINDOW_MAX_S = 10.0  # ...until every growing container has a site, at most this long
_FILL_TRIES = 5  # windows per container before it is given up (its entries may be untraceable)

# (type, kind) in match order; kinds are the Finding kinds of the leak engine.
_CONTAINERS: tuple[tuple[type, str], ...] = (
    (dict, "map"),
    (list, "list"),
    (set, "set"),
    (frozenset, "set"),
    (collections.deque, "buffer"),
    (bytearray, "buffer"),
    (bytes, "buffer"),
    (io.BytesIO, "buffer"),
)
_CONTAINER_TYPES = tuple(t for t, _ in _CONTAINERS)
_BYTES_TYPES = (bytes, bytearray, io.BytesIO)
# the interpreter's own __dict__ accessors (instances: getset, modules: member); anything
# else named __dict__ is a Python property, i.e. user code we must not run
_C_DESCRIPTORS = ("getset_descriptor", "member_descriptor")
_C_METHODS = ("method_descriptor", "wrapper_descriptor", "builtin_function_or_method")


def _stdlib_names() -> frozenset[str]:
    names = getattr(sys, "stdlib_module_names", None)  # 3.10+
    if names is not None:
        return frozenset(names) | {"__future__"}
    # 3.9: modules whose file lives in the stdlib directory (not site-packages)
    import sysconfig

    std = sysconfig.get_paths().get("stdlib", "")
    out = set(sys.builtin_module_names) | {"_frozen_importlib", "_frozen_importlib_external", "__future__"}
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None) if type(mod) is types.ModuleType else None
        if f and std and f.startswith(std) and "site-packages" not in f:
            out.add(name.split(".")[0])
    return frozenset(out)


class _Reader:
    """Attribute access that runs no user code: raw dict and slot descriptors only."""

    def __init__(self) -> None:
        self._dict_desc: dict[type, Any] = {}
        self._slots: dict[type, tuple[tuple[str, Any], ...]] = {}
        self._plain_sizeof: dict[type, bool] = {}

    def clear(self) -> None:
        self._dict_desc.clear()
        self._slots.clear()
        self._plain_sizeof.clear()

    def instance_dict(self, obj: object) -> dict[str, Any] | None:
        tp = type(obj)
        desc = self._dict_desc.get(tp, 0)
        if desc == 0:
            desc = None
            for klass in tp.__mro__:
                d = klass.__dict__.get("__dict__")
                if d is not None:
                    desc = d if type(d).__name__ in _C_DESCRIPTORS else None
                    break
            self._dict_desc[tp] = desc
        if desc is None:
            return None
        try:
            d = desc.__get__(obj, tp)
        except Exception:
            return None
        return d if type(d) is dict else None

    def slots(self, obj: object) -> tuple[tuple[str, Any], ...]:
        tp = type(obj)
        found = self._slots.get(tp)
        if found is None:
            acc = []
            for klass in tp.__mro__:
                for k, v in list(klass.__dict__.items()):
                    if type(v).__name__ == "member_descriptor" and type(k) is str and not k.startswith("__"):
                        acc.append((k, v))
            found = tuple(acc)
            self._slots[tp] = found
        return found

    def sizeof(self, obj: object) -> int:
        tp = type(obj)
        plain = self._plain_sizeof.get(tp)
        if plain is None:
            # a __sizeof__ written in Python is user code: do not call it (C types can be
            # heap types too since 3.12, so look at the method itself, not the class flags)
            impl = next((k.__dict__["__sizeof__"] for k in tp.__mro__ if "__sizeof__" in k.__dict__), None)
            plain = type(impl).__name__ in _C_METHODS
            self._plain_sizeof[tp] = plain
        if not plain:
            return 0
        try:
            return int(sys.getsizeof(obj))
        except Exception:
            return 0


def _readable(sock: socket.socket, timeout_s: float) -> bool:
    # poll, not select: a busy service can hold more than 1024 descriptors
    p = select.poll()
    p.register(sock.fileno(), select.POLLIN)
    return bool(p.poll(max(0, int(timeout_s * 1000))))


def _base_of(tp: type) -> Any:  # a builtin type or None; Any so its C methods type-check
    """The builtin container type ``tp`` derives from (its methods are C, never user code)."""
    for t in _CONTAINER_TYPES:
        if issubclass(tp, t):
            return t
    return None


def _kind_of(tp: type) -> str | None:
    for t, kind in _CONTAINERS:
        if issubclass(tp, t):
            return kind
    return None


class Agent:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.token = str(cfg["token"])
        self.port_file = str(cfg["port_file"])
        self.interval_s = float(cfg.get("interval_s", 1.0))
        self.census_interval_s = float(cfg.get("census_interval_s", 5.0))
        self.census_budget_s = float(cfg.get("census_budget_s", 0.05))
        self.heartbeat_s = float(cfg.get("heartbeat_s", 10.0))
        self.connect_timeout_s = float(cfg.get("connect_timeout_s", 30.0))
        self.min_len = int(cfg.get("min_len", 32))
        self.min_bytes = int(cfg.get("min_bytes", 16384))
        self.max_containers = int(cfg.get("max_containers", 200))
        self.max_depth = int(cfg.get("max_depth", 3))
        self.tracemalloc_frames = int(cfg.get("tracemalloc_frames", 0))  # 0: off (it slows the target)
        self._started_tracemalloc = False
        # fill sites: a short tracemalloc window when a container grows (consented with the agent)
        self.fill_sites = bool(cfg.get("fill_sites", True))
        # asyncio tasks' awaiting chains, sampled at this rate into a wall profile (0 = off)
        self.async_rate_hz = float(cfg.get("async_rate_hz", 10.0))
        self._tasks = _TaskSampler()
        self._sites: dict[str, tuple[list[str], str]] = {}  # container -> (frames root first, where)
        self._site_tries: dict[str, int] = {}
        self._prev_lens: dict[str, int] = {}
        self._window_t0 = 0.0  # monotonic start of the open fill window, 0 = none
        self._window_names: set[str] = set()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._gc_t0 = 0.0
        self._pauses: collections.deque[tuple[float, int, float, int, int]] = collections.deque(maxlen=_MAX_PAUSES)
        self._pauses_seen = 0
        self._gc_cb_s = 0.0
        self._census_total_s = 0.0
        self._census_count = 0
        # id -> (series name, kind, getter): a weakref, or a strong holder for pools without
        # __weakref__ (asyncpg uses __slots__) that is dropped once only the agent holds it
        self._pools: dict[int, tuple[str, str, Any]] = {}
        self._owners: dict[int, tuple[weakref.ref[Any], str]] = {}
        self._engine_names: dict[int, str] = {}  # id(pool) -> "<driver>_<database>" (SQLAlchemy)
        self._pool_waits: dict[int, int] = {}  # censuses a pool waited for its engine's name
        self._heap_offset = 0
        self._module_offset = 0
        self._reader = _Reader()
        self._stdlib = _stdlib_names()
        self._own_ids: set[int] = set()
        self._cpu0 = 0.0  # the agent thread's CPU time at its start

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Runs in the injecting thread: bind, publish the port, hook gc, start the thread."""
        try:
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener = lst
            lst.bind(("127.0.0.1", 0))
            lst.listen(4)
            port = lst.getsockname()[1]
            gc.callbacks.append(self._gc_callback)
            if self.tracemalloc_frames > 0 and not tracemalloc.is_tracing():
                tracemalloc.start(self.tracemalloc_frames)
                self._started_tracemalloc = True
            self._thread = threading.Thread(target=self._run, name="workbench-agent", daemon=True)
            self._own_ids.update({id(self), id(self._pauses), id(self._pools), id(self._own_ids)})
            self._thread.start()
        except BaseException:
            self._cleanup()  # a half-started agent leaves nothing behind
            raise
        # published last: once the port is readable, everything above is in place
        tmp = self.port_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"port": port, "pid": os.getpid(), "python": list(sys.version_info[:3])}))
        os.replace(tmp, self.port_file)

    def _cleanup(self) -> None:
        self._cleanup_hooks()
        for s in (self._client, self._listener):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.close()
        self._client = self._listener = None
        with contextlib.suppress(OSError):
            os.unlink(self.port_file)
        self._pools = {}
        self._owners = {}
        self._engine_names = {}
        self._pool_waits = {}

    def _gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside every collection, on whatever thread triggered it: cheap and never raising.
        try:
            now = time.perf_counter()
            if phase == "start":
                self._gc_t0 = now
                return
            self._pauses_seen += 1
            self._pauses.append(
                (time.time(), int(info.get("generation", -1)), now - self._gc_t0,
                 int(info.get("collected", 0)), int(info.get("uncollectable", 0)))
            )  # fmt: skip
            self._gc_cb_s += time.perf_counter() - now
        except Exception:
            pass

    # ------------------------------------------------------------------ socket loop
    def _run(self) -> None:
        self._cpu0 = time.thread_time()
        try:
            client = self._accept()
            if client is not None:
                self._serve(client)
        except Exception:
            pass
        finally:
            self._cleanup()

    def _accept(self) -> socket.socket | None:
        deadline = time.monotonic() + self.connect_timeout_s
        failures = 0
        lst = self._listener
        while lst is not None and not self._stop.is_set() and failures < 20:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not _readable(lst, min(left, 0.5)):
                continue
            conn, addr = lst.accept()
            if addr[0] != "127.0.0.1":
                conn.close()
                continue
            conn.settimeout(5.0)
            try:
                line = self._read_line(conn)
                msg = json.loads(line) if line else {}
                given = str(msg.get("token", "")) if isinstance(msg, dict) else ""
            except Exception:
                given = ""
            if given and hmac.compare_digest(given.encode(), self.token.encode()):
                # one workbench per injection: nobody else may even try once it is in
                lst.close()
                self._listener = None
                return conn
            failures += 1
            with contextlib.suppress(OSError):
                conn.sendall(b'{"type": "error", "error": "bad token"}\n')
            conn.close()
        return None

    @staticmethod
    def _read_line(conn: socket.socket) -> bytes:
        buf = b""
        deadline = time.monotonic() + 5.0  # a client trickling bytes cannot hold the agent
        while b"\n" not in buf and len(buf) < _MAX_LINE and time.monotonic() < deadline:
            chunk = conn.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\n", 1)[0]

    def _send(self, conn: socket.socket, msg: dict[str, Any]) -> None:
        conn.sendall(json.dumps(msg, separators=(",", ":")).encode() + b"\n")

    def _serve(self, conn: socket.socket) -> None:
        self._client = conn
        conn.settimeout(5.0)  # a workbench that stops reading is treated as gone
        v = sys.version_info
        self._send(conn, {
            "type": "hello", "protocol": PROTOCOL, "pid": os.getpid(),
            "python": f"{v[0]}.{v[1]}.{v[2]}", "implementation": sys.implementation.name,
            "thread": threading.get_ident(),
        })  # fmt: skip
        last_rx = time.monotonic()
        next_tick = time.monotonic()
        next_census = time.monotonic() + min(1.0, self.census_interval_s)
        async_period = 1.0 / self.async_rate_hz if self.async_rate_hz > 0 else float("inf")
        next_async = time.monotonic() + async_period  # inf when off
        gap, last_async = async_period, 0.0
        pending = b""
        while not self._stop.is_set():
            now = time.monotonic()
            if now - last_rx > self.heartbeat_s:
                return  # the workbench is gone or frozen: leave the target as it was
            wait = max(0.0, min(next_tick, next_census, next_async) - now)
            if _readable(conn, min(wait, 0.5)):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                last_rx = time.monotonic()
                pending += chunk
                if len(pending) > _MAX_LINE and b"\n" not in pending:
                    return
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    try:
                        cmd = json.loads(line).get("cmd")
                    except Exception:
                        continue
                    if cmd == "detach":
                        self._cleanup_hooks()
                        self._send(conn, {"type": "bye", "t": time.time()})
                        return
                    if cmd == "census":
                        next_census = 0.0
            now = time.monotonic()
            if now >= next_async:
                weight = min(now - last_async, 2 * gap) if last_async else gap
                last_async = now
                cost = self._tasks.tick(weight)
                gap = max(async_period, cost / _ASYNC_COST_CAP)  # thousands of tasks: sample less often
                next_async = now + gap
            if now >= next_tick:
                next_tick = now + self.interval_s
                self._send(conn, self.gc_report())
                if self._pools:
                    self._send(conn, self.pool_report())
                tasks = self._tasks.report(async_period)
                if tasks is not None and tasks["stacks"]:
                    self._send(conn, tasks)
            if now >= next_census:
                self._send(conn, self.census())
                # an open fill window is read (and closed) soon: tracing slows the target
                gap = min(self.census_interval_s, _FILL_WINDOW_S) if self.fill_window_open() else self.census_interval_s
                next_census = time.monotonic() + gap

    def _remember_owner(self, obj: Any, path: str) -> None:
        if id(obj) in self._owners or len(self._owners) >= _MAX_OWNERS:
            return
        # no __weakref__ slot (TypeError): it is found again by the next heap scan
        with contextlib.suppress(TypeError):
            self._owners[id(obj)] = (weakref.ref(obj), path)

    def _cleanup_hooks(self) -> None:
        try:
            while self._gc_callback in gc.callbacks:
                gc.callbacks.remove(self._gc_callback)
        except Exception:
            pass
        if self._started_tracemalloc:  # only what we started: a target tracing itself keeps tracing
            self._started_tracemalloc = False
            with contextlib.suppress(Exception):
                tracemalloc.stop()

    # ------------------------------------------------------------------ reports
    def gc_report(self) -> dict[str, Any]:
        pauses = []
        while self._pauses:
            try:
                pauses.append(self._pauses.popleft())
            except IndexError:
                break
        pause_count = len(pauses)
        if pause_count > _MAX_PAUSES_SENT:
            # a busy service collects gen0 hundreds of times a second: the longest pauses
            # are the ones a timeline must show; the rest are counted
            pauses = sorted(sorted(pauses, key=lambda p: -p[2])[:_MAX_PAUSES_SENT])
        cpu = time.thread_time() - self._cpu0
        freeze = gc.get_freeze_count() if hasattr(gc, "get_freeze_count") else 0
        return {
            "type": "gc",
            "t": time.time(),
            "stats": gc.get_stats(),
            "count": list(gc.get_count()),
            "threshold": list(gc.get_threshold()),
            "frozen": freeze,
            "enabled": gc.isenabled(),
            "pauses": pauses,
            "pauses_in_interval": pause_count,
            "pauses_seen": self._pauses_seen,
            "agent": {
                "cpu_s": cpu,
                "gc_callback_s": self._gc_cb_s,
                "census_total_s": self._census_total_s,
                "census_count": self._census_count,
            },
        }

    def pool_report(self) -> dict[str, Any]:
        out = []
        for pid, (name, kind, ref) in list(self._pools.items()):
            pool = ref()
            # refs here: the holder, ``pool``, getrefcount's argument; no more = the app let go
            if pool is None or (type(ref) is _Strong and sys.getrefcount(pool) <= 3):
                del self._pools[pid]
                continue
            try:
                stats = _POOL_READERS[kind](self._reader, pool)
            except Exception:
                continue
            stats["name"] = name
            stats["kind"] = kind
            out.append(stats)
        return {"type": "pools", "t": time.time(), "pools": out}

    # ------------------------------------------------------------------ census
    def census(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        deadline = t0 + self.census_budget_s
        state = _Census(self, deadline)
        # each phase gets a share of the budget (and whatever the earlier ones left), so a
        # big module graph cannot starve the heap scan; cut phases resume next census
        cut: list[str] = []
        try:
            for phase, walk, share in (
                ("modules", state.walk_modules, 0.4),
                ("owners", state.walk_owners, 0.6),
                ("heap", state.walk_heap, 1.0),
            ):
                state.deadline = t0 + self.census_budget_s * share
                state.cut = False
                walk()
                if state.cut:
                    cut.append(phase)
        except Exception as exc:  # a census must never take the agent down
            state.error = f"{type(exc).__name__}"
        self._reader.clear()
        # merged, not replaced: a census cut by its budget may not have reached every pool
        used = {name for name, _, _ in self._pools.values()}
        for pid, entry in state.pools_found(used, set(self._pools)).items():
            if len(self._pools) < _MAX_POOLS:
                self._pools[pid] = entry
        dur = time.perf_counter() - t0
        self._census_total_s += dur
        self._census_count += 1
        items = sorted(state.found.values(), key=lambda e: (-e["bytes"], -e["len"]))[: self.max_containers]
        try:
            self._fill_sites(items, state.objs)
        except Exception:  # naming is an extra: it must never cost the census
            self._close_window()
        state.objs.clear()
        return {
            "type": "census",
            "t": time.time(),
            "dur_s": dur,
            "budget_s": self.census_budget_s,
            "partial": bool(cut),
            "phase": ",".join(cut) or "done",
            "error": state.error,
            "steps": state.steps,
            "objects": state.heap_objects,
            "heap_scanned": state.heap_scanned,
            "containers": items,
            "pools": [n for n, _, _ in self._pools.values()],
        }

    # ------------------------------------------------------------------ fill sites
    def fill_window_open(self) -> bool:
        return self._window_t0 > 0.0

    def _fill_sites(self, items: list[dict[str, Any]], objs: dict[str, Any]) -> None:
        """Name the code that fills growing containers, then attach known sites to ``items``.

        When a container grew since the last census and has no site yet, tracemalloc runs
        for a short window; at the next census the newest entries' allocation tracebacks
        (or, for a bytearray, its buffer's last reallocation) say who fills it, and tracing
        stops. Bounded: one window at a time, at most _FILL_WINDOW_MAX_S long, at most
        _FILL_TRIES windows per container. A target that traces by itself is only read.
        """
        window = self.fill_window_open()
        if window or tracemalloc.is_tracing():
            wanted = [e for e in items[:_MAX_SITES] if e["name"] not in self._sites]
            if window:
                wanted = [e for e in wanted if e["name"] in self._window_names]
            snapshot = None
            for e in wanted:
                obj = objs.get(e["name"])
                frames = _fill_site(obj)
                if not frames and isinstance(obj, bytearray):
                    if snapshot is None:
                        snapshot = tracemalloc.take_snapshot()
                    frames = _buffer_site(obj, snapshot)
                if frames and len(self._sites) < self.max_containers:
                    self._sites[e["name"]] = _named_frames(frames)
            if window:
                left = self._window_names - self._sites.keys()
                if not left or time.monotonic() - self._window_t0 >= _FILL_WINDOW_MAX_S:
                    for name in left:
                        self._site_tries[name] = self._site_tries.get(name, 0) + 1
                    self._close_window()
        for e in items:
            site = self._sites.get(e["name"])
            if site is not None:
                e["site"], e["where"] = site
        lens = {e["name"]: int(e["len"]) for e in items}
        if self.fill_sites and not self.fill_window_open() and not tracemalloc.is_tracing():
            growing = {
                e["name"] for e in items[:_MAX_SITES]
                if e["name"] not in self._sites and self._site_tries.get(e["name"], 0) < _FILL_TRIES
                and e["len"] > self._prev_lens.get(e["name"], e["len"])
            }  # fmt: skip
            if growing:
                tracemalloc.start(_FILL_FRAMES)
                self._started_tracemalloc = True
                self._window_t0 = time.monotonic()
                self._window_names = growing
        if len(self._site_tries) > 4 * self.max_containers:
            self._site_tries.clear()  # bounded: forgotten containers may be tried again
        self._prev_lens = lens

    def _close_window(self) -> None:
        if self._window_t0 and self._started_tracemalloc:
            self._started_tracemalloc = False
            with contextlib.suppress(Exception):
                tracemalloc.stop()
        self._window_t0 = 0.0
        self._window_names = set()


class _Census:
    """One bounded walk. Explicit stack, depth cap, time budget checked every 256 steps."""

    def __init__(self, agent: Agent, deadline: float) -> None:
        self.agent = agent
        self.reader = agent._reader
        self.deadline = deadline
        self.cut = False
        self.error = ""
        self.steps = 0
        self.heap_objects = 0
        self.found: dict[str, dict[str, Any]] = {}
        self.objs: dict[str, Any] = {}  # name -> the container, during this census only
        self.seen: set[int] = set(agent._own_ids)
        self.pool_types = _pool_types()
        self.engines = agent._engine_names
        self.engine_cls = _find_class("sqlalchemy.engine.base", "Engine")
        self.pool_objs: list[tuple[str, Any]] = []
        self.pool_ids: set[int] = set()
        self.heap_scanned = 0
        self.kinds: dict[type, str] = {}  # type -> container kind, "obj" (instance), "" (atomic)

    def _tick(self) -> bool:
        self.steps += 1
        if self.steps & 255 == 0 and time.perf_counter() > self.deadline:
            self.cut = True
        return self.cut

    def _user_module(self, name: str) -> bool:
        top = name.split(".", 1)[0]
        return bool(name) and top not in self.agent._stdlib and name != AGENT_MODULE

    def _record(self, obj: Any, kind: str, name: str, path: str, owner: str) -> bool:
        tp = type(obj)
        try:
            base = _base_of(tp)
            # the builtin's own __len__: a subclass may override it with Python code
            n = base.__len__(obj) if base is not None and base is not io.BytesIO else 0
        except Exception:
            return False
        size = self.reader.sizeof(obj)
        if n < self.agent.min_len and size < self.agent.min_bytes:
            return False
        is_bytesio = issubclass(tp, io.BytesIO)
        if is_bytesio:
            n = size
        prev = self.found.get(name)
        if prev is not None:
            # many instances of one class: keep the largest, and skip the costly element
            # sampling for the others
            prev["instances"] += 1
            if prev["len"] >= n:
                return True
        if not issubclass(tp, _BYTES_TYPES) and n:
            size += self._elements_size(obj, n)
        self.objs[name] = obj
        self.found[name] = {
            "name": name, "path": path, "owner": owner, "kind": kind, "type": tp.__qualname__,
            "len": n, "bytes": size, "instances": 1 if prev is None else prev["instances"],
        }  # fmt: skip
        return True

    def _elements_size(self, obj: Any, n: int) -> int:
        """Average shallow size of up to 16 elements (keys and values) times the length."""
        total = 0
        k = 0
        try:
            base = _base_of(type(obj))
            is_dict = base is dict
            # the builtin's own iteration, never a subclass override
            it = iter(dict.items(obj)) if is_dict else base.__iter__(obj)
            for item in it:
                if is_dict:
                    total += self.reader.sizeof(item[0]) + self.reader.sizeof(item[1])
                else:
                    total += self.reader.sizeof(item)
                k += 1
                if k >= 16:
                    break
        except Exception:  # mutated by another thread meanwhile: keep the shallow size
            return 0
        return (total * n) // k if k else 0

    def _walk(self, roots: list[tuple[Any, str, str, str, int, Any]]) -> None:
        """roots: (object, name, path, owner class name or '', depth, owner instance or None)."""
        stack = roots
        reader = self.reader
        while stack:
            if self._tick():
                return
            obj, name, path, owner, depth, owner_obj = stack.pop()
            tp = type(obj)
            oid = id(obj)
            if oid in self.seen:
                continue
            kind = self.kinds.get(tp)
            if kind is None:
                kind = self.kinds[tp] = _kind_of(tp) or ("" if not tp.__flags__ & _HEAPTYPE else "obj")
            if kind and kind != "obj":
                self.seen.add(oid)
                if self._record(obj, kind, name, path, owner) and owner_obj is not None:
                    self.agent._remember_owner(owner_obj, path.rsplit(".", 1)[0])
                continue
            is_class = issubclass(tp, type)
            if depth >= self.agent.max_depth or not (obj if is_class else tp).__flags__ & _HEAPTYPE:
                continue
            self.seen.add(oid)
            if is_class:
                attrs = list(obj.__dict__.items())
                qual = obj.__qualname__
                inst = None
            else:
                self._note_pool(obj)
                if self.engine_cls is not None and issubclass(tp, self.engine_cls):
                    self._note_engine(obj)
                d = reader.instance_dict(obj)
                attrs = list(d.items()) if d is not None else []
                for key, desc in reader.slots(obj):
                    with contextlib.suppress(Exception):
                        attrs.append((key, desc.__get__(obj, tp)))
                qual = tp.__qualname__
                inst = obj
            kinds = self.kinds
            for key, val in attrs:
                vt = type(val)
                k = kinds.get(vt)
                if k is None:
                    k = kinds[vt] = _kind_of(vt) or ("" if not vt.__flags__ & _HEAPTYPE else "obj")
                # atomic values and classes (walked from their own module) lead nowhere
                if k and type(key) is str and not (key.startswith("__") and key.endswith("__")):
                    stack.append((val, f"{qual}.{key}", f"{path}.{key}", qual, depth + 1, inst))

    def _note_pool(self, obj: Any) -> None:
        if self.pool_types and issubclass(type(obj), self.pool_types) and id(obj) not in self.pool_ids:
            self.pool_ids.add(id(obj))
            self.pool_objs.append(("pool", obj))

    def walk_modules(self) -> None:
        names = sorted(k for k in list(sys.modules) if type(k) is str)
        start = self.agent._module_offset if self.agent._module_offset < len(names) else 0
        self.agent._module_offset = 0
        for idx in range(start, len(names)):
            if self.cut:
                # resume after the module that was cut, so one huge module cannot stall the sweep
                self.agent._module_offset = idx
                return
            modname = names[idx]
            mod = sys.modules.get(modname)
            if not issubclass(type(mod), types.ModuleType) or not self._user_module(modname):
                continue
            d = self.reader.instance_dict(mod)
            if d is None:
                continue
            label = _module_label(modname, d)
            roots = []
            for key, val in list(d.items()):
                if type(key) is not str or key.startswith("__"):
                    continue
                tp = type(val)
                if issubclass(tp, type):
                    # only classes defined here; imported names are walked where they are defined
                    if val.__dict__.get("__module__") != modname:
                        continue
                elif issubclass(tp, types.ModuleType) or not (_kind_of(tp) or tp.__flags__ & _HEAPTYPE):
                    continue
                roots.append((val, f"{label}.{key}", f"{label}.{key}", "", 0, None))
            self._walk(roots)

    def walk_owners(self) -> None:
        """Owners found by earlier heap scans, re-measured first so their series stay continuous."""
        for oid, (ref, path) in list(self.agent._owners.items()):
            obj = ref()
            if obj is None:
                self.agent._owners.pop(oid, None)
                continue
            if self.cut:
                return
            qual = type(obj).__qualname__
            self._walk([(obj, qual, path, qual, 1, None)])

    def _heap_type_info(self, tp: type, engine: type | None) -> tuple[int, Any] | None:
        """Per type, once: None to skip its instances, else (flags, __dict__ descriptor)."""
        if not tp.__flags__ & _HEAPTYPE or issubclass(tp, type):
            return None
        flags = 0
        if self.pool_types and issubclass(tp, self.pool_types):
            flags |= 1
        if engine is not None and issubclass(tp, engine):
            flags |= 2
        mod = tp.__dict__.get("__module__") or ""
        if type(mod) is str and self._user_module(mod):
            flags |= 4
        if not flags:
            return None
        desc = None
        for klass in tp.__mro__:
            d = klass.__dict__.get("__dict__")
            if d is not None:
                desc = d if type(d).__name__ in _C_DESCRIPTORS else None
                break
        return flags, desc

    def walk_heap(self) -> None:
        """Instances held only by locals, closures or containers: scan gc-tracked objects.

        A dict of atomic values is not gc-tracked, so it is found through its tracked owner.
        The scan resumes where the last census was cut, so big heaps are covered over time.
        The loop is the census' hot path: per-type facts are cached, and an instance is
        walked only when one of its attributes is a container or another instance.
        """
        objs = gc.get_objects()
        n = len(objs)
        self.heap_objects = n
        # listing a big heap can eat the budget by itself; the scan still gets its share,
        # or a million-object heap would advance a few hundred objects per census
        self.deadline = max(self.deadline, time.perf_counter() + self.agent.census_budget_s * 0.5)
        start = self.agent._heap_offset if self.agent._heap_offset < n else 0
        engine = self.engine_cls
        infos: dict[type, tuple[int, Any] | None] = {}
        kinds = self.kinds
        seen = self.seen
        deadline = self.deadline
        perf = time.perf_counter
        i = start
        try:
            # from where the last census stopped to the end of the list: reaching the end
            # completes a sweep, and the next census starts again from the beginning
            while i < n:
                if i & 255 == 255 and perf() > deadline:
                    self.cut = True
                    break
                obj = objs[i]
                i += 1
                tp = type(obj)
                try:
                    info = infos[tp]
                except KeyError:
                    info = infos[tp] = self._heap_type_info(tp, engine)
                if info is None or id(obj) in seen:
                    continue
                flags, desc = info
                if flags & 1:
                    self._note_pool(obj)
                if flags & 2:
                    self._note_engine(obj)
                if not flags & 4:
                    continue
                if desc is not None:
                    try:
                        d = desc.__get__(obj, tp)
                    except Exception:
                        continue
                    if type(d) is not dict:
                        continue
                    for v in d.values():
                        vt = type(v)
                        k = kinds.get(vt)
                        if k is None:
                            k = kinds[vt] = _kind_of(vt) or ("" if not vt.__flags__ & _HEAPTYPE else "obj")
                        if k:
                            break
                    else:
                        if not self.reader.slots(obj):
                            continue  # only atomic attributes: nothing to find here
                qual = tp.__qualname__
                self.steps += 1
                self._walk([(obj, qual, f"<{qual}>", qual, 1, obj)])
                if self.cut:
                    break
        finally:
            del objs
        self.steps += i - start
        self.heap_scanned = i - start
        self.agent._heap_offset = i if i < n else 0

    def _note_engine(self, engine: Any) -> None:
        d = self.reader.instance_dict(engine) or {}
        pool, url = d.get("pool"), d.get("url")
        if pool is None or url is None:
            return
        try:
            is_tuple = issubclass(type(url), tuple)  # SQLAlchemy's URL is a NamedTuple
            driver = str(tuple.__getitem__(url, 0)) if is_tuple else "db"
            database = tuple.__getitem__(url, 5) if is_tuple and tuple.__len__(url) > 5 else None
        except Exception:
            driver, database = "db", None
        base = os.path.splitext(os.path.basename(str(database)))[0] if database else "memory"
        if len(self.engines) < _MAX_POOLS:
            self.engines[id(pool)] = f"{driver.split('+')[0]}_{base}"

    def pools_found(self, used: set[str], known: set[int]) -> dict[int, tuple[str, str, Any]]:
        """Pools seen in this census that the agent does not poll yet, with unique names."""
        out: dict[int, tuple[str, str, Any]] = {}
        for _path, obj in self.pool_objs[:_MAX_POOLS]:
            kind = _pool_kind(type(obj))
            if kind is None or id(obj) in known:
                continue
            name = self.engines.get(id(obj)) or _pool_name(self.reader, kind, obj)
            if name is None and kind == "sqlalchemy" and self.agent._pool_waits.get(id(obj), 0) < 3:
                # its Engine (which names it after the database) may come later in a cut
                # census: wait up to three censuses before naming it by its library
                if len(self.agent._pool_waits) < _MAX_POOLS:
                    self.agent._pool_waits[id(obj)] = self.agent._pool_waits.get(id(obj), 0) + 1
                continue
            name = name or kind
            name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)[:60] or kind
            base, i = name, 2
            while name in used:
                name, i = f"{base}_{i}", i + 1
            used.add(name)
            try:
                ref: Any = weakref.ref(obj)
            except TypeError:
                ref = _Strong(obj)
            out[id(obj)] = (name, kind, ref)
        return out


class _Strong:
    """Holds a pool that cannot be weakly referenced; the agent lets go when the app has."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __call__(self) -> Any:
        return self.obj


def _fill_site(obj: Any) -> list[tuple[str, int]]:
    """Where the newest entries were allocated (tracemalloc), root first: the code that fills it.

    Dicts keep insertion order, so the last value and its key are the newest entries (the
    value first, unless it is a number: numbers are made wherever arithmetic happens, such
    as a caller's counter, not where entries are stored); for lists and deques it is the last
    element. Small ints and interned strings have no trace.
    """
    if obj is None:
        return []
    base = _base_of(type(obj))
    samples: list[Any] = []
    try:  # the builtins' own methods only: no subclass override, no key hashing
        if base is None or base is io.BytesIO or not base.__len__(obj):
            return []
        if base is dict:
            samples = list(reversed(next(reversed(dict.items(obj)))))
        elif base in (list, collections.deque):
            samples = [base.__getitem__(obj, -1)]
        elif base in (set, frozenset):
            samples = [next(base.__iter__(obj))]
    except Exception:  # mutated meanwhile
        return []
    made_here = [x for x in samples if type(x) not in (int, float, bool, complex)]
    for x in made_here or samples:
        tb = tracemalloc.get_object_traceback(x)
        if tb is not None:
            return [(f.filename, f.lineno) for f in tb]
    return []


def _buffer_site(obj: bytearray, snapshot: Any) -> list[tuple[str, int]]:
    """A bytearray's fill site: the traced block of exactly its allocated size is its
    buffer, last reallocated by the code that appended to it."""
    try:
        alloc = bytearray.__alloc__(obj)
    except Exception:
        return []
    for tr in snapshot.traces:
        if tr.size == alloc:
            return [(f.filename, f.lineno) for f in tr.traceback]
    return []


def _code_lines(code: types.CodeType) -> set[int]:
    if hasattr(code, "co_lines"):  # 3.10+
        return {ln for _s, _e, ln in code.co_lines() if ln is not None}
    return set()


def _code_index(filename: str, limit: int = 5000) -> list[tuple[types.CodeType, str]]:
    """(code, qualified name) of the functions defined in ``filename``: module functions,
    methods (also static/class methods and properties) and their nested functions.

    Runs no user code: types are compared with ``type()`` (``isinstance`` would read a
    ``__class__`` property) and namespaces are read through the interpreter's own
    ``__dict__`` accessors."""
    mod_dict: Any = vars(types.ModuleType)["__dict__"]
    cls_dict = type.__dict__["__dict__"]
    absname = os.path.abspath(filename)
    todo: list[tuple[Any, str, int]] = []
    for m in list(sys.modules.values()):
        if not issubclass(type(m), types.ModuleType):
            continue
        try:
            d = mod_dict.__get__(m)
        except Exception:
            continue
        f = d.get("__file__")
        if type(f) is str and (f == filename or os.path.abspath(f) == absname):
            todo.extend((v, "", 0) for v in list(d.values()))
    out: list[tuple[types.CodeType, str]] = []
    seen: set[int] = set()
    while todo and len(out) < limit:
        v, prefix, depth = todo.pop()
        tp = type(v)
        if id(v) in seen or depth > 3:
            continue
        seen.add(id(v))
        if tp is staticmethod or tp is classmethod:
            todo.append((v.__func__, prefix, depth))
        elif tp is property:
            todo.extend((g, prefix, depth) for g in (v.fget, v.fset, v.fdel) if g is not None)
        elif tp is types.FunctionType:
            code = v.__code__
            if code.co_filename == filename:
                qual = v.__qualname__
                out.append((code, qual))
                todo.extend((c, qual + ".<locals>.", depth + 1) for c in code.co_consts if type(c) is types.CodeType)
        elif tp is types.CodeType:
            if v.co_filename == filename:
                qual = prefix + v.co_name
                out.append((v, qual))
                todo.extend((c, qual + ".<locals>.", depth + 1) for c in v.co_consts if type(c) is types.CodeType)
        elif issubclass(tp, type) and depth < 3:
            try:  # the class's own namespace, read raw (no metaclass __getattr__)
                ns = cls_dict.__get__(v)
            except Exception:
                continue
            todo.extend((x, prefix, depth + 1) for x in list(ns.values()))
    return out


def _function_at(filename: str, lineno: int, cache: dict[str, list[tuple[types.CodeType, str]]]) -> str:
    """The qualified name of the function holding ``filename:lineno`` (the innermost one)."""
    if filename not in cache:
        cache[filename] = _code_index(filename)
    best: tuple[int, str] | None = None
    for code, qual in cache[filename]:
        lines = _code_lines(code)
        inside = lineno in lines if lines else code.co_firstlineno <= lineno
        if inside and (best is None or code.co_firstlineno > best[0]):
            best = (code.co_firstlineno, qual)
    return best[1] if best is not None else "<module>"


def _library_file(filename: str) -> bool:
    """The standard library, installed packages, or code the interpreter made up."""
    if filename.startswith("<") or "site-packages" in filename or "dist-packages" in filename:
        return True
    stdlib = os.path.dirname(os.__file__)
    return filename.startswith(stdlib + os.sep)


def _named_frames(frames: list[tuple[str, int]]) -> tuple[list[str], str]:
    """("function (file:line)" frames root first, the innermost frame in the user's code)."""
    cache: dict[str, list[tuple[types.CodeType, str]]] = {}
    named = [f"{_function_at(fn, ln, cache)} ({fn}:{ln})" for fn, ln in frames]
    user = [named[i] for i, (fn, _ln) in enumerate(frames) if not _library_file(fn)]
    return named, (user[-1] if user else named[-1])


def _module_label(modname: str, d: dict[str, Any]) -> str:
    """``__main__`` is named as the user ran it: ``python -m pkg.app`` or ``app.py``."""
    if modname != "__main__":
        return modname
    spec = d.get("__spec__")
    spec_dict = getattr(spec, "__dict__", None) if type(spec).__name__ == "ModuleSpec" else None
    sname = spec_dict.get("name") if type(spec_dict) is dict else None
    if type(sname) is str and sname:
        return sname
    f = d.get("__file__")
    return os.path.splitext(os.path.basename(f))[0] if type(f) is str and f else "__main__"


def _find_class(module: str, name: str) -> type | None:
    mod = sys.modules.get(module)
    if mod is None:
        return None
    d = getattr(mod, "__dict__", None)
    cls = d.get(name) if type(d) is dict else None
    return cls if issubclass(type(cls), type) else None


_POOL_CLASSES = (
    ("sqlalchemy", "sqlalchemy.pool.impl", "QueuePool"),
    ("sqlalchemy", "sqlalchemy.pool", "QueuePool"),
    ("psycopg_pool", "psycopg_pool.pool", "ConnectionPool"),
    ("psycopg_pool", "psycopg_pool.pool_async", "AsyncConnectionPool"),
    ("redis", "redis.connection", "ConnectionPool"),
    ("asyncpg", "asyncpg.pool", "Pool"),
)


def _pool_types() -> tuple[type, ...]:
    out = []
    for _, mod, name in _POOL_CLASSES:
        cls = _find_class(mod, name)
        if cls is not None:
            out.append(cls)
    return tuple(out)


def _pool_kind(tp: type) -> str | None:
    for kind, mod, name in _POOL_CLASSES:
        cls = _find_class(mod, name)
        if cls is not None and issubclass(tp, cls):
            return kind
    return None


def _pool_name(reader: _Reader, kind: str, pool: Any) -> str | None:
    d = reader.instance_dict(pool) or {}
    if kind == "psycopg_pool":
        n = d.get("name")
        return n if type(n) is str else None
    if kind == "redis":
        kw = d.get("connection_kwargs", d.get("_connection_kwargs"))  # redis-py < 7 / >= 7
        if type(kw) is dict:
            return f"redis_{kw.get('host', 'localhost')}_{kw.get('port', 6379)}_{kw.get('db', 0)}"
    return None


def _read_sqlalchemy(reader: _Reader, pool: Any) -> dict[str, Any]:
    # QueuePool's own status API (plain arithmetic on its queue and counters)
    size, checkedout, overflow, checkedin = pool.size(), pool.checkedout(), pool.overflow(), pool.checkedin()
    max_overflow = (reader.instance_dict(pool) or {}).get("_max_overflow", 0)
    out = {"size": size, "checkedout": checkedout, "overflow": overflow, "checkedin": checkedin,
           "open": checkedout + checkedin, "in_use": checkedout, "idle": checkedin}  # fmt: skip
    if type(max_overflow) is int and max_overflow >= 0:
        out["max_open"] = size + max_overflow
    return out


def _read_psycopg(reader: _Reader, pool: Any) -> dict[str, Any]:
    s = pool.get_stats()
    size, avail = int(s.get("pool_size", 0)), int(s.get("pool_available", 0))
    return {"open": size, "idle": avail, "in_use": size - avail, "max_open": s.get("pool_max", 0),
            "wait_count": s.get("requests_queued", 0), "wait_s": s.get("requests_wait_ms", 0) / 1000.0}  # fmt: skip


def _read_redis(reader: _Reader, pool: Any) -> dict[str, Any]:
    d = reader.instance_dict(pool) or {}
    avail = len(d.get("_available_connections") or ())
    in_use = len(d.get("_in_use_connections") or ())
    out = {"open": int(d.get("_created_connections", avail + in_use)), "idle": avail, "in_use": in_use}
    mx = d.get("max_connections")
    if type(mx) is int and mx < 2**31:
        out["max_open"] = mx
    return out


def _read_asyncpg(reader: _Reader, pool: Any) -> dict[str, Any]:
    size, idle = pool.get_size(), pool.get_idle_size()
    return {"open": size, "idle": idle, "in_use": size - idle, "max_open": pool.get_max_size()}


_POOL_READERS = {
    "sqlalchemy": _read_sqlalchemy,
    "psycopg_pool": _read_psycopg,
    "redis": _read_redis,
    "asyncpg": _read_asyncpg,
}


# ---------------------------------------------------------------------- asyncio tasks
_MAX_TASKS = 2000  # tasks walked per tick (a bigger service is sampled in part, and says so)
_MAX_TASK_DEPTH = 64  # awaitables followed per task
_MAX_TASK_STACKS = 2000  # distinct stacks per report; the rest are counted under one marker
_MORE_STACKS = (("[more task stacks]", "", 0),)
# the walk holds the GIL: sampling slows down until it costs at most this share of the time
_ASYNC_COST_CAP = 0.02
# The innermost asyncio coroutine a task is suspended in says what it waits for:
# (file in the asyncio package, qualified name) -> state frame text (analysis/waits.py's words).
_ASYNC_STATES = {
    ("locks.py", "Lock.acquire"): "lock wait",
    ("locks.py", "Semaphore.acquire"): "semaphore wait",
    ("locks.py", "BoundedSemaphore.acquire"): "semaphore wait",
    ("locks.py", "Condition.wait"): "condition wait",
    ("locks.py", "Condition.wait_for"): "condition wait",
    ("locks.py", "Event.wait"): "event wait",
    ("locks.py", "Barrier.wait"): "lock wait",
    ("queues.py", "Queue.get"): "queue get",
    ("queues.py", "Queue.put"): "queue put",
    ("queues.py", "Queue.join"): "queue get",
    ("tasks.py", "sleep"): "sleep",
    ("tasks.py", "wait"): "task wait",
    ("tasks.py", "_wait"): "task wait",
    ("tasks.py", "wait_for"): "task wait",
    ("tasks.py", "gather"): "task wait",
    ("streams.py", "StreamReader._wait_for_data"): "socket read",
    ("streams.py", "FlowControlMixin._drain_helper"): "socket write",
    ("streams.py", "open_connection"): "connect",
    ("base_events.py", "BaseEventLoop.create_connection"): "connect",
    ("base_events.py", "BaseEventLoop.sock_connect"): "connect",
    ("base_events.py", "Server.serve_forever"): "accept",
    ("selector_events.py", "BaseSelectorEventLoop.sock_recv"): "socket read",
    ("selector_events.py", "BaseSelectorEventLoop.sock_recv_into"): "socket read",
    ("selector_events.py", "BaseSelectorEventLoop.sock_sendall"): "socket write",
    ("selector_events.py", "BaseSelectorEventLoop.sock_connect"): "connect",
    ("selector_events.py", "BaseSelectorEventLoop.sock_accept"): "accept",
}
# 3.9/3.10 code objects have no co_qualname: the bare name, where it says enough (a lock and
# a semaphore both read as a lock wait; the class is not known)
_ASYNC_STATES_BY_NAME: dict[tuple[str, str], str] = {}
for (_file, _qual), _state in _ASYNC_STATES.items():
    _bare = (_file, _qual.rsplit(".", 1)[-1])
    _ASYNC_STATES_BY_NAME[_bare] = _state if _ASYNC_STATES_BY_NAME.get(_bare, _state) == _state else "lock wait"
# awaitables that hide the coroutine they drive (``async with`` over an async generator's
# ``asend``): gc.get_referents finds it without running any code of the target
_WRAPPERS = ("async_generator_asend", "async_generator_athrow", "coroutine_wrapper")


_MAX_CODES = 10000  # code objects whose name and state are remembered (cleared past it)


def _code_info(code: types.CodeType) -> tuple[str, str, bool, str | None]:
    """(qualified name, file, whether it is asyncio's own code, the state it stands for)."""
    qual = getattr(code, "co_qualname", None)  # 3.11+
    states = _ASYNC_STATES if qual is not None else _ASYNC_STATES_BY_NAME
    qual = qual or code.co_name
    fname = code.co_filename
    in_asyncio = os.path.basename(os.path.dirname(fname)) == "asyncio"
    return qual, fname, in_asyncio, states.get((os.path.basename(fname), qual)) if in_asyncio else None


def _retry_list(src: Any) -> list[Any]:
    """``list(src)`` of a set other threads change (asyncio.all_tasks does the same)."""
    for _ in range(100):
        try:
            return list(src)
        except RuntimeError:  # changed size during iteration
            continue
    return []


def _default_task_name(name: str) -> bool:
    return name.startswith("Task-") and name[5:].isdigit()


class _TaskSampler:
    """Samples every asyncio task's awaiting coroutine chain, from the agent's own thread.

    Nothing here calls into an event loop or imports asyncio: the tasks come from the set
    ``asyncio.all_tasks`` itself reads (a weak set, copied with retries as all_tasks does
    because the loops' threads change it; ``_scheduled_tasks`` + ``_eager_tasks`` on 3.12
    and 3.13, ``_all_tasks`` before), for every loop of the process at once, and each task is read through the base Task type's own C accessors (a
    subclass's overrides are user code and never run). A coroutine is followed through
    ``cr_await`` (``gi_yieldfrom`` for generator-based ones, ``ag_await`` for async
    generators); ``Task.get_stack`` is no help here, as it stops at the outermost frame of
    a suspended task. The task's ``_fut_waiter`` and the innermost asyncio frame give the
    state frame at the leaf (``[semaphore wait]``, ``[queue get]``, ``[socket read]``...).
    """

    def __init__(self) -> None:
        # stack -> [samples, seconds]: each sample weighs the time since the previous one, so
        # the wall values stay true when sampling slows down (cost cap, a busy GIL)
        self.counts: dict[tuple[tuple[str, str, int], ...], list[float]] = {}
        self.ticks = 0
        self.t0 = 0.0
        self.tasks_max = 0
        self.truncated = 0  # ticks that walked only _MAX_TASKS tasks
        self.errors = 0
        self.cost_s = 0.0  # time spent walking tasks since the last report
        self._last_t1 = 0.0
        self._weight = 0.0
        self._reader = _Reader()  # a pure-Python Task's attributes, read without running its code
        self._codes: dict[types.CodeType, tuple[str, str, bool, str | None]] = {}  # per code: name, state

    def tick(self, weight_s: float) -> float:
        """One sample, each task weighing ``weight_s``; returns what it cost (seconds)."""
        c0 = time.perf_counter()
        if not self.ticks:
            # a report covers the time since the previous one: consecutive reports tile time
            self.t0 = self._last_t1 or time.time() - weight_s
        self.ticks += 1
        self._weight = weight_s
        try:
            self._sample()
        except Exception:  # a sample must never take the agent down
            self.errors += 1
        cost = time.perf_counter() - c0
        self.cost_s += cost
        return cost

    def report(self, period_s: float) -> dict[str, Any] | None:
        if not self.ticks:
            return None
        stacks = [[int(n), w, [list(f) for f in key]] for key, (n, w) in self.counts.items()]
        self._last_t1 = time.time()
        msg = {
            "type": "tasks", "t0": self.t0, "t1": self._last_t1, "period_s": period_s, "ticks": self.ticks,
            "tasks_max": self.tasks_max, "truncated": self.truncated, "errors": self.errors, "cost_s": self.cost_s,
            "stacks": stacks,
        }  # fmt: skip
        self.counts = {}
        self.ticks = self.tasks_max = self.truncated = self.errors = 0
        self.cost_s = 0.0
        return msg

    def _sample(self) -> None:
        tasks_mod = sys.modules.get("asyncio.tasks")
        if tasks_mod is None:
            return  # the target does not use asyncio: never import it there
        d = vars(tasks_mod)
        base: Any = d.get("Task")
        fut_base = vars(sys.modules["asyncio.futures"]).get("Future") if "asyncio.futures" in sys.modules else None
        if base is None or not issubclass(type(base), type):
            return
        scheduled = d.get("_scheduled_tasks")  # 3.12+; named _all_tasks before
        tasks = _retry_list(scheduled if scheduled is not None else d.get("_all_tasks", ()))
        eager = d.get("_eager_tasks")
        if eager is not None:
            tasks += _retry_list(eager)
        current = set()
        for t in _retry_list(dict(d.get("_current_tasks") or {}).values()):
            current.add(id(t))
        self.tasks_max = max(self.tasks_max, len(tasks))
        if len(tasks) > _MAX_TASKS:
            self.truncated += 1
            tasks = tasks[:_MAX_TASKS]
        get_coro, get_name, done = base.get_coro, base.get_name, base.done
        waiter_desc = vars(base).get("_fut_waiter")
        for t in tasks:
            if not issubclass(type(t), base):
                continue
            try:
                if done(t):
                    continue
                coro = get_coro(t)
                name = get_name(t)
                waiter = (
                    waiter_desc.__get__(t, base) if type(waiter_desc).__name__ in _C_DESCRIPTORS
                    else (self._reader.instance_dict(t) or {}).get("_fut_waiter")
                )  # fmt: skip
            except Exception:
                continue
            key = self._stack(
                coro, name=str(name), waiter=waiter, running=id(t) in current, base=base, fut_base=fut_base
            )
            if key not in self.counts and len(self.counts) >= _MAX_TASK_STACKS:
                key = _MORE_STACKS
            acc = self.counts.get(key)
            if acc is None:
                acc = self.counts[key] = [0.0, 0.0]
            acc[0] += 1
            acc[1] += self._weight

    def _stack(
        self, coro: Any, *, name: str, waiter: Any, running: bool, base: type, fut_base: Any
    ) -> tuple[tuple[str, str, int], ...]:
        codes = self._codes
        if len(codes) > _MAX_CODES:
            codes.clear()
        frames: list[tuple[str, str, int]] = []
        asyncio_state = None
        x = coro
        for _ in range(_MAX_TASK_DEPTH):
            tp = type(x)
            if tp is types.CoroutineType:
                frame, nxt = x.cr_frame, x.cr_await
                running = running or bool(x.cr_running)
            elif tp is types.GeneratorType:
                frame, nxt = x.gi_frame, x.gi_yieldfrom
            elif tp is types.AsyncGeneratorType:
                frame, nxt = x.ag_frame, x.ag_await
            elif tp.__name__ in _WRAPPERS:
                frame = None
                nxt = next((r for r in gc.get_referents(x) if type(r) in (
                    types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)), None)  # fmt: skip
            else:
                break
            if frame is not None:
                code = frame.f_code
                info = codes.get(code)
                if info is None:
                    info = codes[code] = _code_info(code)
                qual, fname, in_asyncio, state = info
                frames.append((qual, fname, int(frame.f_lineno or code.co_firstlineno)))
                # only the innermost run of asyncio frames decides
                asyncio_state = (state or asyncio_state) if in_asyncio else None
            if nxt is None:
                break
            x = nxt
        if running:
            state = "running"
        elif asyncio_state is not None:
            state = asyncio_state
        elif waiter is None:
            state = "runnable"  # woken, waiting for its turn on the loop
        elif issubclass(type(waiter), base) or type(waiter).__name__ == "_GatheringFuture":
            state = "task wait"
        elif fut_base is not None and issubclass(type(waiter), fut_base):
            state = "future wait"
        else:
            state = "waiting"
        if _default_task_name(name):
            root = "task " + (frames[0][0] if frames else "?")
        else:
            root = "task " + re.sub(r"\d+", "N", name[:80])  # conn-17, conn-18...: one root
        return ((root, "", 0), *frames[-_MAX_TASK_DEPTH:], (f"[{state}]", "", 0))


def _boot(config_path: str) -> None:
    """Entry from the injected bootstrap: read and delete the config, start the agent."""
    with open(config_path) as fh:
        cfg = json.load(fh)
    with contextlib.suppress(OSError):
        os.unlink(config_path)  # the token lives on in this process only
    Agent(cfg).start()


if __name__ == AGENT_MODULE:
    _config_path = str(globals().get("_wb_config", ""))  # set by the bootstrap's exec namespace
    try:
        _boot(_config_path)
    except BaseException as _exc:  # an escaping exception would print into the target's stderr
        try:
            # only next to a real config: never litter the target's working directory
            if _config_path:
                with open(os.path.join(os.path.dirname(_config_path), "boot_error"), "w") as _fh:
                    _fh.write(f"{type(_exc).__name__}: {_exc}")
        except BaseException:
            pass
