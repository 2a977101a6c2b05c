"""Mutated real files: every reader either succeeds or raises a FormatError, never anything else."""

import contextlib
import gzip
import json
import random
from pathlib import Path

import pytest

from workbench.errors import FormatError
from workbench.formats.collapsed import read_collapsed
from workbench.formats.pprof import read_pprof
from workbench.formats.speedscope import read_speedscope, write_speedscope

GOLDEN = Path(__file__).parents[1] / "golden"


def _mutations(src: bytes, rng: random.Random, n: int):
    for _ in range(n):
        b = bytearray(src)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            op = rng.random()
            if op < 0.6:
                b[i] = rng.randrange(256)
            elif op < 0.8:
                del b[i : i + rng.randint(1, 20)]
            else:
                b[i:i] = rng.randbytes(rng.randint(1, 5))
        yield bytes(b)


@pytest.mark.parametrize("name", ["go_cpu.pb.gz", "go_heap.pb.gz"])
def test_mutated_pprof(name):
    raw = gzip.decompress((GOLDEN / name).read_bytes())
    for data in _mutations(raw, random.Random(name), 300):
        with contextlib.suppress(FormatError):
            read_pprof(data)


def test_mutated_collapsed_and_speedscope():
    rng = random.Random(7)
    text = (GOLDEN / "pyspy_subprocesses.txt").read_bytes()
    for data in _mutations(text, rng, 200):
        with contextlib.suppress(FormatError):
            read_collapsed(data)
    doc = write_speedscope([read_collapsed(text)])
    for data in _mutations(doc, rng, 200):
        with contextlib.suppress(FormatError):
            read_speedscope(data)


def test_wrong_types_in_speedscope_documents():
    base = json.loads(write_speedscope([read_collapsed((GOLDEN / "pyspy_threads.txt").read_bytes())]))
    odd = [None, -1, 1e309, "x", [], {}, 10**30, 0.5, True, [[]], {"name": 1}, [[-5]], [["a"]]]
    targets = [
        ("shared",),
        ("shared", "frames"),
        ("shared", "frames", 0),
        ("shared", "frames", 0, "name"),
        ("shared", "frames", 0, "line"),
        ("profiles",),
        ("profiles", 0),
        ("profiles", 0, "samples"),
        ("profiles", 0, "samples", 0),
        ("profiles", 0, "weights"),
        ("profiles", 0, "weights", 0),
        ("profiles", 0, "unit"),
        ("profiles", 0, "type"),
    ]
    for path in targets:
        for value in odd:
            doc = json.loads(json.dumps(base))
            cur = doc
            for key in path[:-1]:
                cur = cur[key]
            cur[path[-1]] = value
            with contextlib.suppress(FormatError):
                read_speedscope(json.dumps(doc).encode())
