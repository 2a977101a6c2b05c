"""`workbench leaks --url` takes a Go service's /debug/pprof/goroutineleak as evidence.

Go 1.26 serves that endpoint from the runtime (leaked goroutines found by the GC); this
machine's Go is 1.19, so the scenario service's ``-goroutineleak`` flag registers a
stand-in handler at that path serving, as a goroutine profile, the stacks from
``pprof.Lookup("goroutine")`` of the goroutines it deliberately blocks forever
(tests/leaks/go/leaksvc/goroutineleak.go). Without the flag the path is a 404, as on any
Go before 1.26, and the check falls back to the goroutine-count trend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.gosvc import start_pprofsvc
from tests.leaks.scenario import build_go_leaksvc

pytestmark = [
    pytest.mark.slow,
    pytest.mark.go,
    pytest.mark.skipif(shutil.which("go") is None, reason="go toolchain not installed (apt-get install golang-go)"),
]


def _leaks(url: str, seconds: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", "leaks", "--url", url, "--duration", str(seconds), "--json"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_go_leaksvc(tmp_path_factory.mktemp("leaksvc"))


def test_served_goroutineleak_names_the_leaked_goroutines_at_once(exe: Path) -> None:
    svc = start_pprofsvc(exe, "-goroutineleak")
    try:
        out = _leaks(svc.url, 6)  # far shorter than any trend needs: the runtime's word alone
    finally:
        svc.stop()
    assert out.returncode == 3, (out.stdout, out.stderr)
    doc = json.loads(out.stdout)
    assert len(doc["suspects"]) == 1, doc["suspects"]
    s = doc["suspects"][0]
    assert s["kind"] == "goroutines" and s["confidence"] == 1.0, s
    assert s["where"].startswith("main.spawnBlocked.func1 ("), s
    assert "/debug/pprof/goroutineleak" in s["evidence"], s
    assert s["stack"][0] == s["where"], s  # innermost first: the stand-in lists no runtime frames


def test_absent_goroutineleak_is_a_404_and_no_evidence(exe: Path) -> None:
    svc = start_pprofsvc(exe)
    try:
        out = _leaks(svc.url, 6)
    finally:
        svc.stop()
    assert out.returncode == 0, (out.stdout, out.stderr)  # 6 s is too short for a trend verdict
    assert "goroutineleak" not in out.stdout
