"""Profiles for GUI tests and the flame graph benchmark (no Qt here)."""

from __future__ import annotations

import numpy as np

from workbench.model import SAMPLES, Frame, Profile, Runtime

_PKGS = ("app", "sqlalchemy", "json", "http", "asyncio", "psycopg", "redis", "orm")


def synthetic_profile(n_nodes: int, seed: int = 1, n_frames: int = 20_000) -> Profile:
    """A random call tree of ``n_nodes`` nodes, depth ~ 45, built straight into the arrays.

    Parents are drawn as ``int(i * u)`` with u in (0.5, 1), which gives flame-graph-like
    shapes (a few wide towers, many narrow leaves) at every size. The arrays are filled
    directly (not through ``add_stackset``) because a million full stacks would need
    ~45 M frame entries; the result obeys the model's invariant (parents precede children).
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
    frame = idx % n_frames  # distinct among siblings unless they are n_frames apart
    frame[0] = -1
    values = np.floor(rng.pareto(1.2, n_nodes) * 10 + 1)
    values[0] = 0
    return Profile.from_arrays(prof.sample_types, prof.frames, parent, frame, values, name=prof.name)


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
