"""Collapsed stacks -> interactive SVG: ``workbench convert`` against flamegraph.pl, whole commands.

Both tools run as a user runs them (interpreter start, imports, reading, writing the file
included) on every file shape of ``gen_shapes.py`` (many unique stacks, long JVM-style
names, deep recursion, 10k-frame stacks, a million distinct frames: 5 MB and up each),
FlameGraph's own perf example (collapsed by its ``stackcollapse-perf.pl``) and a small
file; with ``--recorded`` also the 9 MB+ py-spy recording of ``gen_large_collapsed.py``.
Each command runs once to warm the page cache, then ``--runs`` times interleaved with the
other; medians of wall time are reported.

Budgets (README): on every large shape (>= 5 MB) workbench is at least 2x faster than
flamegraph.pl; on small files the cold start (the command's wall time minus the same
conversion's in-process time in a warm interpreter) is no larger than what
``python -c 'import numpy'`` costs plus 30 ms: each run is paired with the ``import numpy``
run next to it and the median of the differences is checked. The children run with byte-code caching on
(``PYTHONDONTWRITEBYTECODE`` removed), as an installed workbench has its ``.pyc`` files.

flamegraph.pl (Brendan Gregg's FlameGraph, never committed here) is looked for in order:
  1. ``$FLAMEGRAPH_DIR/flamegraph.pl``;
  2. ``benchmarks/.cache/FlameGraph/flamegraph.pl`` (git-ignored), e.g. after
     ``git clone https://github.com/brendangregg/FlameGraph benchmarks/.cache/FlameGraph``;
  3. a bare git snapshot of that repository (``$FLAMEGRAPH_GIT``, default
     ``/work/.mirror/brendangregg+FlameGraph/repo``, where the agent tooling's ``fetch
     github:brendangregg/FlameGraph`` puts it): the scripts are extracted from it into a
     temporary folder for the run and deleted after.
If ``inferno-flamegraph`` (the Rust port) is on PATH it is timed too.

    .venv/bin/python benchmarks/bench_collapsed_to_svg.py [--runs 5] [--shape NAME ...] [--recorded]
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import budget  # noqa: E402  (sibling scripts, run from anywhere)
import gen_large_collapsed  # noqa: E402
import gen_shapes  # noqa: E402

DEFAULT_GIT = "/work/.mirror/brendangregg+FlameGraph/repo"
BUDGET_RATIO = 2.0
COLD_START_SLACK_S = 0.030
LARGE_BYTES = 5_000_000
# Shapes timed and shown but held to no budget, with the reason printed next to them.
NO_BUDGET = {
    "deep-recursion-regular": "flamegraph.pl takes under 0.3 s on ~460 near-identical lines; "
    "2x would leave workbench less than python + numpy take to start",
}


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an install has its .pyc files; time that
    return env


def find_flamegraph(tmp: Path) -> Path | None:
    """flamegraph.pl, with stackcollapse-perf.pl and the perf example beside it when available."""
    env_dir = os.environ.get("FLAMEGRAPH_DIR")
    for cand in ([Path(env_dir) / "flamegraph.pl"] if env_dir else []) + [HERE / ".cache/FlameGraph/flamegraph.pl"]:
        if cand.is_file():
            return cand
    git_dir = os.environ.get("FLAMEGRAPH_GIT", DEFAULT_GIT)
    if not Path(git_dir).is_dir():
        return None
    for name in ("flamegraph.pl", "stackcollapse-perf.pl", "example-perf-stacks.txt.gz"):
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"HEAD:{name}"], capture_output=True, check=False)
        if blob.returncode == 0:
            (tmp / name).write_bytes(blob.stdout)
    return tmp / "flamegraph.pl"


def perf_example(flamegraph: Path, tmp: Path) -> Path | None:
    """FlameGraph's own perf example, collapsed by its own stackcollapse-perf.pl."""
    stacks, collapse = flamegraph.with_name("example-perf-stacks.txt.gz"), flamegraph.with_name("stackcollapse-perf.pl")
    if not (stacks.is_file() and collapse.is_file()):
        return None
    out = tmp / "flamegraph-perf-example.collapsed"
    raw = tmp / "example-perf-stacks.txt"
    raw.write_bytes(gzip.decompress(stacks.read_bytes()))
    with out.open("wb") as fh:
        subprocess.run(["perl", str(collapse), str(raw)], check=True, stdout=fh)
    return out


def run_once(cmd: list[str], stdout_path: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the child): CPU is steadier on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with stdout_path.open("wb") if stdout_path else open(os.devnull, "wb") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.DEVNULL, env=child_env())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_commands(
    cmds: dict[str, tuple[list[str], Path | None]], runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    for cmd, out in cmds.values():
        run_once(cmd, out)  # warm-up: page cache, .pyc files
    for _ in range(runs):
        for name, (cmd, out) in cmds.items():  # interleaved, so load changes hit both alike
            wall, cpu = run_once(cmd, out)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return walls, cpus


def in_process_seconds(src: Path, dst: Path, runs: int) -> float:
    """Median time of the same ``main(["convert", ...])`` in a warm interpreter (after one call)."""
    code = (
        "import sys, time, statistics, contextlib, io\n"
        "from workbench.cli.main import main\n"
        "argv = ['convert', sys.argv[1], sys.argv[2]]\n"
        "ts = []\n"
        "for _ in range(int(sys.argv[3]) + 1):\n"
        "    with contextlib.redirect_stderr(io.StringIO()):\n"
        "        t = time.perf_counter(); main(argv); ts.append(time.perf_counter() - t)\n"
        "print(statistics.median(ts[1:]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(src), str(dst), str(max(runs, 3))],
        check=True,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench_file(src: Path, flamegraph: Path, tmp: Path, runs: int, small: bool) -> dict[str, float]:
    wb_exe = str(Path(sys.executable).with_name("workbench"))
    cmds: dict[str, tuple[list[str], Path | None]] = {
        "flamegraph.pl": (["perl", str(flamegraph), str(src)], tmp / "fg.svg"),
        "workbench convert": ([wb_exe, "convert", str(src), str(tmp / "wb.svg")], None),
    }
    if small:  # the cold-start anchor, interleaved with the commands it is compared with
        cmds["import numpy"] = ([sys.executable, "-c", "import numpy"], None)
    inferno = shutil.which("inferno-flamegraph")
    if inferno:
        cmds["inferno-flamegraph"] = ([inferno, str(src)], tmp / "inferno.svg")
    walls, cpus = time_commands(cmds, runs)
    ET.parse(tmp / "wb.svg")  # our output must be well-formed XML
    res = {name: statistics.median(ts) for name, ts in walls.items()}
    res.update({f"{name} cpu": statistics.median(ts) for name, ts in cpus.items()})
    if small:
        res["in-process"] = in_process_seconds(src, tmp / "wb2.svg", runs)
        res["cold start"] = res["workbench convert"] - res["in-process"]
        # the budget compares each run with the `import numpy` run next to it: the median of
        # those paired differences, so a load change between runs hits both sides alike
        pairs = [w - n for w, n in zip(walls["workbench convert"], walls["import numpy"], strict=True)]
        res["cold start over numpy"] = statistics.median(pairs) - res["in-process"]
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each command per file (median reported)")
    ap.add_argument(
        "--shape", action="append", default=[], help="only these shapes (gen_shapes.py, flamegraph-perf-example)"
    )
    ap.add_argument("--input", type=Path, action="append", default=[], help="also time this collapsed file")
    ap.add_argument("--recorded", action="store_true", help="also the 9 MB+ py-spy recording (minutes to make)")
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "workbench")], check=False)

    with tempfile.TemporaryDirectory(prefix="bench-svg-") as tmp_s:
        tmp = Path(tmp_s)
        flamegraph = find_flamegraph(tmp)
        if flamegraph is None:
            print(
                "flamegraph.pl not found: git clone https://github.com/brendangregg/FlameGraph "
                f"{HERE / '.cache/FlameGraph'} (or set FLAMEGRAPH_DIR / FLAMEGRAPH_GIT)",
                file=sys.stderr,
            )
            return 1
        files = [gen_shapes.ensure(n) for n in (args.shape or list(gen_shapes.SHAPES)) if n in gen_shapes.SHAPES]
        wants_example = not args.shape or "flamegraph-perf-example" in args.shape
        example = perf_example(flamegraph, tmp) if wants_example else None
        files += [example] if example else []
        files += [gen_large_collapsed.ensure()] if args.recorded else []
        files += args.input

        print(
            "cold start budget: python -c 'import numpy' + 30 ms, that command timed interleaved with each small "
            "file (the median of the paired differences is checked)"
        )
        print(f"{'input':<34} {'MB':>5} {'lines':>8} {'workbench s':>11} {'flamegraph.pl s':>15} {'ratio':>7}  notes")
        for src in files:
            size = src.stat().st_size
            large = size >= LARGE_BYTES
            with src.open("rb") as fh:
                n_lines = sum(1 for _ in fh)
            res = bench_file(src, flamegraph, tmp, args.runs, small=not large)
            wb, fg = res["workbench convert"], res["flamegraph.pl"]
            ratio = fg / wb
            note = f"cpu {res['workbench convert cpu']:.2f} vs {res['flamegraph.pl cpu']:.2f} s"
            if "inferno-flamegraph" in res:
                note += f"; inferno {res['inferno-flamegraph']:.2f} s"
            if not large:
                note += (
                    f"; cold start {res['cold start'] * 1000:.0f} ms of {wb * 1000:.0f} ms "
                    f"(in-process {res['in-process'] * 1000:.0f} ms; import numpy {res['import numpy'] * 1000:.0f} ms)"
                )
            name = src.name.removesuffix(".collapsed")
            print(f"{name:<34} {size / 1e6:>5.1f} {n_lines:>8,} {wb:>11.2f} {fg:>15.2f} {ratio:>6.1f}x  {note}")
            if name in NO_BUDGET:
                print(f"INFO {name}: no budget ({NO_BUDGET[name]})")
            elif large:
                budget.check(
                    f"collapsed->svg {name} vs flamegraph.pl", ratio, BUDGET_RATIO, higher_is_better=True, unit="x"
                )
            else:
                budget.check(
                    f"collapsed->svg {name} cold start beyond import numpy",
                    res["cold start over numpy"] * 1000,
                    COLD_START_SLACK_S * 1000,
                    unit=" ms",
                )
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores; {args.runs} runs")
        if not shutil.which("inferno-flamegraph"):
            print("inferno-flamegraph: not on PATH (the Rust port needs crates.io to build; not compared)")
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())
