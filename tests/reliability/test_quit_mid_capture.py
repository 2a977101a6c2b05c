"""Quitting mid-capture: no orphaned py-spy, memray helper or gdb, the target lives on, the data is kept.

``workbench record`` runs as a real child with py-spy, memray and procstats attached to a
real target. Every process it spawns is collected with psutil while it runs; after a
Ctrl+C (clean quit) or a kill -9 (crash) each of them must be gone, and the ``.wbs``
must reopen with what was captured up to the last committed batch.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers.targets import HOT, run_target
from workbench.formats.wbs import load_session

WORKBENCH = str(Path(sys.executable).with_name("workbench"))


def descendants_while_running(proc: subprocess.Popen[str], seconds: float) -> dict[int, str]:
    """Every process ``proc`` spawned during ``seconds`` (py-spy rotates its process every chunk)."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            for c in psutil.Process(proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    seen.setdefault(c.pid, c.name())
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    return seen


def still_alive(pids: dict[int, str]) -> dict[int, str]:
    alive = {}
    for pid, name in pids.items():
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE and p.name() == name:
                alive[pid] = name
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_all_gone(pids: dict[int, str], timeout: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (alive := still_alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def start_record(pid: int, out: Path) -> subprocess.Popen[str]:
    sources = ["--source", "pyspy", "--source", "memray", "--source", "procstats"]
    # --nonblocking: py-spy reads without pausing the target, so memray's gdb can attach alongside
    cmd = [WORKBENCH, "record", "--pid", str(pid), *sources, "--nonblocking", "-d", "120", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("how", ["ctrl-c", "kill-9"])
def test_quit_mid_capture_leaves_no_orphans_and_keeps_the_data(tmp_path: Path, how: str) -> None:
    out = tmp_path / "x.wbs"
    with run_target(HOT) as target:
        rec = start_record(target.pid, out)
        try:
            spawned = descendants_while_running(rec, 6.0)
            names = set(spawned.values())
            assert "py-spy" in names and "python" in names  # py-spy and the memray helper really ran
            rec.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
            rc = rec.wait(60)
            err = rec.stderr.read() if rec.stderr else ""
        finally:
            if rec.poll() is None:
                rec.kill()
                rec.wait(10)
            if rec.stderr:
                rec.stderr.close()
        # a clean quit reaps at once; after a crash the helpers notice their parent is gone (dead-man stop)
        left = wait_all_gone(spawned, 5.0 if how == "ctrl-c" else 30.0)
        assert not left, f"orphans after {how}: {left}"
        assert target.poll() is None, "the target must outlive the workbench"
    if how == "ctrl-c":
        assert rc == 0 and "interrupted; kept what was captured" in err and "Traceback" not in err, err
    else:
        assert rc == -signal.SIGKILL
    session = load_session(str(out))  # reopens after kill -9: everything up to the last commit
    pyspy = [session.profiles[k] for k in session.profile_keys() if k.startswith("pyspy:")]
    assert pyspy and pyspy[0].totals()[0] > 0
    assert "hot_function" in {f.function for f in pyspy[0].frames}
    assert len(session.series["process.rss_bytes"]) >= 3
