"""``workbench record --url`` end to end through the generic cmd_record, on the real Go service."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.gosvc import GoService, gosvc, pprofsvc_exe  # noqa: F401 (fixtures)
from workbench.cli.main import main
from workbench.formats import read_profiles

pytestmark = [pytest.mark.go, pytest.mark.slow]


def test_record_cpu_to_pprof_opens_in_go_tool_pprof(gosvc: GoService, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "cpu.pb.gz"
    gosvc.get("/burn?ms=30000")  # outlasts interpreter start-up on a loaded machine
    argv = ["record", "--url", gosvc.url, "--profile", "cpu", "--duration", "2", "-o", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "record done" in proc.stderr
    (prof,) = read_profiles(str(out))
    assert "main.hotspotBurn" in {f.function for f in prof.frames}
    go = shutil.which("go")
    if go is not None:
        top = subprocess.run(
            [go, "tool", "pprof", "-top", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "HOME": str(tmp_path), "PPROF_TMPDIR": str(tmp_path)},
        )
        assert top.returncode == 0, top.stderr
        assert "main.hotspotBurn" in top.stdout


def test_record_wbs_holds_profiles_and_series(
    gosvc: GoService,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench.formats.wbs import load_session

    out = tmp_path / "heap.wbs"
    rc = main(["record", "--url", gosvc.url, "--profile", "heap", "--duration", "2", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    s = load_session(str(out))
    keys = set(s.profiles)
    assert {f"pprof:{gosvc.url}:heap", f"pprof:{gosvc.url}:allocs"} <= keys
    for name in ("go.goroutines", "go.heap_inuse_bytes", "go.gc.count", "pool.db.max_open", "pool.db.in_use"):
        assert name in s.series, name
    assert s.series["pool.db.max_open"].last() == 4


def test_record_explains_an_empty_mutex_profile(
    gosvc: GoService,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc = main(["record", "--url", gosvc.url, "--profile", "mutex", "--duration", "1", "-o", str(tmp_path / "m.txt")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "mutex profile" in err and "SetMutexProfileFraction" in err


def test_record_against_a_down_url_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc = main(["record", "--url", f"http://127.0.0.1:{port}", "--duration", "1", "-o", str(tmp_path / "x.pb.gz")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "connection refused" in err and "fix:" in err
    assert not (tmp_path / "x.pb.gz").exists()
