"""Top functions: self and total value per frame, recursion counted once per stack.

Total is computed from stacks, not nodes: a frame gets a stack's value once however
often it recurs in that stack (pprof's "cum"), so totals never exceed the profile total.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..model.frames import Frame
from ..model.profile import Profile
from ..model.profile import subtree_sums as model_subtree_sums
from .treeops import AnalysisError, nonzero_nodes, unique_ints

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SortKey = Literal["self", "total"]
Granularity = Literal["frame", "function"]


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One row of the top table. Values have one entry per sample type of the profile."""

    frame_id: int
    frame: Frame
    self_values: FloatArray
    total_values: FloatArray


def frame_groups(profile: Profile, granularity: Granularity) -> IntArray:
    """Group id per frame id: the frame itself, or the lowest frame id of the same (function, file)."""
    n = len(profile.frames)
    if granularity == "frame":
        return np.arange(n, dtype=np.int64)
    if granularity != "function":
        raise AnalysisError(f"unknown granularity {granularity!r}", "use 'frame' or 'function'")
    first: dict[tuple[str, str], int] = {}
    out = np.arange(n, dtype=np.int64)
    table = profile.frames
    # only the frames this profile uses: a shared live table can hold far more
    for fid in unique_ints(profile.frame[1:]).tolist():
        fr = table[fid]
        out[fid] = first.setdefault((fr.function, fr.file), fid)
    return out


def preorder_spans(profile: Profile) -> tuple[IntArray, IntArray]:
    """Preorder position and subtree size (in nodes) of every node, level by level.

    Node m is a proper ancestor of n exactly when ``pre[m] < pre[n] < pre[m] + size[m]``.
    """
    n = profile.n_nodes
    pre = np.zeros(n, dtype=np.int64)
    if n <= 1:
        return pre, np.ones(n, dtype=np.int64)
    parent = profile.parent.astype(np.int64)
    depth = profile.depth
    size = model_subtree_sums(profile.parent, depth, np.ones(n)).astype(np.int64)
    # a child starts right after its parent and the subtrees of its earlier siblings
    kids = np.arange(1, n, dtype=np.int64)
    kids = kids[np.argsort(parent[kids], kind="stable")]
    sz = size[kids]
    before = np.cumsum(sz) - sz
    par = parent[kids]
    first = np.flatnonzero(np.concatenate(([True], par[1:] != par[:-1])))
    offset = np.empty(n, dtype=np.int64)
    offset[kids] = before - np.repeat(before[first], np.diff(np.append(first, len(kids))))
    order = np.argsort(depth, kind="stable")
    d = depth[order]
    cuts = np.flatnonzero(np.diff(d)) + 1
    start = 0
    for end in [*cuts.tolist(), n]:  # shallowest first: a parent's position is known before its children's
        idx = order[start:end]
        if d[start] > 0:
            pre[idx] = pre[parent[idx]] + 1 + offset[idx]
        start = end
    return pre, size


def self_and_total(profile: Profile, granularity: Granularity = "frame") -> tuple[FloatArray, FloatArray]:
    """Arrays (n_frames x k) of self and total values per frame id (or per group representative)."""
    n_frames = len(profile.frames)
    k = len(profile.sample_types)
    groups = frame_groups(profile, granularity)
    self_v = np.zeros((n_frames, k), dtype=np.float64)
    total_v = np.zeros((n_frames, k), dtype=np.float64)
    if profile.n_nodes <= 1 or n_frames == 0:
        return self_v, total_v
    nodes = nonzero_nodes(profile)
    nodes = nodes[nodes > 0]  # root self (empty stacks) belongs to no function
    if len(nodes) == 0:
        return self_v, total_v
    sv = profile.self_values
    np.add.at(self_v, groups[profile.frame[nodes]], sv[nodes])
    # A stack's value counts once per frame however often the frame recurs in it: it is
    # the subtree total of each node whose frame no ancestor has (the outermost call).
    # Found from preorder spans, not by materialising every stack: a live refresh calls this.
    pre, size = preorder_spans(profile)
    g = groups[profile.frame]
    cand = np.arange(1, profile.n_nodes, dtype=np.int64)
    cand = cand[np.lexsort((pre[cand], g[cand]))]  # by group, then preorder
    gc = g[cand]
    span = profile.n_nodes + 1
    # running max of (group, subtree end): a node inside an earlier same-group node's span is nested in it
    run = np.maximum.accumulate(gc * span + pre[cand] + size[cand])
    prev = np.concatenate(([-1], run[:-1]))
    nested = (prev // span == gc) & (pre[cand] < prev % span)
    outer = cand[~nested]
    np.add.at(total_v, g[outer], profile.total_values()[outer])
    return self_v, total_v


def top_functions(
    profile: Profile,
    sample_index: int | str | None = None,
    limit: int | None = None,
    sort_by: SortKey = "self",
    granularity: Granularity = "frame",
) -> list[FunctionRow]:
    """Rows for every frame with a non-zero value, heaviest first by ``sort_by`` of one sample type.

    Ties are broken by the other column, then by frame id, so the order is stable.
    """
    try:
        si = profile.sample_index(sample_index)
    except KeyError as exc:
        raise AnalysisError(str(exc.args[0]), "pick a sample type the profile has (index or name)") from None
    if sort_by not in ("self", "total"):
        raise AnalysisError(f"cannot sort by {sort_by!r}", "sort by 'self' or 'total'")
    self_v, total_v = self_and_total(profile, granularity)
    present = np.flatnonzero(np.any(self_v != 0, axis=1) | np.any(total_v != 0, axis=1))
    primary, secondary = (self_v, total_v) if sort_by == "self" else (total_v, self_v)
    # lexsort: last key is primary; negate for descending
    order = np.lexsort((present, -secondary[present, si], -primary[present, si]))
    chosen = present[order]
    if limit is not None:
        chosen = chosen[: max(limit, 0)]
    return [
        FunctionRow(int(fid), profile.frames[int(fid)], self_v[fid].copy(), total_v[fid].copy())
        for fid in chosen.tolist()
    ]
