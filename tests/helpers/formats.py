"""Shared helpers for the format tests: a slow, obviously-correct pprof decoder to check the fast one."""

from __future__ import annotations

import gzip
from collections import Counter

from workbench.formats._pprof_schema import ProfileMsg


def reference_pprof_stacks(data: bytes, col: int) -> Counter[str]:
    """Root-first ``func (file:line);...`` stacks -> summed value of sample type ``col``.

    Walks the full-schema protobuf messages one by one: the independent check on the
    vectorised reader in ``workbench.formats.pprof``.
    """
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    msg = ProfileMsg.FromString(data)
    st = msg.string_table
    funcs = {f.id: f for f in msg.function}
    locs = {}
    for loc in msg.location:
        names = []
        for ln in loc.line:  # leaf first within a location
            f = funcs[ln.function_id]
            file = st[f.filename]
            name = st[f.name] or "?"
            names.append(f"{name} ({file}:{ln.line})" if file and ln.line else name)
        locs[loc.id] = names or [f"0x{loc.address:x}"]
    out: Counter[str] = Counter()
    for s in msg.sample:
        frames = [n for lid in s.location_id for n in locs[lid]]
        frames.reverse()
        out[";".join(frames)] += s.value[col]
    return out


def collapsed_counter(text: str) -> Counter[str]:
    """Collapsed-stack text -> stack -> summed count (duplicates merged)."""
    out: Counter[str] = Counter()
    for line in text.split("\n"):  # not splitlines(): names may hold \x1c-\x1e, \x85, \u2028
        if line and not line.isspace():
            stack, _, count = line.rpartition(" ")
            out[stack] += float(count)
    return out
