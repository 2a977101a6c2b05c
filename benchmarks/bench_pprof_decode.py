"""pprof decode speed against ``go tool pprof`` on the same large file (prints numbers, asserts nothing).

The file comes from benchmarks/go/bigpprof (a real Go heap profile, MemProfileRate=1,
one allocation per random call path: ~200k samples with distinct stacks and inline
frames), built and cached under benchmarks/.cache/. Timed in the same run, best of N:

  go tool pprof -raw big.pb.gz            whole command, decode + print every sample
  workbench convert big.pb.gz x.collapsed whole command: start, decode, call tree, write
  read_pprof(data) in process             decode + call tree, split into its two halves

Budget (DESIGN.md): decode close to go tool pprof; target within 2x.
Run: ``.venv/bin/python benchmarks/bench_pprof_decode.py [--stacks 200000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
import budget  # noqa: E402  (sibling: BUDGET lines and the exit code)

CACHE = ROOT / "benchmarks" / ".cache"
GEN = ROOT / "benchmarks" / "go" / "bigpprof"


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        sys.exit("bench_pprof_decode: needs the go toolchain (apt-get install golang-go)")
    return go


def make_profile(stacks: int, kind: str) -> Path:
    """Build the generator and write the profile once; later runs reuse the cached file."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"big_{kind}_{stacks}.pb.gz"
    if out.exists():
        return out
    env = {**os.environ, "GOCACHE": str(CACHE / "gocache"), "GOFLAGS": "-mod=mod"}
    binary = CACHE / "bigpprof"
    subprocess.run([_go(), "build", "-o", str(binary), "."], cwd=GEN, env=env, check=True)
    tmp = out.with_suffix(".tmp")
    subprocess.run([str(binary), "-o", str(tmp), "-kind", kind, "-stacks", str(stacks)], check=True)
    tmp.rename(out)
    return out


def best_of(repeat: int, fn) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + sys) of one whole command."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"bench_pprof_decode: {' '.join(argv)} failed with exit {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def interleaved(repeat: int, commands: list[tuple[list[str], dict[str, str] | None]]) -> list[tuple[float, float]]:
    """Best (wall, cpu) per command, runs interleaved so machine load drifts hit all alike."""
    best = [(float("inf"), float("inf"))] * len(commands)
    for _ in range(repeat):
        for i, (argv, env) in enumerate(commands):
            w, c = run_timed(argv, env)
            best[i] = (min(best[i][0], w), min(best[i][1], c))
    return best


def startup_report(workbench: str, tmp: Path, repeat: int) -> list[str]:
    """Whole-command time of converting a tiny file, next to bare interpreter and numpy start."""
    small = ROOT / "tests" / "golden" / "pyspy_threads.txt"
    py = sys.executable
    (t_py, _), (t_np, _), (t_small, _) = interleaved(
        repeat,
        [
            ([py, "-c", "pass"], None),
            ([py, "-c", "import numpy"], None),
            ([workbench, "convert", str(small), str(tmp / "small.folded")], None),
        ],
    )
    # -X importtime: self time by top-level package, to see what a convert pays for
    proc = subprocess.run(
        [py, "-X", "importtime", "-m", "workbench.cli.main", "convert", str(small), str(tmp / "s2.folded")],
        capture_output=True,
        text=True,
        check=True,
    )
    by_pkg: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = line.split("|")
            try:
                self_us = int(parts[0].split(":")[1])
            except ValueError:
                continue
            pkg = parts[2].strip().split(".")[0]
            by_pkg[pkg] = by_pkg.get(pkg, 0) + self_us
    top = sorted(by_pkg.items(), key=lambda kv: -kv[1])[:6]
    return [
        f"  startup: python -c pass {t_py:.3f} s, import numpy {t_np:.3f} s, convert of a 1 KB file {t_small:.3f} s",
        "  import self-time by package (ms): " + ", ".join(f"{k} {v / 1000:.0f}" for k, v in top),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stacks", type=int, default=200_000)
    ap.add_argument("--kind", choices=("heap", "cpu"), default="heap")
    ap.add_argument("--runs", "--repeat", dest="repeat", type=int, default=3, help="runs per timing (best of)")
    args = ap.parse_args()

    src = make_profile(args.stacks, args.kind)
    data = src.read_bytes()
    go = _go()
    workbench = str(Path(sys.executable).with_name("workbench"))
    tmp = Path(tempfile.mkdtemp(prefix="bench_pprof_"))
    try:
        env_home = {**os.environ, "HOME": str(tmp)}
        out = tmp / "x.collapsed"
        (t_go, c_go), (t_wb, c_wb) = interleaved(
            args.repeat,
            [([go, "tool", "pprof", "-raw", str(src)], env_home), ([workbench, "convert", str(src), str(out)], None)],
        )

        from workbench.formats.pprof import read_pprof
        from workbench.model import Profile

        t_read = best_of(args.repeat, lambda: read_pprof(data))
        # the same decode with the call-tree build skipped, to show where the time goes
        real_add = Profile.add_stackset
        Profile.add_stackset = lambda self, *a, **k: None  # type: ignore[method-assign, assignment, return-value]
        try:
            t_decode = best_of(args.repeat, lambda: read_pprof(data))
        finally:
            Profile.add_stackset = real_add  # type: ignore[method-assign]
        prof = read_pprof(data)
        n_samples = prof.meta.get("samples", "?")
        load = os.getloadavg()[0]
        startup = startup_report(workbench, tmp, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"bench_pprof_decode: {src.name} {src.stat().st_size / 1e6:.1f} MB gzip, {args.kind}, {args.stacks} paths")
    print(f"  profile: {prof.n_nodes} call-tree nodes, {len(prof.frames)} frames, samples={n_samples}")
    print(f"  machine load average {load:.1f} (timings are best of {args.repeat})")
    print(f"  go tool pprof -raw (whole command)         {t_go:7.3f} s   cpu {c_go:7.3f} s")
    print(
        f"  workbench convert -> .collapsed (whole)    {t_wb:7.3f} s   cpu {c_wb:7.3f} s   ratio {t_wb / t_go:5.2f}x go"
    )
    print(f"  read_pprof in process (decode + tree)     {t_read:7.3f} s   ratio {t_read / t_go:5.2f}x go")
    print(f"    decode + validate only (no tree build)  {t_decode:7.3f} s   ratio {t_decode / t_go:5.2f}x go")
    print(f"    call-tree build (Profile.add_stackset)  {t_read - t_decode:7.3f} s")
    verdict = "within" if t_wb <= 2 * t_go else "NOT within"
    print(f"  target: whole command within 2x of go tool pprof -> {verdict} ({t_wb / t_go:.2f}x wall,", end="")
    print(f" {c_wb / c_go:.2f}x cpu)")
    for line in startup:
        print(line)
    budget.check("pprof decode: workbench convert vs go tool pprof -raw (wall)", t_wb / t_go, 2.0, unit="x")
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())
