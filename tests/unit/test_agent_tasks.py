"""asyncio task stacks from the runtime agent: the in-target sampler run in-process on a real
asyncio service (tests/py/asyncsvc.py), its report turned into a wall profile, classified.

The injection itself is tested in tests/integration/test_agent_async.py; here the sampler
class is loaded from the agent's source file (as the injected bootstrap does) and run from
another thread than the event loop's, exactly as the agent's thread runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import runpy
import sys
import threading
import time
from pathlib import Path

import pytest
from workbench_builtins.agent import in_target
from workbench_builtins.agent.reports import ReportConverter

from workbench.analysis.waits import classify, waiting_on
from workbench.model import ProfileKey, Session
from workbench.model.keys import WALL

ROOT = Path(__file__).resolve().parents[2]
AGENT = Path(in_target.__file__).with_name("agent.py")
KEY = ProfileKey("agent", "123", WALL)


def _msg(n: int, frames: list[list[object]]) -> list[object]:
    return [n, n * 0.1, frames]


# a report as the sampler sends it (recorded from the real sampler on asyncsvc.py)
REPORT = {
    "type": "tasks", "t0": 1000.0, "t1": 1001.0, "period_s": 0.1, "ticks": 10, "tasks_max": 13,
    "truncated": 0, "errors": 0,
    "stacks": [
        _msg(30, [["task handle_request", "", 0], ["handle_request", "/srv/asyncsvc.py", 70],
                  ["serve_report", "/srv/asyncsvc.py", 56],
                  ["_AsyncGeneratorContextManager.__aenter__", "/usr/lib/python3.12/contextlib.py", 210],
                  ["ConnectionPool.connection", "/srv/asyncsvc.py", 35],
                  ["_ContextManagerMixin.__aenter__", "/usr/lib/python3.12/asyncio/locks.py", 14],
                  ["Semaphore.acquire", "/usr/lib/python3.12/asyncio/locks.py", 386], ["[semaphore wait]", "", 0]]),
        _msg(20, [["task client-N", "", 0], ["client", "/srv/asyncsvc.py", 85],
                  ["StreamReader.readline", "/usr/lib/python3.12/asyncio/streams.py", 565],
                  ["StreamReader._wait_for_data", "/usr/lib/python3.12/asyncio/streams.py", 542],
                  ["[socket read]", "", 0]]),
        _msg(5, [["task <b>x</b>\x00", "", 0], ["[running]", "", 0]]),
        "junk", [1], [-3, 1.0, [["a", "", 0]]], [2, 0.2, ["bad frame"]],
    ],
}  # fmt: skip


def test_report_becomes_a_wall_profile_that_waits_for_the_pool() -> None:
    conv = ReportConverter("agent:123", tasks_key=KEY)
    batches = conv.convert(REPORT)
    assert len(batches) == 1
    s = Session()
    s.put(batches[0])
    p = s.snapshot_profile(KEY.text)
    assert p is not None and [st.type for st in p.sample_types] == ["samples", "wall"]
    assert p.totals().tolist() == [55.0, 55 * 0.1e9]
    assert (p.time_start, p.time_end) == (1000.0, 1001.0)
    names = {f.function for f in p.frames}
    assert {"task handle_request", "ConnectionPool.connection", "[semaphore wait]", "[socket read]"} <= names
    assert "task <b>x</b> " in names, "control characters removed; markup is escaped by exporters"
    summary = waiting_on(p, 1)
    kinds = {g.kind: g for g in summary.groups}
    assert kinds["pool"].value == pytest.approx(30 * 0.1e9)
    assert kinds["pool"].frames[0][0].function == "ConnectionPool.connection"
    assert kinds["network"].frames[0][0].function == "client", "the client's own line waits, not asyncio's"
    assert summary.running == pytest.approx(5 * 0.1e9)


def test_no_key_or_bad_report_makes_nothing() -> None:
    assert ReportConverter("agent:1").convert(REPORT) == []
    conv = ReportConverter("agent:1", tasks_key=KEY)
    assert conv.convert({"type": "tasks", "t0": "x"}) == []
    assert conv.convert({**REPORT, "stacks": [["a", "b", []]]}) == []


def test_sampler_reads_a_live_loop_from_another_thread(monkeypatch) -> None:
    """The sampler (from the agent's file) on the real service, its loop in another thread."""
    monkeypatch.setattr(sys, "argv", ["asyncsvc", "--hold-ms", "40"])
    agent = runpy.run_path(str(AGENT), run_name="agent_under_test")
    svc = runpy.run_path(str(ROOT / "tests" / "py" / "asyncsvc.py"), run_name="asyncsvc")
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(svc["main"]())
        loop.call_soon(started.set)
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    th = threading.Thread(target=run, daemon=True)
    th.start()
    try:
        assert started.wait(10)
        time.sleep(0.5)
        sampler = agent["_TaskSampler"]()
        for _ in range(30):
            assert sampler.tick(0.02) < 0.5
            time.sleep(0.02)
        report = sampler.report(0.02)
    finally:
        for t in asyncio.all_tasks(loop):
            loop.call_soon_threadsafe(t.cancel)
        th.join(10)
        loop.close()
    assert report is not None and report["errors"] == 0 and report["tasks_max"] >= 10
    by_leaf: dict[str, int] = {}
    for n, w, frames in report["stacks"]:
        assert w == pytest.approx(n * 0.02)
        by_leaf[frames[-1][0]] = by_leaf.get(frames[-1][0], 0) + n
        if frames[0][0] == "task handle_request" and frames[-1][0] == "[semaphore wait]":
            funcs = [f[0] for f in frames]
            assert funcs[1:3] == ["handle_request", "serve_report"]
            assert "ConnectionPool.connection" in funcs and funcs[-2] == "Semaphore.acquire"
    assert by_leaf.get("[semaphore wait]", 0) > 0, by_leaf
    assert by_leaf.get("[socket read]", 0) > 0, by_leaf
    # 8 handlers share 3 connections: most handler samples wait for one
    conv = ReportConverter("agent:1", tasks_key=KEY)
    s = Session()
    for b in conv.convert(report):
        s.put(b)
    p = s.snapshot_profile(KEY.text)
    assert p is not None
    w = classify([p.frames[int(p.frame[n])] for n in [_deepest(p, "[semaphore wait]")]])
    assert w is not None and w.kind == "lock", "the state alone is a lock wait"
    assert any(g.kind == "pool" for g in waiting_on(p, 1).groups), "under ConnectionPool it is a pool wait"


def _deepest(p, name: str) -> int:
    for n in range(p.n_nodes):
        if p.frame[n] >= 0 and p.frames[int(p.frame[n])].function == name:
            return n
    raise AssertionError(name)
