"""``workbench record --source agent`` end to end, and the agent's report conversion."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workbench_builtins.agent.reports import ReportConverter, safe_name

from tests.helpers.agent_targets import run_target
from workbench.model.session import FindingsBatch, SeriesBatch, Session

WORKBENCH = str(Path(sys.executable).with_name("workbench"))


@pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")
def test_record_agent_to_wbs(tmp_path: Path) -> None:
    out = tmp_path / "x.wbs"
    with run_target() as t:
        base = [WORKBENCH, "record", "--pid", str(t.pid), "--source", "agent", "-d", "4", "-o", str(out)]
        refused = subprocess.run(base, capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2
        assert len(refused.stderr.strip().splitlines()) == 1 and "--yes" in refused.stderr
        assert "Traceback" not in refused.stderr and not out.exists()
        done = subprocess.run([*base, "--yes"], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        assert t.proc.poll() is None
    from workbench.formats.wbs import load_session

    session = load_session(str(out))
    names = set(session.series)
    assert "python.container.SessionStore._sessions.len" in names
    assert "python.container.LRUCache._data.len" in names
    assert "python.gc.gen0.collections" in names


@pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")
def test_agent_alongside_pyspy(tmp_path: Path) -> None:
    """py-spy ptrace-stops the target 100 times a second; gdb's attach must find a gap."""
    out = tmp_path / "both.wbs"
    with run_target() as t:
        cmd = [WORKBENCH, "record", "--pid", str(t.pid), "--source", "pyspy", "--source", "agent", "--yes"]
        done = subprocess.run(
            [*cmd, "-d", "4", "-o", str(out)], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
    from workbench.formats.wbs import load_session

    session = load_session(str(out))
    assert any(k.startswith("pyspy:") for k in session.profiles)
    assert "python.gc.gen0.collections" in session.series


def test_report_conversion_names_and_bounds() -> None:
    conv = ReportConverter("agent:1")
    evil = "<script>alert(1)</script>\n" + "x" * 500
    census = {
        "type": "census",
        "t": 100.0,
        "dur_s": 0.01,
        "partial": True,
        "budget_s": 0.05,
        "phase": "heap",
        "containers": [
            {"name": "Store._s", "path": "app.store._s", "kind": "map", "type": "dict", "len": 10, "bytes": 800},
            {"name": evil, "path": evil, "kind": "weird", "type": "dict", "len": 5, "bytes": 100},
            {"name": "bad", "len": "NaN?", "bytes": None},
        ],
    }
    session = Session()
    for b in conv.convert(census):
        session.put(b)
    census2 = dict(census, t=160.0, partial=False)
    census2["containers"] = [dict(census["containers"][0], len=70)]  # type: ignore[index]
    batches = conv.convert(census2)
    for b in batches:
        session.put(b)
    assert session.series["python.container.Store._s.len"].last() == 70
    f = next(x for x in session.findings if x.name == "Store._s")
    assert f.suspect is False and f.growth_per_min == pytest.approx(60.0) and "+60 since the last census" in f.evidence
    assert f.sparkline == [10.0, 70.0]
    # findings are replaced per census, not accumulated
    assert len([x for x in session.findings if x.target == "agent:1"]) == 1
    for name in session.series_names():
        assert "<" not in name and "\n" not in name and len(name) < 160 and "(" not in name
    assert any(isinstance(b, FindingsBatch) for b in batches) and isinstance(batches[0], SeriesBatch)
    assert safe_name("a b/c\x00") == "a_b_c_"
    assert all("\n" not in x.where and len(x.where) <= 200 for x in session.findings)
    assert [e.kind for e in session.events] == ["agent.census_partial"]
    gc_msg = {
        "type": "gc",
        "t": 5.0,
        "stats": [{"collections": 3, "collected": 10, "uncollectable": 0}] * 3,
        "count": [1, 2, 3],
        "threshold": [700, 10, 10],
        "frozen": 0,
        "pauses": [[4.5, 0, 0.001, 3, 0], ["x", 0, 1]],
        "agent": {"cpu_s": 0.5},
    }
    for b in conv.convert(gc_msg):
        session.put(b)
    assert session.series["python.gc.pause_s"].last() == 0.001
    assert session.series["python.gc.gen2.collections"].last() == 3
    pools = {"type": "pools", "t": 6.0, "pools": [{"name": "sqlite.app", "open": 3, "in_use": 2, "idle": 1}]}
    for b in conv.convert(pools):
        session.put(b)
    assert session.series["pool.sqlite_app.in_use"].last() == 2
