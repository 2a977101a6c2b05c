"""Our exports open in the other tools (go tool pprof, speedscope's schema), theirs open in ours.

Real tools only: ``go tool pprof`` from the Go toolchain and a live ``py-spy record``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.formats import collapsed_counter, reference_pprof_stacks
from workbench.formats import read_profiles, write_profile
from workbench.formats.collapsed import write_collapsed
from workbench.formats.pprof import read_pprof

GOLDEN = Path(__file__).parents[1] / "golden"
GO = shutil.which("go")
PYSPY = Path(sys.executable).with_name("py-spy")

go_only = pytest.mark.skipif(GO is None, reason="the go toolchain is not installed (apt-get install golang-go)")


def _go_pprof(*args: str, cwd: Path) -> str:
    env = {**os.environ, "HOME": str(cwd), "PPROF_TMPDIR": str(cwd)}
    proc = subprocess.run(
        [GO or "go", "tool", "pprof", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.go
@go_only
def test_exported_pprof_opens_in_go_tool_pprof(tmp_path):
    [prof] = read_profiles(GOLDEN / "pyspy_subprocesses.txt")
    out = tmp_path / "pyspy.pb.gz"
    write_profile(prof, out)
    top = _go_pprof("-top", "-nodecount=200", str(out), cwd=tmp_path)
    total = int(prof.totals()[0])
    assert f"of {total} total" in top
    assert re.search(r"\bleaf_work\b", top)
    # -raw lists every sample: the per-sample counts add up to ours
    raw = _go_pprof("-raw", str(out), cwd=tmp_path)
    counts = [int(m.group(1)) for m in re.finditer(r"^\s+(\d+): [\d ]+$", raw, re.M)]
    assert sum(counts) == total


@pytest.mark.go
@go_only
def test_go_tool_pprof_rewrite_of_our_export_reads_back_identically(tmp_path):
    """Ours -> go tool pprof -proto (Go's encoder: unpacked short lists, its own ids) -> ours."""
    [prof] = read_profiles(GOLDEN / "pyspy_threads.txt")
    ours = tmp_path / "ours.pb.gz"
    write_profile(prof, ours)
    theirs = tmp_path / "theirs.pb.gz"
    _go_pprof("-proto", "-output", str(theirs), str(ours), cwd=tmp_path)
    data = theirs.read_bytes()
    back = read_pprof(data)
    assert collapsed_counter(write_collapsed(back)) == collapsed_counter((GOLDEN / "pyspy_threads.txt").read_text())
    assert {k: v for k, v in reference_pprof_stacks(data, 0).items() if v} == collapsed_counter(write_collapsed(back))


@pytest.mark.go
@go_only
def test_real_go_cpu_profile_totals_match_go_tool_pprof(tmp_path):
    src = GOLDEN / "go_cpu.pb.gz"
    prof = read_pprof(src.read_bytes())
    raw = _go_pprof("-raw", str(src), cwd=tmp_path)
    rows = [tuple(map(int, m.groups())) for m in re.finditer(r"^\s+(\d+)\s+(\d+): [\d ]+$", raw, re.M)]
    assert (sum(r[0] for r in rows), sum(r[1] for r in rows)) == tuple(int(v) for v in prof.totals())


@pytest.mark.skipif(not PYSPY.exists(), reason="py-spy is not installed in the venv")
def test_pyspy_speedscope_output_reads(tmp_path):
    prog = tmp_path / "burn.py"
    prog.write_text(
        "import time\n"
        "def burn_cpu():\n"
        "    end = time.time() + 1.0\n"
        "    while time.time() < end:\n"
        "        sum(i * i for i in range(1000))\n"
        "burn_cpu()\n"
    )
    out = tmp_path / "rec.speedscope.json"
    proc = subprocess.run(
        [str(PYSPY), "record", "-f", "speedscope", "-r", "50", "-o", str(out), "--", sys.executable, str(prog)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0 and "ermission" in proc.stderr:
        pytest.skip(f"py-spy cannot attach here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    profiles = read_profiles(out)
    assert profiles and sum(p.totals()[0] for p in profiles) > 0
    functions = {f.function for p in profiles for f in p.frames}
    assert "burn_cpu" in functions
