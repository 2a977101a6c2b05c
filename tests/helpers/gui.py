"""Profiles for GUI tests and the flame graph benchmark (no Qt here)."""

from __future__ import annotations

import numpy as np

from workbench.model import SAMPLES, Frame, Profile, Runtime, StackSet

_PKGS = ("app", "sqlalchemy", "json", "http", "asyncio", "psycopg", "redis", "orm")


def synthetic_profile(n_nodes: int, seed: int = 1, n_frames: int = 20_000) -> Profile:
    """A random call tree of about ``n_nodes`` nodes, depth ~ 40, built through ``add_stackset``.

    Parents are drawn as ``int(i * u)`` with u in (0.5, 1), which gives flame-graph-like
    shapes (a few wide towers, many narrow leaves) at every size.
    """
    rng = np.random.default_rng(seed)
    prof = Profile([SAMPLES], name=f"synthetic-{n_nodes}")
    for i in range(n_frames):
        pkg = _PKGS[i % len(_PKGS)]
        rt = Runtime.GO if i % 7 == 0 else Runtime.NATIVE if i % 11 == 0 else Runtime.PYTHON
        prof.frames.intern(Frame(f"{pkg}.handler_{i}", f"/srv/{pkg}/mod{i % 97}.py", 10 + i % 400, pkg, rt))
    idx = np.arange(n_nodes, dtype=np.int64)
    parent = (idx * rng.uniform(0.5, 1.0, n_nodes)).astype(np.int64)
    parent[0] = -1
    # frame ids distinct among siblings: node index modulo the table size
    frame = idx % n_frames
    depth = np.zeros(n_nodes, dtype=np.int64)
    for i in range(1, n_nodes):  # parents precede children
        depth[i] = depth[parent[i]] + 1
    nodes = idx[1:]
    dep = depth[nodes]
    offsets = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(dep, out=offsets[1:])
    flat = np.zeros(int(offsets[-1]), dtype=np.int64)
    cur = nodes.copy()
    pos = offsets[1:] - 1
    alive = dep > 0
    while alive.any():
        a = np.flatnonzero(alive)
        flat[pos[a]] = frame[cur[a]]
        pos[a] -= 1
        cur[a] = parent[cur[a]]
        alive[a] = cur[a] > 0
    values = rng.pareto(1.2, len(nodes)).reshape(-1, 1) * 10 + 1
    prof.add_stackset(StackSet(prof.frames, flat, offsets, np.floor(values)))
    return prof


def small_profile() -> Profile:
    """A hand-made Python profile: main -> (handle -> (query, render), gc)."""
    p = Profile([SAMPLES], name="small")

    def f(name: str, line: int) -> Frame:
        return Frame(name, f"/srv/app/{name}.py", line, "app", Runtime.PYTHON)

    p.add_stack([f("main", 1), f("handle", 10), f("query", 20)], [60])
    p.add_stack([f("main", 1), f("handle", 10), f("render", 30)], [25])
    p.add_stack([f("main", 1), f("gc_collect", 40)], [10])
    p.add_stack([f("main", 1)], [5])
    return p
