"""``workbench record`` end to end against real targets: files written, Ctrl+C, errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers.targets import HOT, exits_soon, free_pid, non_python_process, run_target
from workbench.cli.main import main
from workbench.formats import read_profiles


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


def test_record_wbs_and_collapsed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wbs = tmp_path / "x.wbs"
    collapsed = tmp_path / "x.collapsed"
    with run_target(HOT) as proc:
        rc, err = _run(["record", "--pid", str(proc.pid), "--duration", "2", "-o", str(wbs)], capsys)
        assert rc == 0, err
        rc, err = _run(["record", "--pid", str(proc.pid), "-d", "2", "--rate", "50", "-o", str(collapsed)], capsys)
        assert rc == 0, err
    assert "pyspy:" in err and "coverage" in err

    from workbench.formats.wbs import load_session

    session = load_session(str(wbs))
    key = f"pyspy:{proc.pid}:cpu"
    assert key in session.profile_keys()
    assert session.profiles[key].totals()[0] > 0
    assert "process.rss_bytes" in session.series_names()

    text = collapsed.read_text()
    assert "hot_function" in text
    (prof,) = read_profiles(collapsed)
    assert prof.totals()[0] > 0


def test_ctrl_c_ends_early_and_still_writes(tmp_path: Path) -> None:
    out = tmp_path / "early.collapsed"
    with run_target(HOT) as target:
        rec = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench.cli.main",
                "record",
                "--pid",
                str(target.pid),
                "-d",
                "120",
                "-o",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # wait until a first chunk is being handed over: a second py-spy has been started
            deadline = time.monotonic() + 60
            spies: set[int] = set()
            while len(spies) < 2:
                assert time.monotonic() < deadline and rec.poll() is None
                spies |= {c.pid for c in psutil.Process(rec.pid).children() if c.name() == "py-spy"}
                time.sleep(0.05)
            time.sleep(0.5)
            rec.send_signal(signal.SIGINT)
            _, err = rec.communicate(timeout=60)
        finally:
            if rec.poll() is None:
                rec.kill()
                rec.wait()
    assert rec.returncode == 0, err
    assert "interrupted" in err
    assert "hot_function" in out.read_text()


def test_target_exit_keeps_what_was_captured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exit.wbs"
    with run_target(exits_soon(1.5)) as proc:
        rc, err = _run(["record", "--pid", str(proc.pid), "-d", "60", "-o", str(out)], capsys)
    assert rc == 0, err
    assert "exited during capture" in err
    from workbench.formats.wbs import load_session

    session = load_session(str(out))
    assert session.profiles[f"pyspy:{proc.pid}:cpu"].totals()[0] > 0


def test_unknown_pid_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(["record", "--pid", str(free_pid()), "-d", "1", "-o", str(tmp_path / "x.wbs")], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err and "fix:" in err
    assert not (tmp_path / "x.wbs").exists()


def test_non_python_pid_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with non_python_process() as proc:
        rc, err = _run(["record", "--pid", str(proc.pid), "-d", "1", "-o", str(tmp_path / "x.collapsed")], capsys)
    # no installed source profiles a plain process: refused before attaching (its series go to a .wbs)
    assert rc == 2 and "no source of this recording profiles" in err and err.count("\n") == 1


def test_unknown_source_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = _run(["record", "--pid", str(os.getpid()), "--source", "nope", "-o", str(tmp_path / "x.txt")], capsys)
    assert rc == 2 and "no capture source named 'nope'" in err
