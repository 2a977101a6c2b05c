"""Process stats (psutil) of a real child process, including connections grouped by remote."""

from __future__ import annotations

import socket
import time

import pytest

from tests.helpers.targets import free_pid, run_target, tcp_client
from workbench.capture import Target, default_registry
from workbench.errors import TargetExited, TargetNotFound
from workbench.model import Session


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    yield srv
    srv.close()


def test_series_and_connections_grouped_by_remote(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    plugin = default_registry().load("procstats")
    with run_target(tcp_client(port, connections=3)) as proc:
        session = Session()
        handle = plugin.start(Target.from_pid(proc.pid), {"interval": 0.2}, session)
        deadline = time.monotonic() + 30
        while handle.status().samples < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        handle.stop()
        proc.kill()
        proc.wait()
    names = set(session.series_names())
    for name in ("process.cpu_percent", "process.rss_bytes", "process.uss_bytes", "process.threads", "process.fds"):
        assert name in names, names
    remote = f"process.connections.127.0.0.1:{port}"
    assert session.series[remote].last() == 3
    assert session.series["process.tcp_states.ESTABLISHED"].last() == 3
    assert session.series["process.rss_bytes"].unit == "bytes"
    assert session.series["process.threads"].last() >= 1
    assert not handle.status().running and handle.status().error is None


def test_target_exit_ends_procstats_with_marker() -> None:
    plugin = default_registry().load("procstats")
    with run_target("print('TARGET_READY', flush=True); import time; time.sleep(0.6)") as proc:
        session = Session()
        handle = plugin.start(Target.from_pid(proc.pid), {"interval": 0.1}, session)
        assert handle.join(30)
    assert isinstance(handle.status().error, TargetExited)
    assert any(e.kind == "target_exited" for e in session.events)
    handle.stop()


def test_unknown_pid() -> None:
    plugin = default_registry().load("procstats")
    assert not plugin.preflight(Target.from_pid(free_pid()))[0].ok
    with pytest.raises(TargetNotFound):
        plugin.start(Target.from_pid(free_pid()), {}, Session())
