"""`workbench leaks` end to end: suspects and exit 3, the JSON contract, and a target that
dies mid-check is exit 2 with one line (never "no leaks")."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.leaks.scenario import PY_SRC, WARMUP_S

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("gdb") is None, reason="apt-get install gdb")]

WORKBENCH = [sys.executable, "-m", "workbench.cli.main"]
CONTRACT_KEYS = {"kind", "name", "where", "growth_per_min", "unit", "confidence", "evidence", "stack"}


def _start_leaksvc() -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(PY_SRC)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready")
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    if proc.stdout:
        proc.stdout.close()


def test_leaks_json_names_suspects_and_exits_3():
    proc = _start_leaksvc()
    try:
        time.sleep(WARMUP_S)
        out = subprocess.run(
            [*WORKBENCH, "leaks", "--pid", str(proc.pid), "--yes", "--duration", "26", "--json"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert out.returncode == 3, out.stderr
        doc = json.loads(out.stdout)
        assert set(doc) == {"suspects", "checked"}
        names = {s["name"] for s in doc["suspects"]}
        assert {"SessionStore._sessions", "WebSocketHub.clients", "Executor.executions"} <= names, names
        assert "LRUCache._data" not in names and "RingLog.entries" not in names
        for s in doc["suspects"] + doc["checked"]:
            assert set(s) == CONTRACT_KEYS
        assert proc.poll() is None, "the target must survive the check"
    finally:
        _stop(proc)


def test_target_dying_mid_check_is_an_error_not_a_pass():
    proc = _start_leaksvc()
    killer = threading.Timer(8.0, lambda: os.kill(proc.pid, signal.SIGKILL))
    killer.start()
    try:
        out = subprocess.run(
            [*WORKBENCH, "leaks", "--pid", str(proc.pid), "--yes", "--duration", "40"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        killer.cancel()
        _stop(proc)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "exited" in lines[0] and "Traceback" not in out.stderr, out.stderr


def test_non_python_pid_is_refused(tmp_path: Path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        out = subprocess.run([*WORKBENCH, "leaks", "--pid", str(sleeper.pid), "--duration", "5"],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    finally:
        sleeper.kill()
        sleeper.wait()
    assert out.returncode == 2
    assert "--url" in out.stderr and len(out.stderr.strip().splitlines()) == 1
