"""``workbench --url URL -o OUT.wbs`` and ``workbench --pid PID -o OUT.wbs``: the window opens
attached with the runtime's default sources, writes the session as it captures, and a SIGTERM
keeps everything captured (the real program, in a child process, offscreen)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.gosvc import GoService, gosvc, pprofsvc_exe  # noqa: F401 (fixtures)
from workbench.formats.wbs import load_session
from workbench.model import Session

CAPTURE_S = 14.0


def _attach(tmp_path: Path, *args: str) -> tuple[Session, str]:
    out = tmp_path / "attached.wbs"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli.main", *args, "-o", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(CAPTURE_S)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    return load_session(str(out)), err


def _keys(session: Session) -> set[tuple[str, str]]:
    return {(session.key_of(k).source, session.key_of(k).kind) for k in session.profile_keys()}


@pytest.mark.slow
@pytest.mark.go
def test_gui_attached_by_url_writes_profiles_series_and_process_stats(tmp_path: Path, gosvc: GoService) -> None:  # noqa: F811
    session, err = _attach(tmp_path, "--url", gosvc.url)
    assert ("pprof", "cpu") in _keys(session), (session.profile_keys(), err)
    assert "go.goroutines" in session.series and len(session.series["go.goroutines"]) > 3
    # a loopback URL served by a local PID also gets that PID's process stats
    assert "process.rss_bytes" in session.series, sorted(session.series)


@pytest.mark.slow
@pytest.mark.go
def test_gui_attached_by_go_pid_finds_its_pprof_listener(tmp_path: Path, gosvc: GoService) -> None:  # noqa: F811
    session, err = _attach(tmp_path, "--pid", str(gosvc.pid))
    keys = _keys(session)
    assert ("pprof", "cpu") in keys, (session.profile_keys(), err)
    assert any(session.key_of(k).target == gosvc.url for k in session.profile_keys())
    assert "process.cpu_percent" in session.series and "go.heap_inuse_bytes" in session.series


@pytest.mark.slow
def test_gui_attached_by_python_pid_profiles_it(tmp_path: Path) -> None:
    from tests.helpers.targets import HOT, run_target

    with run_target(HOT) as proc:
        session, err = _attach(tmp_path, "--pid", str(proc.pid))
    assert ("pyspy", "cpu") in _keys(session), (session.profile_keys(), err)
    assert "process.cpu_percent" in session.series


@pytest.mark.slow
def test_gui_attached_by_node_pid_with_an_open_inspector(tmp_path: Path) -> None:
    from tests.node.nodesvc import start_service

    svc = start_service("--inspect=127.0.0.1:0")  # open already: attaching changes nothing, no question
    try:
        session, err = _attach(tmp_path, "--pid", str(svc.pid))
    finally:
        svc.stop()
    assert ("inspector", "cpu") in _keys(session), (session.profile_keys(), err)
    assert "process.rss_bytes" in session.series
