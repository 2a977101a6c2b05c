"""The plugin contract end to end: a third-party plugin (tests/plugins/wb_procfile), installed
with pip, becomes the default source for its runtime, offers an action, serves a trigger, is
checked by ``doctor`` and feeds the leak engine, with no line of ``workbench/`` naming it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.wheels import build_wheel, pip_install_target
from workbench.formats.wbs import load_session

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "wb_procfile" / "wb_procfile.py"
# a process no built-in profiles (runtime "other"): it reports a growing and a flat container
TARGET = (
    'n=0; while :; do n=$((n+40)); printf "sessions %d\\ncache 100\\n" $n > "$WB_PROCFILE_REPORT.tmp"; '
    'mv "$WB_PROCFILE_REPORT.tmp" "$WB_PROCFILE_REPORT"; sleep 0.2; done'
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("procfile")
    wheel = build_wheel(
        tmp,
        "wb-procfile",
        {"wb_procfile.py": PLUGIN.read_bytes()},
        "[workbench.plugins]\nprocfile = wb_procfile:plugin\n",
    )
    site = tmp / "site"
    pip_install_target(wheel, site)
    return site


@pytest.fixture
def target(tmp_path: Path) -> Iterator[int]:
    report = tmp_path / "report.txt"
    report.write_text("")
    proc = subprocess.Popen(["/bin/sh", "-c", TARGET], env={"PATH": "/usr/bin:/bin", "WB_PROCFILE_REPORT": str(report)})
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def _workbench(site: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_doctor_checks_the_third_party_plugin(site: Path, target: int) -> None:
    res = _workbench(site, "doctor", "--pid", str(target), "--json")
    checks = json.loads(res.stdout)["checks"]
    mine = [c for c in checks if c["source"] == "procfile"]
    assert mine and mine[0]["name"] == "report file" and mine[0]["ok"], checks
    # the built-ins that do not read this runtime are not asked
    assert not {c["source"] for c in checks} & {"pyspy", "memray", "agent", "inspector"}


@pytest.mark.slow
def test_record_defaults_trigger_and_action_through_the_plugin(site: Path, target: int, tmp_path: Path) -> None:
    out = tmp_path / "out.wbs"
    res = _workbench(
        site, "record", "--pid", str(target), "-d", "5", "-o", str(out),
        "--trigger", "procfile.container.sessions.len>200 -> cpu 1s", "--action", "mark@1",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    session = load_session(str(out))
    keys = set(session.profile_keys())
    # the runtime-aware default: no --source was named, the plugin is the default for "other"
    assert f"procfile:{target}:cpu" in keys
    assert f"trigger1:procfile:{target}:cpu" in keys, res.stderr
    assert "process.rss_bytes" in session.series  # process stats: a default for every runtime
    assert any(e.kind == "procfile.mark" for e in session.events)
    states = {f.function for f in session.profiles[f"procfile:{target}:cpu"].frames}
    assert any(s.startswith("state ") for s in states)


@pytest.mark.slow
def test_leaks_judges_what_the_plugin_reports(site: Path, target: int) -> None:
    res = _workbench(site, "leaks", "--pid", str(target), "-d", "25", "--interval", "0.5", "--json")
    assert res.returncode == 3, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert [s["name"] for s in report["suspects"]] == ["sessions"]
    assert "cache" in {c["name"] for c in report["checked"]}
