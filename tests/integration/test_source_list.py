"""``workbench list FILE REGEX`` on real recordings: the Python pool service under py-spy and
the Go service's CPU profile fetched over its pprof URL (the issue's "done when")."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.gosvc import GoService, gosvc, pprofsvc_exe  # noqa: F401 (fixtures)
from tests.helpers.poolsvc import SCRIPT as POOLSVC
from tests.helpers.source_listing import (
    GO_MAIN,
    go_burn_lines,
    hashing_loop_lines,
    listed_rows,
    number,
    record_go_cpu,
    record_poolsvc,
)
from workbench.cli.main import main

pytestmark = pytest.mark.slow


def _list(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["list", *argv])
    got = capsys.readouterr()
    return rc, got.out, got.err


def test_list_python_compute_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wbs = record_poolsvc(tmp_path / "cpu.wbs")
    rc, out, err = _list([str(wbs), "compute_report"], capsys)
    assert rc == 0, err
    first = out.split("ROUTINE", 2)[1]
    assert first.startswith(f" ======================== compute_report in {POOLSVC}"), out
    rows = listed_rows(out)
    sampled = {n: number(c) for n, (_f, c, _t) in rows.items() if number(c)}
    hottest = max(sampled, key=lambda n: sampled[n])
    assert hottest in hashing_loop_lines(), out
    # the loop body carries most of the function's samples
    assert sum(sampled[n] for n in hashing_loop_lines() if n in sampled) > 0.5 * max(sampled.values()), out
    assert "hashlib.sha256(" in rows[min(hashing_loop_lines())][2]  # text read from the file
    assert "<genexpr>" in out  # the generator on the XOR line is listed too (the regex matches it)

    # recorded elsewhere (a container's /app): the same stacks with the file under /app
    moved = tmp_path / "app.collapsed"
    assert main(["convert", str(wbs), str(tmp_path / "cpu.collapsed")]) == 0
    moved.write_text((tmp_path / "cpu.collapsed").read_text().replace(str(POOLSVC.parent), "/app"))
    rc, out, _e = _list([str(moved), "^compute_report$"], capsys)
    assert rc == 0
    assert out.count("source not shown: cannot read /app/poolsvc.py") == 1, out
    assert "--source-root" in out
    assert set(listed_rows(out)) <= set(sampled), "without the text only sampled lines print"
    assert listed_rows(out)[max(hashing_loop_lines())][1] != "."
    rc, out, _e = _list([str(moved), "^compute_report$", "--source-root", f"/app={POOLSVC.parent}"], capsys)
    assert rc == 0 and "source not shown" not in out
    assert "hashlib.sha256(" in out


def test_list_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.collapsed"
    path.write_text("main (m.py:3);f (m.py:9) 5\n")
    rc, _o, err = _list([str(path), "nomatch"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "no function matching" in err
    rc, _o, err = _list([str(path), "f(", "--sample-type", "0"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "regular expression" in err
    rc, _o, err = _list([str(path), "f", "--source-root", "nonsense"], capsys)
    assert rc == 2 and err.count("\n") == 1 and "OLD=NEW" in err


@pytest.mark.go
def test_list_go_hotspot(gosvc: GoService, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    out_path = record_go_cpu(gosvc, tmp_path / "go.wbs")
    rc, out, err = _list([str(out_path), "hotspotBurn", "--sample-type", "cpu"], capsys)
    assert rc == 0, err
    assert f"main.hotspotBurn in {GO_MAIN}" in out, out
    rows = listed_rows(out)
    sampled = {n: c for n, (_f, c, _t) in rows.items() if c != "."}
    assert sampled, out
    # the cpu column prints durations: the hottest line is the one the listing's own order says
    flat_cells = {n: f for n, (f, _c, _t) in rows.items() if f != "."}
    assert set(flat_cells) & go_burn_lines(), out
    assert "6364136223846793005" in rows[min(go_burn_lines())][2] or "6364136223846793005" in out
    rc, out, err = _list([str(out_path), "hotspotBurn", "--sample-type", "samples"], capsys)
    assert rc == 0, err
    rows = listed_rows(out)
    cums = {n: number(c) for n, (_f, c, _t) in rows.items() if c != "."}
    assert max(cums, key=lambda n: cums[n]) in go_burn_lines(), out


ALLOCATES = """
keep = []
def fill():
    for _ in range(200):
        keep.append(bytearray(40_000))  # the big allocation
        keep.append(bytearray(1_000))  # the small one
fill()
"""

HOT_JS = """function hotSum(n) {
  let s = 0;
  for (let i = 0; i < n; i++) {
    s += Math.sqrt(i) * 2;  // the hot line
  }
  return s;
}
const end = Date.now() + 1200;
let t = 0;
while (Date.now() < end) t += hotSum(100000);
"""


def test_list_memray_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.helpers.memray import memray_run

    cap = memray_run(tmp_path, ALLOCATES)
    rc, out, err = _list([str(cap), "^fill$", "--sample-type", "inuse_space"], capsys)
    assert rc == 0, err
    rows = listed_rows(out)
    big = next(n for n, r in rows.items() if "the big allocation" in r[2])
    small = next(n for n, r in rows.items() if "the small one" in r[2])
    assert rows[big][1] != "." and rows[small][1] != ".", out
    assert rows[big][1].endswith(("KiB", "MiB")), out


def test_list_v8_cpuprofile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    src = tmp_path / "hot.js"
    src.write_text(HOT_JS)
    subprocess.run([node, "--cpu-prof", f"--cpu-prof-dir={tmp_path}", str(src)], check=True, timeout=60)
    (prof,) = tmp_path.glob("*.cpuprofile")
    rc, out, err = _list([str(prof), "hotSum"], capsys)
    assert rc == 0, err
    rows = listed_rows(out)
    flats = {n: number(f) for n, (f, _c, _t) in rows.items() if f != "."}
    # V8's positionTicks put the samples on the lines that ran, not on the function's first line
    hot = max(flats, key=lambda n: flats[n])
    assert "the hot line" in rows[hot][2], out
