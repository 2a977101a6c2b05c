"""Generate collapsed-stack files of every shape the SVG export must be fast on.

Each shape stresses a different part of reading and drawing, so a speed-up tuned to one
file cannot hide a slow path in another:

  unique-stacks   ~110k distinct stacks of 5-24 short frames over a 4k-function vocabulary
  long-names      JVM-style frames of 60-160 characters, mean depth ~17
  deep-recursion  4 mutually recursive functions, data-dependent paths 100-1,000 frames deep
  deep-recursion-regular  the same depths with one fixed pattern: ~500 near-identical lines
  10k-frames      stacks of 10,000 frames each (deeper than the reader keeps)
  million-frames  one million distinct frame names, each used once
  small           a 40 KB file: what the command costs is mostly its cold start

Files are deterministic (fixed seeds) and cached in ``benchmarks/.cache/shapes/``
(git-ignored); every large shape is at least 5 MB.

    .venv/bin/python benchmarks/gen_shapes.py [--force] [--only NAME]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHAPES_DIR = HERE / ".cache" / "shapes"
MIN_LARGE_BYTES = 5_000_000


def _py_frame(rng: random.Random, i: int) -> str:
    return f"func_{i} (pkg{i % 37}/module_{i % 211}.py:{1 + (i * 7919) % 900})"


def _unique_stacks(rng: random.Random) -> Iterator[str]:
    vocab = [f"m{i % 97}.f{i}" for i in range(4000)]
    seen: set[tuple[int, ...]] = set()
    prefix_pool = [tuple(rng.randrange(64) for _ in range(rng.randint(2, 6))) for _ in range(300)]
    size = 0
    while size < 7_000_000:
        stack = rng.choice(prefix_pool) + tuple(rng.randrange(len(vocab)) for _ in range(rng.randint(3, 18)))
        if stack in seen:
            continue
        seen.add(stack)
        line = ";".join(vocab[f] for f in stack) + f" {rng.randint(1, 50)}"
        size += len(line) + 1
        yield line


_JVM_PARTS = [
    "org",
    "springframework",
    "web",
    "servlet",
    "mvc",
    "method",
    "annotation",
    "RequestMappingHandlerAdapter",
    "invokeHandlerMethod",
    "com",
    "fasterxml",
    "jackson",
    "databind",
    "ser",
    "BeanSerializer",
    "serializeFields",
    "io",
    "netty",
    "channel",
    "nio",
    "NioEventLoop",
    "processSelectedKeys",
    "java",
    "util",
    "concurrent",
    "ThreadPoolExecutor",
    "runWorker",
    "apache",
    "catalina",
    "core",
    "StandardWrapperValve",
    "invoke",
    "hibernate",
    "internal",
    "SessionImpl",
    "autoFlushIfRequired",
    "reactor",
    "core",
    "publisher",
    "FluxMap",
    "MapSubscriber",
    "onNext",
    "lambda$handle$0",
    "AbstractAutowireCapableBeanFactory",
    "createBean",
]


def _jvm_name(rng: random.Random) -> str:
    pkg = ".".join(rng.choice(_JVM_PARTS).lower() for _ in range(rng.randint(4, 8)))
    cls = "".join(rng.choice(_JVM_PARTS).capitalize() for _ in range(rng.randint(2, 4)))
    return f"{pkg}.{cls}.{rng.choice(_JVM_PARTS)}_[j]"


def _long_names(rng: random.Random) -> Iterator[str]:
    vocab = [_jvm_name(rng) for _ in range(6000)]
    trunk = [rng.randrange(200) for _ in range(8)]
    size = 0
    while size < 9_000_000:
        depth = max(3, int(rng.gauss(17, 5)))
        head = trunk[: rng.randint(2, 8)]
        stack = head + [rng.randrange(len(vocab)) for _ in range(depth - len(head))]
        line = ";".join(vocab[f] for f in stack) + f" {rng.randint(1, 200)}"
        size += len(line) + 1
        yield line


def _deep_recursion(rng: random.Random) -> Iterator[str]:
    # a recursive descent whose path depends on the data (which of 4 functions recurses
    # at each level), 100-1,000 frames deep, sharing a prefix with an earlier sample
    funcs = [f"{n} (app/tree.py:{10 + 7 * i})" for i, n in enumerate(("visit", "descend", "walk", "fold"))]
    leaves = [f"{n} (app/leaf.py:{i + 3})" for i, n in enumerate(("hash_node", "compare", "emit", "alloc"))]
    head = "<module> (app/main.py:1);main (app/main.py:40);run (app/runner.py:88)"
    earlier: list[list[str]] = []
    size = 0
    while size < 6_000_000:
        depth = rng.randint(100, 1000)
        path = rng.choice(earlier)[: rng.randrange(depth)] if earlier else []
        path += [funcs[rng.randrange(4)] for _ in range(depth - len(path))]
        earlier.append(path[:depth])
        line = f"{head};{';'.join(path[:depth])};{rng.choice(leaves)} {rng.randint(1, 30)}"
        size += len(line) + 1
        yield line


def _deep_recursion_regular(rng: random.Random) -> Iterator[str]:
    # the same depths with one fixed recursion pattern: few, near-identical long lines,
    # flamegraph.pl's cheapest case (it finishes in about two interpreter starts)
    funcs = [f"{n} (app/tree.py:{10 + 7 * i})" for i, n in enumerate(("visit", "descend", "walk", "fold"))]
    leaves = [f"{n} (app/leaf.py:{i + 3})" for i, n in enumerate(("hash_node", "compare", "emit", "alloc"))]
    head = "<module> (app/main.py:1);main (app/main.py:40);run (app/runner.py:88)"
    size = 0
    while size < 6_000_000:
        depth = rng.randint(100, 1000)
        start = rng.randrange(len(funcs))
        body = ";".join(funcs[(start + k // 3) % len(funcs)] for k in range(depth))
        line = f"{head};{body};{rng.choice(leaves)} {rng.randint(1, 30)}"
        size += len(line) + 1
        yield line


def _ten_k_frames(rng: random.Random) -> Iterator[str]:
    size = 0
    n = 0
    while size < 6_000_000:
        body = ";".join(f"recurse_{k % 7} (deep.py:{(k * 13 + n) % 97 + 1})" for k in range(10_000))
        line = f"{body} {rng.randint(1, 9)}"
        size += len(line) + 1
        n += 1
        yield line


def _million_frames(rng: random.Random) -> Iterator[str]:
    # 125k stacks x 8 frames, every frame name distinct: 1,000,000 frames, each used once
    for s in range(125_000):
        yield ";".join(f"fn_{s:x}_{k}" for k in range(8)) + f" {1 + s % 13}"


def _small(rng: random.Random) -> Iterator[str]:
    vocab = [_py_frame(rng, i) for i in range(300)]
    size = 0
    while size < 40_000:
        line = ";".join(vocab[rng.randrange(300)] for _ in range(rng.randint(4, 14))) + f" {rng.randint(1, 40)}"
        size += len(line) + 1
        yield line


SHAPES: dict[str, tuple[Callable[[random.Random], Iterator[str]], bool]] = {
    # name -> (generator, large)
    "unique-stacks": (_unique_stacks, True),
    "long-names": (_long_names, True),
    "deep-recursion": (_deep_recursion, True),
    "deep-recursion-regular": (_deep_recursion_regular, True),
    "10k-frames": (_ten_k_frames, True),
    "million-frames": (_million_frames, True),
    "small": (_small, False),
}


def ensure(name: str, force: bool = False) -> Path:
    """The cached file of one shape, generated first if missing."""
    out = SHAPES_DIR / f"{name}.collapsed"
    if out.exists() and not force:
        return out
    gen, large = SHAPES[name]
    SHAPES_DIR.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for line in gen(random.Random(name)):
            fh.write(line + "\n")
    if large and tmp.stat().st_size < MIN_LARGE_BYTES:
        raise AssertionError(f"shape {name} came out smaller than {MIN_LARGE_BYTES} bytes")
    tmp.replace(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="regenerate even if cached")
    ap.add_argument("--only", action="append", default=[], help="shape name (repeatable)")
    args = ap.parse_args()
    for name in args.only or list(SHAPES):
        path = ensure(name, args.force)
        print(f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
