"""Our exports open in the other tools (go tool pprof, speedscope's schema), theirs open in ours.

Real tools only: ``go tool pprof`` from the Go toolchain and a live ``py-spy record``.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.formats import collapsed_counter, reference_pprof_stacks
from workbench.formats import read_profiles, write_profile
from workbench.formats.collapsed import write_collapsed
from workbench.formats.pprof import read_pprof
from workbench.formats.speedscope import write_speedscope
from workbench.model import SAMPLES, Frame, Profile

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


SPEEDSCOPE_VERSION = "1.25.0"
CHROMIUM = "/usr/bin/chromium"


def _speedscope_app() -> Path:
    """speedscope's built app from its npm package, cached per user (fetched once with npm)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "profiling-workbench"
    app = cache / f"speedscope-{SPEEDSCOPE_VERSION}" / "package" / "dist" / "release"
    if (app / "index.html").exists():
        return app
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch the speedscope app")
    dest = app.parents[2]  # the tarball unpacks to package/dist/release
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [npm, "pack", f"speedscope@{SPEEDSCOPE_VERSION}", "--pack-destination", str(dest)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    tgz = dest / f"speedscope-{SPEEDSCOPE_VERSION}.tgz"
    if proc.returncode != 0 or not tgz.exists():
        pytest.skip(f"could not fetch speedscope from npm: {proc.stderr.strip()[-200:]}")
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    return app


@pytest.fixture
def served_speedscope(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The speedscope app and tmp_path served on loopback (file:// cannot fetch profiles)."""
    app = _speedscope_app()
    site = tmp_path / "site"
    shutil.copytree(app, site)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
def test_speedscope_app_opens_our_export(served_speedscope):
    from playwright.sync_api import sync_playwright

    base, site = served_speedscope
    [heap] = read_profiles(GOLDEN / "go_heap.pb.gz")
    hostile = Profile([SAMPLES], name="hostile")
    hostile.add_stack([Frame('<img src=x onerror="window.pwned=1">'), Frame("a\x00b;c\nd")], [3])
    (site / "heap.speedscope.json").write_bytes(write_speedscope([heap]))
    (site / "hostile.speedscope.json").write_bytes(write_speedscope([hostile]))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, title, picker in [
                ("heap", "go_heap.pb.gz - speedscope", "go_heap.pb.gz (inuse_space) (4/4)"),
                ("hostile", "hostile - speedscope", "hostile"),
            ]:
                page = browser.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(f"{base}/index.html#profileURL={base}/{name}.speedscope.json")
                deadline = time.monotonic() + 60
                while page.title() != title and time.monotonic() < deadline:
                    time.sleep(0.2)
                body = page.inner_text("body")
                assert page.title() == title, body[:300]
                assert picker in body and "Something went wrong" not in body
                assert errors == []
                assert page.evaluate("window.pwned") is None  # a name never runs as markup
                page.close()
        finally:
            browser.close()
