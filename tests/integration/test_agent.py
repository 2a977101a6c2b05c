"""Runtime agent: real gdb injection into real child processes (CPython 3.12 and 3.13)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import pytest
from workbench_builtins.agent import plugin
from workbench_builtins.agent.client import AgentClient
from workbench_builtins.agent.inject import inject

from tests.helpers.agent_targets import (
    PG_EXTRA,
    POOL_EXTRA,
    REDIS_EXTRA,
    SERVICE,
    RunningTarget,
    postgres_server,
    python313,
    redis_server,
    run_target,
)
from workbench.capture.api import Target
from workbench.errors import CaptureError, ConsentRequired, PermissionDenied, TargetExited
from workbench.model.session import Session

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")

PY313 = python313()
PYTHONS = [
    pytest.param(sys.executable, id="py312"),
    pytest.param(
        PY313,
        id="py313",
        marks=pytest.mark.skipif(
            PY313 is None,
            # CI's second interpreter is Debian's python3 below (a different build, too)
            reason="not in CI: pyenv's 3.13.0 is a developer-machine extra; CI runs debian-static instead",
        ),
    ),
    # Debian's build links libpython statically: symbols come from the executable, no debug info
    pytest.param(
        "/usr/bin/python3",
        id="debian-static",
        marks=pytest.mark.skipif(not os.path.exists("/usr/bin/python3"), reason="no system python3"),
    ),
]
FAST = {"yes": True, "census_interval": 0.5, "interval": 0.25, "heartbeat": 3.0}


def _wait_for(pred, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _values(session: Session, name: str) -> list[float]:
    with session.lock():
        s = session.series.get(name)
        return [] if s is None else [float(v) for v in s.values]


def _tracer(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return -1


def _assert_unchanged(t: RunningTarget, port: int) -> None:
    """Detached: the target ticks on, without our gc hook, thread or listening port."""
    tick = int(t.last_status()["tick"])  # type: ignore[call-overload]

    def clean() -> bool:
        st = t.last_status(after_tick=tick)
        gone = st["callbacks"] == 0 and not st["tracing"]
        return gone and "workbench-agent" not in st["threads"]  # type: ignore[operator]

    _wait_for(clean, 10, "the agent to leave the target")
    assert t.proc.poll() is None
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("python", PYTHONS)
def test_containers_gc_and_detach(python: str) -> None:
    with run_target(python) as t:
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), FAST, session)
        try:
            assert handle.injection.stopped_s > 0 and handle.injection.details["symbols"] == "elf"
            grow = "python.container.SessionStore._sessions.len"
            lru = "python.container.LRUCache._data.len"
            _wait_for(lambda: len(_values(session, grow)) >= 4 and len(_values(session, lru)) >= 4, what="4 censuses")
            _wait_for(lambda: _values(session, "python.gc.pause_s"), what="a gc pause")
        finally:
            handle.stop()
        port = handle.injection.port
        growing, bounded = _values(session, grow), _values(session, lru)
        assert growing[-1] > growing[0] > 0
        assert bounded[-3:] == [100.0, 100.0, 100.0]
        assert _values(session, "python.container.SessionStore._sessions.bytes")[-1] > 0
        # module globals are named module.NAME, class attributes Class.attr
        assert _values(session, "python.container.__main__.CACHE.len")[-1] == 50
        assert _values(session, "python.container.SessionStore.registry.len")[-1] == 40
        names = set(session.series_names())
        for gen in range(3):
            assert f"python.gc.gen{gen}.collections" in names
            assert f"python.gc.gen{gen}.threshold" in names
        assert _values(session, "python.gc.gen0.collections")[-1] > 0
        assert all(0 < p < 5 for p in _values(session, "python.gc.pause_s"))
        assert "python.agent.cpu_s" in names and "python.agent.census_s" in names
        by_name = {f.name: f for f in session.findings}
        assert by_name["SessionStore._sessions"].suspect is False
        assert by_name["SessionStore._sessions"].growth_per_min > 0
        assert by_name["LRUCache._data"].kind == "map"
        st = handle.status()
        assert not st.running and st.error is None and st.extra["detached"] is True
        kinds = [e.kind for e in session.events]  # a census cut by its budget on a busy host adds an event
        assert kinds[0] == "agent.attached" and kinds[-1] == "agent.detached"
        _assert_unchanged(t, port)


def test_refused_consent_injects_nothing(tmp_path: Path) -> None:
    with run_target() as t:
        before = t.last_status()
        tmp_before = set(os.listdir("/tmp"))
        session = Session()
        with pytest.raises(ConsentRequired) as err:
            plugin.start(Target.from_pid(t.pid), {"yes": False}, session)
        assert str(t.pid) in err.value.message and "--yes" in err.value.fix
        with pytest.raises(ConsentRequired):
            plugin.start(Target.from_pid(t.pid), {}, session)
        assert _tracer(t.pid) == 0
        after = t.last_status(after_tick=int(before["tick"]))  # type: ignore[call-overload]
        assert after["callbacks"] == 0 and "workbench-agent" not in after["threads"]  # type: ignore[operator]
        assert not [d for d in set(os.listdir("/tmp")) - tmp_before if d.startswith(f"wb-agent-{t.pid}-")]
        assert session.version == 0
        checks = plugin.preflight(Target.from_pid(t.pid))
        assert any(c.name.startswith("will run") and " -p " in c.message for c in checks)


MANY_FDS = """
import resource
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
HELD_FDS = [os.open("/dev/null", os.O_RDONLY) for _ in range(1200)]  # agent's socket fds land above 1024
"""


def test_wrong_token_is_refused_and_heartbeat_ends_agent(tmp_path: Path) -> None:
    with run_target(extra=MANY_FDS, tmp=tmp_path) as t:
        # gdb's own symbol lookup here (the other tests hand it ELF addresses): both routes stay tested
        inj = inject(t.pid, {"heartbeat_s": 2.0, "connect_timeout_s": 30.0}, elf_symbols=False)
        assert inj.details["symbols"] == inj.method  # the debugger looked them up
        try:
            with pytest.raises(PermissionDenied, match="refused"):
                AgentClient(inj.port, "0" * 64)
            with pytest.raises(PermissionDenied):
                AgentClient(inj.port, inj.token[:-1])
            # the right token still gets in after wrong ones; then it goes silent
            client = AgentClient(inj.port, inj.token)
            assert client.hello["pid"] == t.pid
            # once the workbench is in, the port is closed to everyone else
            with pytest.raises(OSError):
                AgentClient(inj.port, inj.token)
            # no ping for longer than the 2 s heartbeat: the agent must unhook and end by itself
            _assert_unchanged(t, inj.port)
            client.close()
        finally:
            inj.cleanup()


def test_idle_target_is_injected_in_a_parked_thread(tmp_path: Path) -> None:
    """The only thread sits in read() with the GIL released: no safe point ever comes."""
    with run_target(extra="sys.stdin.readline()\n", tmp=tmp_path) as t:
        inj = inject(t.pid, {"heartbeat_s": 3.0}, timeout=1.0)
        try:
            assert inj.details["route"] == "idle-thread"
            client = AgentClient(inj.port, inj.token)
            assert client.detach(lambda _msg: None)
            client.close()
        finally:
            inj.cleanup()
        # the interrupted read() resumes: a line on stdin lets the service start and tick
        assert t.proc.stdin is not None
        t.proc.stdin.write("go\n")
        t.proc.stdin.flush()
        st = t.last_status(timeout=10)
        assert st["callbacks"] == 0 and "workbench-agent" not in st["threads"]  # type: ignore[operator]


BUSY = "x = 0\nwhile True:\n    x += 1\n"
# a thread blocked in a system call while holding the GIL (PyDLL keeps it), main thread idle:
# the idle route must refuse, or PyGILState_Ensure would wait forever inside gdb's call
HOLDS_GIL = """
import ctypes
threading.Thread(target=lambda: ctypes.PyDLL(None).sleep(1000), daemon=True).start()
time.sleep(0.2)
threading.Event().wait()
"""


@pytest.mark.parametrize("extra", [BUSY, HOLDS_GIL], ids=["spins", "holds-gil-in-c"])
def test_busy_target_times_out_and_is_left_running(tmp_path: Path, extra: str) -> None:
    with run_target(extra=extra, tmp=tmp_path) as t:
        # WB_EXTRA runs before the service loop, so the service never gets to run its loop
        with pytest.raises(CaptureError, match="released the GIL"):
            inject(t.pid, {}, timeout=2.0)
        time.sleep(0.2)
        assert t.proc.poll() is None
        assert _tracer(t.pid) == 0


def test_sqlalchemy_pool_series(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    with run_target(extra=POOL_EXTRA, tmp=tmp_path) as t:
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), FAST, session)
        try:
            _wait_for(
                lambda: len(_values(session, "pool.sqlite_app.in_use")) >= 4, what="pool series from the QueuePool"
            )
        finally:
            handle.stop()
        names = {n for n in session.series_names() if n.startswith("pool.")}
        for field in ("open", "in_use", "idle", "max_open", "size", "checkedout", "overflow", "checkedin"):
            assert f"pool.sqlite_app.{field}" in names
        assert _values(session, "pool.sqlite_app.size")[-1] == 3
        assert _values(session, "pool.sqlite_app.max_open")[-1] == 5
        in_use = _values(session, "pool.sqlite_app.in_use")
        assert max(in_use) >= 1 and max(in_use) <= 5
        assert t.proc.poll() is None


def test_tracemalloc_names_the_filling_code() -> None:
    fill_line = next(i for i, line in enumerate(SERVICE.splitlines(), 1) if '_sessions["s%d" % i]' in line)
    with run_target() as t:
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), {**FAST, "tracemalloc": 4}, session)
        try:
            assert t.last_status(after_tick=int(t.last_status()["tick"]))["tracing"] is True  # type: ignore[call-overload]

            def filled() -> bool:
                with session.lock():
                    return any(f.name == "SessionStore._sessions" and f.stack for f in session.findings)

            _wait_for(filled, what="a census with the fill site")
        finally:
            handle.stop()
        f = next(f for f in session.findings if f.name == "SessionStore._sessions")
        assert f.where.endswith(f"<string>:{fill_line})"), f.where  # "function (file:line)"
        assert "reachable as" in f.evidence
        _assert_unchanged(t, handle.injection.port)


def test_target_exit_mid_capture_is_reported() -> None:
    with run_target() as t:
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), FAST, session)
        _wait_for(lambda: _values(session, "python.gc.gen0.collections"), what="a gc report")
        t.proc.kill()
        t.proc.wait(10)
        assert handle.join(15)
        st = handle.status()
        assert not st.running and isinstance(st.error, TargetExited)
        assert not handle.injection.workdir.exists()  # the token's directory is gone too
        assert _values(session, "python.gc.gen0.collections")  # what was captured is kept


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_pool_series(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    with (
        redis_server() as port,
        run_target(extra=REDIS_EXTRA, tmp=tmp_path, env_extra={"WB_REDIS_PORT": str(port)}) as t,
    ):
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), FAST, session)
        name = f"redis_127_0_0_1_{port}_0"
        try:
            _wait_for(lambda: len(_values(session, f"pool.{name}.in_use")) >= 6, what="redis pool series")
        finally:
            handle.stop()
        assert _values(session, f"pool.{name}.max_open")[-1] == 6
        assert 1 <= max(_values(session, f"pool.{name}.in_use")) <= 6
        opened = _values(session, f"pool.{name}.open")
        assert 1 <= opened[-1] <= 6
        assert t.proc.poll() is None


@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/postgres"), reason="needs PostgreSQL")
def test_psycopg_and_asyncpg_pool_series(tmp_path: Path) -> None:
    pytest.importorskip("psycopg_pool")
    pytest.importorskip("asyncpg")
    with postgres_server() as dsn, run_target(extra=PG_EXTRA, tmp=tmp_path, env_extra={"WB_PG_DSN": dsn}) as t:
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), FAST, session)
        try:
            _wait_for(
                lambda: (
                    len(_values(session, "pool.orders.in_use")) >= 4
                    and len(_values(session, "pool.asyncpg.in_use")) >= 4
                ),
                what="psycopg_pool and asyncpg pool series",
            )
        finally:
            handle.stop()
        # psycopg_pool's get_stats(): named by the pool's own name
        assert _values(session, "pool.orders.max_open")[-1] == 4
        assert 1 <= max(_values(session, "pool.orders.in_use")) <= 4
        assert _values(session, "pool.orders.wait_count") and _values(session, "pool.orders.wait_s")
        # asyncpg's get_size()/get_idle_size()
        assert _values(session, "pool.asyncpg.max_open")[-1] == 5
        assert 2 <= _values(session, "pool.asyncpg.open")[-1] <= 5
        assert t.proc.poll() is None
