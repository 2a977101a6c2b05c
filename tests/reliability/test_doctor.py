"""Attach doctor checks this area added: the CPU profiler already in use, and py-spy's Python version support."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers.http_stubs import INDEX, reply, serve
from tests.helpers.targets import HOT, run_target
from workbench.cli.main import main

BUSY = "Could not enable CPU profiling: cpu profiling already in use\n"
GZ_EMPTY = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def test_cpu_profile_already_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    routes = {"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/profile": reply(500, BUSY)}
    with serve(routes) as s:
        rc = main(["doctor", "--url", s.url, "--json"])
    out, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and err.startswith("workbench: error: ")
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    assert checks["pprof endpoints"]["ok"] is True
    busy = checks["CPU profile not already in use"]
    assert busy["ok"] is False
    assert busy["message"] == "another client is taking a CPU profile of this service right now"
    assert (
        busy["fix"] == "Go allows one CPU profile at a time: wait for the other `go tool pprof` or workbench to finish"
    )


def test_cpu_profile_free(capsys: pytest.CaptureFixture[str]) -> None:
    routes = {"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/profile": reply(200, GZ_EMPTY)}
    with serve(routes) as s:
        rc = main(["doctor", "--url", s.url, "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["CPU profile not already in use"]["ok"] is True
    # only the pprof source is asked about a pprof URL (not the Node inspector)
    assert {c["source"] for c in doc["checks"]} == {"pprof", "doctor"} or {c["source"] for c in doc["checks"]} == {
        "pprof"
    }
    assert rc == (0 if doc["ok"] else 2)


def test_python_version_supported_by_pyspy(capsys: pytest.CaptureFixture[str]) -> None:
    with run_target(HOT) as proc:
        rc = main(["doctor", "--pid", str(proc.pid), "--json"])
    out, _ = capsys.readouterr()
    assert rc == 0, out
    checks = [c for c in json.loads(out)["checks"] if c["source"] == "pyspy" and c["name"] == "python version"]
    # the target runs this test's interpreter (3.12 or newer)
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    assert checks and checks[0]["ok"] and checks[0]["message"].startswith(version)


def test_doctor_on_a_python_pid_asks_only_the_sources_that_apply(tmp_path):
    import subprocess

    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        out = subprocess.run([sys.executable, "-m", "workbench.cli.main", "doctor", "--pid", str(target.pid), "--json"],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    finally:
        target.kill()
        target.wait()
    import json

    doc = json.loads(out.stdout)
    sources = {c["source"] for c in doc["checks"]}
    assert out.returncode == 0 and doc["ok"], out.stdout
    assert {"pyspy", "memray", "agent", "procstats"} <= sources
    assert "inspector" not in sources and "pprof" not in sources
