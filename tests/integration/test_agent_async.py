"""The runtime agent's asyncio task stacks, injected (with consent) into a real asyncio service.

tests/py/asyncsvc.py: 8 client tasks send requests back to back to handlers that share an
``asyncio.Semaphore`` pool of 3 "connections". The agent samples every task's awaiting
coroutine chain; the wall profile ``agent:PID:wall`` must show the handler chain
(``handle_request`` -> ``serve_report`` -> ``ConnectionPool.connection`` ->
``Semaphore.acquire``) ending in ``[semaphore wait]``, which the "Waiting on" analysis reads
as waiting for a pool connection.
"""

from __future__ import annotations

import shutil
import sys
import time

import pytest
from workbench_builtins.agent import plugin

from tests.helpers.agent_targets import python313
from tests.helpers.asyncsvc import run_asyncsvc
from workbench.analysis.waits import waiting_on
from workbench.capture.api import Target
from workbench.errors import ConsentRequired
from workbench.model import ProfileKey, Session
from workbench.model.keys import WALL

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None and shutil.which("lldb") is None, reason="needs a debugger")

PY313 = python313()
PYTHONS = [
    pytest.param(sys.executable, id="py312"),
    pytest.param(PY313, id="py313", marks=pytest.mark.skipif(PY313 is None, reason="pyenv's 3.13.0 not installed")),
]
OPTS = {"yes": True, "interval": 0.5, "census_interval": 30.0, "heartbeat": 5.0, "async_rate": 20.0}


def _handler_chains(p) -> list[list[str]]:
    out = []
    for n in range(1, p.n_nodes):
        if p.self_values[n, 0] > 0:
            out.append([f.function for f in p.stack_frames(n)])
    return out


@pytest.mark.parametrize("python", PYTHONS)
def test_async_task_stacks_show_the_pool_wait(python: str) -> None:
    with run_asyncsvc("--hold-ms", "50", python=python) as proc:
        target = Target.from_pid(proc.pid)
        with pytest.raises(ConsentRequired):
            plugin.start(target, {**OPTS, "yes": False}, Session())
        session = Session()
        handle = plugin.start(target, OPTS, session)
        key = ProfileKey("agent", str(proc.pid), WALL).text
        try:
            deadline = time.monotonic() + 30
            p = None
            while time.monotonic() < deadline:
                p = session.snapshot_profile(key)
                if p is not None and p.totals()[0] >= 200:
                    break
                time.sleep(0.2)
            assert p is not None, f"no {key} profile (profiles: {session.profile_keys()}, {handle.status()})"
        finally:
            handle.stop()
        assert proc.poll() is None, "the service runs on after detach"
    chains = _handler_chains(p)
    pool_chain = next((c for c in chains if c[-1] == "[semaphore wait]"), None)
    assert pool_chain is not None, chains
    assert pool_chain[0] == "task handle_request"
    assert pool_chain[1:3] == ["handle_request", "serve_report"]
    assert "ConnectionPool.connection" in pool_chain and pool_chain[-2] == "Semaphore.acquire"
    assert any(c[0] == "task client-N" and c[-1] == "[socket read]" for c in chains), chains
    assert any(c[-1] == "[sleep]" and "ConnectionPool.query" in c for c in chains), "a handler holding a connection"
    summary = waiting_on(p, 1)
    groups = {g.kind: g for g in summary.groups}
    assert "pool" in groups, [(g.kind, g.value) for g in summary.groups]
    assert groups["pool"].frames[0][0].function == "ConnectionPool.connection"
    # 8 handlers, 3 connections: the pool wait is the handlers' biggest share of wall time
    handler_total = sum(p.self_values[n, 1] for n in range(1, p.n_nodes)
                        if p.self_values[n, 1] > 0 and p.stack_frames(n)[0].function == "task handle_request")  # fmt: skip
    assert groups["pool"].value > 0.4 * handler_total, (groups["pool"].value, handler_total)
    assert float(p.meta["sampling_period_s"]) == pytest.approx(0.05)
