"""``make fuzz``: coverage-guided runs (atheris/libFuzzer) of the pprof and collapsed readers.

    python tests/fuzz/run.py [--seconds 60] [--target pprof|collapsed|all] [--update-corpus]

Each target runs in its own child process (libFuzzer exits the process when it is
done). The contract under test: any bytes in, a Profile or a typed ``FormatError``
out; anything else (an IndexError, a RecursionError, a MemoryError, a hang past
``-timeout``, RSS past ``-rss_limit_mb``) is a crash. Crashing inputs are written to
``tests/fuzz/crashes/<target>/`` and the run exits 1; turn each into a regression
test in ``tests/fuzz/test_regressions.py`` (the corpus replay there runs in
``make test``). Seeds live in ``tests/fuzz/corpus/<target>/``; new coverage found
during a run goes to a temporary directory, and ``--update-corpus`` copies the
smallest ``CORPUS_KEEP`` of those inputs into the seeds (libFuzzer's own ``-merge``
re-executes ``argv[0]`` through a shell, which a Python harness cannot serve).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TARGETS = ("pprof", "collapsed")
MAX_LEN = 64 * 1024
# atheris' instrumentation grows the fuzzing process by ~25 KB per pprof input (measured: the same
# reader over the same mutated inputs stays flat at ~37 MB without atheris), so each child runs a
# bounded number of inputs and the next round resumes from the corpus the previous one grew
RUNS_PER_ROUND = 20_000
CORPUS_KEEP = 40  # new inputs kept per --update-corpus run: the repository holds seeds, not the whole queue
AS_LIMIT = 3 << 30  # address space of a fuzz child; the interpreter, numpy and atheris take ~1.2 GiB


def _reader(target: str):  # type: ignore[no-untyped-def]
    """The reader under test with limits small enough that one input costs milliseconds."""
    import atheris

    with atheris.instrument_imports(include=["workbench"]):
        from workbench.errors import FormatError
        from workbench.formats.collapsed import read_collapsed
        from workbench.formats.limits import ReadLimits
        from workbench.formats.pprof import read_pprof

    limits = ReadLimits(
        max_decompressed_bytes=16 << 20,
        max_frames=50_000,
        max_nodes=200_000,
        max_total_frames=2_000_000,
        max_line_length=1 << 20,
    )
    read = read_pprof if target == "pprof" else read_collapsed

    def one(data: bytes) -> None:
        # the typed refusal is the expected outcome for most inputs; anything else is a crash
        with contextlib.suppress(FormatError):
            read(data, limits=limits)

    return one


def child(target: str, seconds: int, work: Path, crashes: Path) -> int:
    import resource

    import atheris

    # one big allocation then fails where it happens (a MemoryError with a traceback naming the
    # line) instead of ending as an anonymous libFuzzer out-of-memory report
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))

    one = _reader(target)
    seeds = HERE / "corpus" / target
    common = [f"-max_len={MAX_LEN}", "-rss_limit_mb=1536", "-timeout=20", f"-artifact_prefix={crashes}/"]
    args = [sys.argv[0], f"-max_total_time={seconds}", f"-runs={RUNS_PER_ROUND}", *common, str(work), str(seeds)]
    atheris.Setup(args, one)
    atheris.Fuzz()
    return 0


def _keep_smallest(work: Path, seeds: Path) -> None:
    """Copy the smallest new inputs (libFuzzer names them by content hash, so no duplicates)."""
    new = sorted((p for p in work.iterdir() if not (seeds / p.name).exists()), key=lambda p: p.stat().st_size)
    for p in new[:CORPUS_KEEP]:
        shutil.copyfile(p, seeds / p.name)
    print(f"corpus {seeds.name}: +{min(len(new), CORPUS_KEEP)} inputs", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    ap.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    ap.add_argument("--update-corpus", action="store_true", help="merge new coverage into tests/fuzz/corpus")
    ap.add_argument("--quiet", action="store_true", help="hide libFuzzer's progress lines")
    ap.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        crashes = HERE / "crashes" / args.child
        crashes.mkdir(parents=True, exist_ok=True)
        return child(args.child, args.seconds, Path(args.work), crashes)

    try:
        import atheris  # noqa: F401
    except ImportError:
        print("error: atheris is not installed; run `.venv/bin/pip install -e '.[dev]'`", file=sys.stderr)
        return 2
    failed = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for target in TARGETS if args.target == "all" else (args.target,):
        with tempfile.TemporaryDirectory(prefix=f"wb-fuzz-{target}-") as work:
            print(f"fuzz {target}: {args.seconds} s", flush=True)
            deadline = time.monotonic() + args.seconds
            rc, rounds = 0, 0
            while rc == 0 and (left := round(deadline - time.monotonic())) > 0:
                base = [sys.executable, __file__, "--child", target, "--work", work, "--seconds", str(left)]
                rc = subprocess.run(
                    base, env=env, check=False, stderr=subprocess.DEVNULL if args.quiet else None
                ).returncode
                rounds += 1
            found = len(os.listdir(work))
            print(f"fuzz {target}: exit {rc} after {rounds} round(s), {found} new corpus inputs", flush=True)
            if rc != 0:
                failed.append(target)
            elif args.update_corpus and found:
                _keep_smallest(Path(work), HERE / "corpus" / target)
    crash_files = (
        sorted(p for p in (HERE / "crashes").glob("*/*") if p.is_file()) if (HERE / "crashes").exists() else []
    )
    if failed or crash_files:
        print(f"fuzz: crashes in {', '.join(failed) or 'earlier runs'}:", file=sys.stderr)
        for p in crash_files:
            print(f"  {p.relative_to(ROOT)}", file=sys.stderr)
        print("turn each into a test in tests/fuzz/test_regressions.py, then delete it", file=sys.stderr)
        return 1
    shutil.rmtree(HERE / "crashes", ignore_errors=True)
    print("fuzz: no crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
