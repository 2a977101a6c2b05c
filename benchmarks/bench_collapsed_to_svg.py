"""Collapsed stacks -> interactive SVG: ``workbench convert`` against flamegraph.pl, whole commands.

Both tools run as a user runs them (interpreter start, imports, reading, writing the file
included) on the same 9 MB+ collapsed file recorded from a real program by py-spy
(``gen_large_collapsed.py``, cached in ``benchmarks/.cache/``). Each command is run once
to warm the page cache, then ``--runs`` times interleaved; the median wall time is
reported, with the ratio against the budget (at least 2x faster than flamegraph.pl).

flamegraph.pl (Brendan Gregg's FlameGraph, never committed here) is looked for in order:
  1. ``$FLAMEGRAPH_DIR/flamegraph.pl``;
  2. ``benchmarks/.cache/FlameGraph/flamegraph.pl`` (git-ignored), e.g. after
     ``git clone https://github.com/brendangregg/FlameGraph benchmarks/.cache/FlameGraph``;
  3. a bare git snapshot of that repository (``$FLAMEGRAPH_GIT``, default
     ``/work/.mirror/brendangregg+FlameGraph/repo``, where the agent tooling's ``fetch
     github:brendangregg/FlameGraph`` puts it): flamegraph.pl is extracted from it into a
     temporary folder for the run and deleted after.
If ``inferno-flamegraph`` (the Rust port) is on PATH it is timed too.

    .venv/bin/python benchmarks/bench_collapsed_to_svg.py [--runs 3] [--input FILE]
"""

from __future__ import annotations

import argparse
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

import gen_large_collapsed  # noqa: E402  (sibling script, run from anywhere)

DEFAULT_GIT = "/work/.mirror/brendangregg+FlameGraph/repo"
BUDGET_RATIO = 2.0


def find_flamegraph(tmp: Path) -> Path | None:
    env_dir = os.environ.get("FLAMEGRAPH_DIR")
    for cand in ([Path(env_dir) / "flamegraph.pl"] if env_dir else []) + [HERE / ".cache/FlameGraph/flamegraph.pl"]:
        if cand.is_file():
            return cand
    git_dir = os.environ.get("FLAMEGRAPH_GIT", DEFAULT_GIT)
    if Path(git_dir).is_dir():
        out = tmp / "flamegraph.pl"
        blob = subprocess.run(
            ["git", f"--git-dir={git_dir}", "show", "HEAD:flamegraph.pl"], check=True, capture_output=True
        ).stdout
        out.write_bytes(blob)
        return out
    return None


def workbench_command(src: Path, dst: Path) -> tuple[list[str], str]:
    """``workbench convert`` if it works, else the same dispatch API it calls, labelled as such."""
    exe = Path(sys.executable).with_name("workbench")
    cmd = [str(exe), "convert", str(src), str(dst)]
    probe = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if probe.returncode == 0:
        return cmd, "workbench convert"
    print(f"note: `workbench convert` failed ({probe.stderr.strip()}); timing the formats API it dispatches to")
    code = (
        "import sys; from workbench.formats import read_profiles, write_profile; "
        "write_profile(read_profiles(sys.argv[1])[0], sys.argv[2])"
    )
    return [sys.executable, "-c", code, str(src), str(dst)], "python -c read_profiles+write_profile"


def run_once(cmd: list[str], stdout_path: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys of the child): CPU is steadier on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    if stdout_path is None:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        with stdout_path.open("wb") as fh:
            subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.DEVNULL)
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


def in_process_breakdown(src: Path, dst: Path) -> str:
    code = (
        "import time, sys; t0 = time.perf_counter()\n"
        "from workbench.formats.collapsed import read_collapsed\n"
        "from workbench.formats.svg import write_svg\n"
        "t1 = time.perf_counter(); data = open(sys.argv[1], 'rb').read(); p = read_collapsed(data)\n"
        "t2 = time.perf_counter(); write_svg(p, sys.argv[2]); t3 = time.perf_counter()\n"
        "print(f'imports {t1 - t0:.2f} s, read {t2 - t1:.2f} s ({p.n_nodes:,} nodes), svg {t3 - t2:.2f} s')\n"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, str(src), str(dst)], check=True, capture_output=True, text=True)
    return f"{out.stdout.strip()}, whole process {time.perf_counter() - t0:.2f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--input", type=Path, default=None, help="collapsed file (default: the generated 9 MB+ one)")
    args = ap.parse_args()
    src = args.input or gen_large_collapsed.ensure()
    print(f"input: {src} ({gen_large_collapsed.describe(src)})")

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
        wb_cmd, wb_label = workbench_command(src, tmp / "wb.svg")
        cmds: dict[str, tuple[list[str], Path | None]] = {
            "flamegraph.pl": (["perl", str(flamegraph), str(src)], tmp / "fg.svg"),
            wb_label: (wb_cmd, None),
        }
        inferno = shutil.which("inferno-flamegraph")
        if inferno:
            cmds["inferno-flamegraph"] = ([inferno, str(src)], tmp / "inferno.svg")
        times, cpus = time_commands(cmds, args.runs)

        ET.parse(tmp / "wb.svg")  # our output must be well-formed XML
        sizes = {name: (out or tmp / "wb.svg").stat().st_size for name, (_, out) in cmds.items()}
        print(
            f"{'command':<28} {'median wall s':>13} {'min wall s':>10} {'median cpu s':>12} {'output MB':>9}  wall runs"
        )
        for name, ts in times.items():
            runs_txt = " ".join(f"{t:.2f}" for t in ts)
            wall, cpu = statistics.median(ts), statistics.median(cpus[name])
            print(f"{name:<28} {wall:>13.2f} {min(ts):>10.2f} {cpu:>12.2f} {sizes[name] / 1e6:>9.1f}  {runs_txt}")
        wb = statistics.median(times[wb_label])
        ratio = statistics.median(times["flamegraph.pl"]) / wb
        min_ratio = min(times["flamegraph.pl"]) / min(times[wb_label])
        cpu_ratio = statistics.median(cpus["flamegraph.pl"]) / statistics.median(cpus[wb_label])
        verdict = "PASS" if ratio >= BUDGET_RATIO else "FAIL"
        print(
            f"ratio flamegraph.pl / workbench: {ratio:.2f}x median wall (budget >= {BUDGET_RATIO:.0f}x: {verdict}), "
            f"{min_ratio:.2f}x min wall, {cpu_ratio:.2f}x cpu"
        )
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} cores (wall times stretch when the machine is busy)")
        if inferno:
            print(f"ratio workbench / inferno: {wb / statistics.median(times['inferno-flamegraph']):.2f}x")
        else:
            print("inferno-flamegraph: not on PATH (the Rust port needs crates.io to build; not compared)")
        print(f"workbench breakdown (in-process): {in_process_breakdown(src, tmp / 'wb2.svg')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
