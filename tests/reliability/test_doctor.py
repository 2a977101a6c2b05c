"""Attach doctor checks this area added: the CPU profiler already in use, and py-spy's Python version support."""

from __future__ import annotations

import json

import pytest

from tests.helpers.targets import HOT, run_target
from tests.reliability.http_stubs import INDEX, reply, serve
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
        main(["doctor", "--url", s.url, "--json"])
    out, _ = capsys.readouterr()
    checks = {c["name"]: c for c in json.loads(out)["checks"]}
    # (the exit code also reflects other sources' checks, e.g. a Node inspector source on any URL)
    assert checks["CPU profile not already in use"]["ok"] is True


def test_python_version_supported_by_pyspy(capsys: pytest.CaptureFixture[str]) -> None:
    with run_target(HOT) as proc:
        rc = main(["doctor", "--pid", str(proc.pid), "--json"])
    out, _ = capsys.readouterr()
    assert rc in (0, 2)
    checks = [c for c in json.loads(out)["checks"] if c["source"] == "pyspy" and c["name"] == "python version"]
    assert checks and checks[0]["ok"] and checks[0]["message"].startswith("Python 3.12")
