"""A V8 heap snapshot as a graph with allocation stacks (read by
``formats.heapsnapshot_trace``, walked by ``analysis.node_retainers``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .frames import Frame, Runtime

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]

MAX_STACK_FRAMES = 256  # frames kept per allocation stack (innermost ones)
B = npt.NDArray[np.bool_]


def bfs_tree(
    first: I64,
    e_type: I32,
    e_to: I32,
    edge_types: list[str],
    *,
    skip: B | None = None,
    on_level: Callable[[I64], bool] | None = None,
) -> tuple[I64, I64]:
    """Breadth-first from the snapshot root (node 0) over non-weak edges, one level at a time in
    numpy (no Python loop per node, no recursion): the shortest retainer tree as (parent node,
    edge into it) per node, -1 where unreached. ``skip`` masks further edges out; ``on_level``
    sees each new level's nodes and returns True to stop there. Bounded by the graph size."""
    n = len(first) - 1
    parent = np.full(max(n, 0), -1, dtype=np.int64)
    via = np.full(max(n, 0), -1, dtype=np.int64)
    if n <= 0:
        return parent, via
    seen = np.zeros(n, dtype=bool)
    weak = np.array([t == "weak" for t in edge_types] + [False], dtype=bool)
    etype = np.clip(e_type, 0, len(edge_types))
    seen[0] = True
    frontier = np.array([0], dtype=np.int64)
    while frontier.size:
        starts, ends = first[frontier], first[frontier + 1]
        cnt = ends - starts
        total = int(cnt.sum())
        if total == 0:
            break
        src = np.repeat(frontier, cnt)
        eidx = np.repeat(starts - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        keep = ~weak[etype[eidx]]
        if skip is not None:
            keep &= ~skip[eidx]
        src, eidx = src[keep], eidx[keep]
        dst = e_to[eidx].astype(np.int64)
        fresh = ~seen[dst]
        src, eidx, dst = src[fresh], eidx[fresh], dst[fresh]
        dst, pick = np.unique(dst, return_index=True)
        seen[dst] = True
        parent[dst] = src[pick]
        via[dst] = eidx[pick]
        frontier = dst
        if on_level is not None and on_level(dst):
            break
    return parent, via


@dataclass(slots=True)
class TracedSnapshot:
    node_type: I32  # index into ``node_types``
    node_name: I32  # string index
    node_id: I64  # V8's persistent object id (stable across snapshots of one process)
    trace_id: I32  # allocation trace node, 0 = allocated before tracking began
    first: I64  # first edge of node i; first[N] = E
    e_type: I32
    e_name: I32
    e_to: I32  # node index
    node_types: list[str]
    edge_types: list[str]
    strings: list[Any]
    # trace node id -> (function info index, parent trace node id)
    trace_nodes: dict[int, tuple[int, int]]
    # function info index -> (name, script, 1-based line, 0 unknown)
    functions: list[tuple[str, str, int]]

    def name(self, node: int) -> str:
        k = int(self.node_name[node])
        s = self.strings[k] if 0 <= k < len(self.strings) else ""
        return s if isinstance(s, str) else ""

    def type(self, node: int) -> str:
        k = int(self.node_type[node])
        return self.node_types[k] if 0 <= k < len(self.node_types) else "?"

    def edge_name(self, e: int) -> str:
        kind = self.edge_types[int(self.e_type[e])] if 0 <= self.e_type[e] < len(self.edge_types) else "?"
        n = int(self.e_name[e])
        if kind in ("element", "hidden"):
            return f"[{n}]"
        s = self.strings[n] if 0 <= n < len(self.strings) else ""
        return s if isinstance(s, str) else f"[{n}]"

    def edge_kind(self, e: int) -> str:
        k = int(self.e_type[e])
        return self.edge_types[k] if 0 <= k < len(self.edge_types) else "?"

    def stack(self, trace_id: int) -> list[Frame]:
        """The allocation stack of a trace node, root first (at most MAX_STACK_FRAMES, innermost kept)."""
        out: list[Frame] = []
        tid = trace_id
        while tid and len(out) < MAX_STACK_FRAMES:
            entry = self.trace_nodes.get(tid)
            if entry is None:
                break
            fi, tid = entry
            if 0 <= fi < len(self.functions):
                name, script, line = self.functions[fi]
                if script or name:  # the synthetic (root) has neither
                    out.append(Frame(name or "(anonymous)", script, line, "", Runtime.NODE))
        out.reverse()
        return out
