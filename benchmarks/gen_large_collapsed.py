"""Generate a large, real collapsed-stack file by recording py-spy on a busy Python program.

The program is a recursive-descent walker over a generated grammar of a few hundred rule
functions: every input number is consumed digit by digit, each rule picks one of three
sub-rules by the next digit, and leaves do real work (json, re, hashing, arithmetic). Half
the inputs come from a small pool (hot, repeated paths) and half are fresh (a long tail),
which gives deep (30-60 frames), varied stacks like a real parser or ORM does.

py-spy records it with ``-f raw`` (collapsed stacks); recordings with different seeds are
appended until the file reaches the target size, so the file is made only of real samples.

    .venv/bin/python benchmarks/gen_large_collapsed.py [--min-mb 9] [--out PATH]

The result is cached (default ``benchmarks/.cache/big.collapsed``, git-ignored).
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DEFAULT_OUT = CACHE / "big.collapsed"

N_RULES = 240
N_LEAVES = 24

WORKLOAD_HEAD = '''\
"""Generated workload for benchmarks/gen_large_collapsed.py: a recursive-descent walker."""
import hashlib
import json
import random
import re
import sys
import time

WORDS = re.compile(r"[a-z]+|[0-9]+")

'''

LEAF_BODIES = [
    "    return len(json.dumps({{'k': [n, n * 2, str(n)], 'd': {{'x': n % 97}}}}))",
    "    return len(WORDS.findall('abc 123 def ' * (1 + n % 5)))",
    "    return int(hashlib.sha1(str(n).encode()).hexdigest()[:4], 16)",
    "    return sum(i * i for i in range(40 + n % 60))",
    "    return len(sorted(str(n * 7919)))",
    "    s = 0\n    for i in range(80):\n        s += (n ^ i) % 13\n    return s",
]


def workload_source(seed: int) -> str:
    rng = random.Random(seed)
    out = [WORKLOAD_HEAD]
    for j in range(N_LEAVES):
        out.append(f"def leaf_{j}(n):\n{LEAF_BODIES[j % len(LEAF_BODIES)].format()}\n\n")
    for i in range(N_RULES):
        a, b, c = (rng.randrange(N_RULES) for _ in range(3))
        leaf = rng.randrange(N_LEAVES)
        out.append(
            f"def rule_{i}(n, depth):\n"
            f"    if n < 10 or depth > 60:\n"
            f"        return leaf_{leaf}(n)\n"
            f"    d = n % 10\n"
            f"    if d < 4:\n"
            f"        return rule_{a}(n // 10, depth + 1) + 1\n"
            f"    if d < 7:\n"
            f"        return rule_{b}(n // 10, depth + 1) ^ d\n"
            f"    return rule_{c}(n // 10, depth + 1) - d\n\n"
        )
    out.append(
        "def main():\n"
        "    seed, seconds = int(sys.argv[1]), float(sys.argv[2])\n"
        "    rng = random.Random(seed)\n"
        "    pool = [rng.getrandbits(150) for _ in range(400)]\n"
        "    end = time.monotonic() + seconds\n"
        "    total = 0\n"
        "    while time.monotonic() < end:\n"
        "        n = rng.choice(pool) if rng.random() < 0.5 else rng.getrandbits(150)\n"
        f"        total += rule_{0}(n, 0) + rule_{N_RULES // 2}(n >> 3, 0)\n"
        "    print(total % 1000)\n\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    return "".join(out)


def find_py_spy() -> str:
    here = Path(sys.executable).with_name("py-spy")
    found = str(here) if here.exists() else shutil.which("py-spy")
    if not found:
        sys.exit("py-spy not found: install the project (`make install`) so .venv/bin/py-spy exists")
    return found


def record(seed: int, seconds: float, rate: int, out: Path) -> int:
    """Record one run of the workload; returns the number of bytes py-spy wrote."""
    CACHE.mkdir(parents=True, exist_ok=True)
    script = CACHE / "descent_workload.py"
    script.write_text(workload_source(1234), encoding="utf-8")  # same code, different inputs
    cmd = [find_py_spy(), "record", "-f", "raw", "-r", str(rate), "-o", str(out), "--nonblocking"]
    cmd += ["--", sys.executable, str(script), str(seed), str(seconds)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 120)
    return out.stat().st_size


def generate(out: Path, min_mb: float, seconds: float, rate: int) -> Path:
    part = out.with_suffix(".part")
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(b"")
    seed = 1
    started = time.monotonic()
    while tmp.stat().st_size < min_mb * 1e6:
        size = record(seed, seconds, rate, part)
        with tmp.open("ab") as dst:
            dst.write(part.read_bytes())
        print(f"  recording {seed}: {size / 1e6:.1f} MB (total {tmp.stat().st_size / 1e6:.1f} MB)", flush=True)
        seed += 1
    part.unlink(missing_ok=True)
    tmp.replace(out)
    print(f"generated {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s")
    return out


def ensure(out: Path = DEFAULT_OUT, min_mb: float = 9.0, seconds: float = 20.0, rate: int = 250) -> Path:
    """The cached file, generated first if missing or smaller than asked."""
    if out.exists() and out.stat().st_size >= min_mb * 1e6:
        return out
    return generate(out, min_mb, seconds, rate)


def describe(path: Path) -> str:
    lines = samples = frames = max_depth = 0
    with path.open("rb") as fh:
        for raw in fh:
            stack, _, count = raw.rstrip(b"\n").rpartition(b" ")
            depth = stack.count(b";") + 1
            lines += 1
            samples += int(count)
            frames += depth
            max_depth = max(max_depth, depth)
    return (
        f"{path.stat().st_size / 1e6:.1f} MB, {lines:,} lines, {samples:,} samples, "
        f"mean depth {frames / max(lines, 1):.1f}, max depth {max_depth}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--min-mb", type=float, default=9.0, help="keep recording until the file is this large")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of one recording")
    ap.add_argument("--rate", type=int, default=250, help="py-spy sampling rate (Hz)")
    ap.add_argument("--force", action="store_true", help="regenerate even if the cached file is large enough")
    args = ap.parse_args()
    if args.force:
        args.out.unlink(missing_ok=True)
    path = ensure(args.out, args.min_mb, args.seconds, args.rate)
    print(describe(path))


if __name__ == "__main__":
    main()
