"""Hostile and broken profile files, built in memory for the bad-input matrix.

Each builder returns the bytes of one file; the tests write them under tmp_path and
feed them to the readers and to the CLI. pprof files are built with the full
``profile.proto`` schema, so a case differs from a valid file only in the field
under test.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from typing import Any

from workbench.formats._pprof_schema import ProfileMsg


def pprof(
    *,
    strings: list[str] | None = None,
    functions: list[tuple[int, int, int]] | None = None,  # (id, name index, file index)
    locations: list[tuple[int, list[int]]] | None = None,  # (id, function ids leaf first)
    samples: list[tuple[list[int], list[int]]] | None = None,  # (location ids leaf first, values)
    sample_types: list[tuple[int, int]] | None = None,
    gzipped: bool = True,
) -> bytes:
    """A pprof Profile; defaults are a valid one-sample CPU profile of main -> work."""
    msg = ProfileMsg()
    msg.string_table.extend(strings if strings is not None else ["", "samples", "count", "main", "work", "app.go"])
    for t, u in sample_types if sample_types is not None else [(1, 2)]:
        vt = msg.sample_type.add()
        vt.type, vt.unit = t, u
    for fid, name, file in functions if functions is not None else [(1, 3, 5), (2, 4, 5)]:
        f = msg.function.add()
        f.id, f.name, f.filename = fid, name, file
    for lid, fids in locations if locations is not None else [(1, [1]), (2, [2])]:
        loc = msg.location.add()
        loc.id = lid
        for n, fid in enumerate(fids):
            ln = loc.line.add()
            ln.function_id, ln.line = fid, n + 1
    for locs, vals in samples if samples is not None else [([2, 1], [5])]:
        s = msg.sample.add()
        s.location_id.extend(locs)
        s.value.extend(vals)
    raw: bytes = msg.SerializeToString()
    return gzip.compress(raw, 1) if gzipped else raw


def pprof_unique_functions(n: int) -> bytes:
    """``n`` samples, each a distinct one-frame stack of its own function."""
    msg = ProfileMsg()
    msg.string_table.extend(["", "samples", "count", "x.go"])
    vt = msg.sample_type.add()
    vt.type, vt.unit = 1, 2
    msg.string_table.extend(f"fn{i}" for i in range(n))
    for i in range(n):
        f = msg.function.add()
        f.id, f.name, f.filename = i + 1, 4 + i, 3
        loc = msg.location.add()
        loc.id = i + 1
        loc.line.add().function_id = i + 1
        s = msg.sample.add()
        s.location_id.append(i + 1)
        s.value.append(1)
    return gzip.compress(msg.SerializeToString(), 1)


def pprof_deep_stack(depth: int) -> bytes:
    """One sample whose stack is ``depth`` frames of distinct functions (recursion-like)."""
    names = [f"level{i}" for i in range(depth)]
    strings = ["", "samples", "count", "deep.go", *names]
    functions = [(i + 1, 4 + i, 3) for i in range(depth)]
    locations = [(i + 1, [i + 1]) for i in range(depth)]
    leaf_first = list(range(depth, 0, -1))
    return pprof(strings=strings, functions=functions, locations=locations, samples=[(leaf_first, [1])])


def gzip_bomb(expanded_bytes: int) -> bytes:
    """A gzip stream of zeros that expands ~1000x (built in slices: never held expanded)."""
    buf = io.BytesIO()
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    for _ in range(expanded_bytes >> 20):
        buf.write(comp.compress(chunk))
    buf.write(comp.flush())
    return buf.getvalue()


def speedscope(frames: list[dict[str, Any]], samples: list[list[int]], weights: list[float]) -> bytes:
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": "p",
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
    }
    return json.dumps(doc).encode()
