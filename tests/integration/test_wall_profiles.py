"""``record --profile wall`` on real services, and the honest Python CPU profile (issue 19).

- Go: 8 handlers share a 3-connection database/sql pool (pprofsvc /handlers). The wall
  profile shows the handlers' time in ``database/sql.(*DB).conn`` at about the share that
  goroutine dumps taken by hand show (~5/8); the CPU profile cannot show it at all.
- Python: handlers hash in ``compute_report`` and queue for a 3-connection pool
  (tests/py/poolsvc.py). The wall profile shows ``Queue.get`` under the handler; the
  default CPU profile has ``compute_report`` at 70 % or more, where py-spy's own idle
  guess put it near a third.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.gosvc import (
    GoService,
    pprofsvc_exe,  # noqa: F401 (fixture)
    start_pprofsvc,
)
from tests.helpers.poolsvc import run_poolsvc, share
from workbench.cli.main import main

pytestmark = [pytest.mark.slow]

HANDLER = "main.queryHandler"
POOL = "database/sql.(*DB).conn"


@pytest.fixture
def pool_go(pprofsvc_exe: Path):  # noqa: F811
    if shutil.which("go") is None:
        pytest.skip("apt-get install golang-go")
    svc = start_pprofsvc(pprofsvc_exe, "-max-open", "3")
    try:
        svc.get("/handlers?n=8&hold_ms=20&seconds=120")
        time.sleep(0.5)
        yield svc
    finally:
        svc.stop()


def _by_hand(svc: GoService, dumps: int = 40) -> float:
    """Share of handler goroutines inside (*DB).conn, from goroutine dumps read here."""
    handlers = in_pool = 0
    for _ in range(dumps):
        text = svc.get("/debug/pprof/goroutine?debug=2")
        for g in text.split("\n\n"):
            if HANDLER in g:
                handlers += 1
                in_pool += POOL in g
        time.sleep(0.02)
    assert handlers > 0
    return in_pool / handlers


@pytest.mark.go
def test_go_wall_shows_pool_wait_cpu_does_not(pool_go: GoService, tmp_path: Path) -> None:
    wall = tmp_path / "wall.txt"
    assert main(["record", "--url", pool_go.url, "--profile", "wall", "-d", "4", "-o", str(wall)]) == 0
    hand = _by_hand(pool_go)
    got = share(wall, POOL, under=HANDLER)
    assert 0.4 <= hand <= 0.85, hand  # 5 of 8 handlers queue (~62 %), give or take the machine
    assert abs(got - hand) < 0.15, (got, hand)
    states = {line.rpartition(" ")[0].rsplit(";", 1)[-1] for line in wall.read_text().splitlines()}
    assert "[select]" in states and "[IO wait]" in states
    cpu = tmp_path / "cpu.txt"
    assert main(["record", "--url", pool_go.url, "--profile", "cpu", "-d", "2", "-o", str(cpu)]) == 0
    # a queued handler is off the CPU: only the instants it takes or returns a connection show
    # (a CI run caught 1 of 5 samples there), never the ~60 % it queues
    assert share(cpu, POOL) < hand / 2, cpu.read_text()


def test_python_wall_shows_queue_get_under_handler(tmp_path: Path) -> None:
    with run_poolsvc() as proc:
        out = tmp_path / "wall.txt"
        assert main(["record", "--pid", str(proc.pid), "--profile", "wall", "-d", "3", "-o", str(out)]) == 0
    text = out.read_text()
    assert re.search(r"Handler\.do_GET[^\n]*ConnectionPool\.connection[^\n]*;Queue\.get", text)
    leaves = {line.rpartition(" ")[0].rsplit(";", 1)[-1] for line in text.splitlines()}
    assert {"[running]", "[sleep]", "[lock wait]"} <= leaves, leaves


def test_python_default_cpu_profile_is_on_cpu_only(tmp_path: Path) -> None:
    with run_poolsvc() as proc:
        out = tmp_path / "cpu.txt"
        assert main(["record", "--pid", str(proc.pid), "-d", "4", "-o", str(out)]) == 0
    cpu_share = share(out, "compute_report")
    # py-spy's own idle guess: ~30 %, with pool sleeps and socket reads counted as running
    assert cpu_share >= 0.70, cpu_share
    # a thread waking in Condition.wait runs for a moment; parked there it is not CPU
    assert share(out, "Condition.wait") < 0.05
