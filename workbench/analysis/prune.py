"""Prune a profile to a node budget, folding the rest into visible "(n more, x%)" markers.

The kept set is the ``max_nodes`` heaviest nodes by total of one sample type. With
non-negative values a child never outweighs its parent, and ties go to the lower node
id (parents precede children), so the set is closed under ancestors; a closure pass
makes sure of it anyway. Each kept node whose children were dropped gets one marker
child holding their summed values, so totals are exact and nothing vanishes silently.
Markers come on top of the budget (at most one per kept node).
"""

from __future__ import annotations

import numpy as np

from ..model.frames import Frame, Runtime
from ..model.profile import Profile, StackSet
from .treeops import (
    AnalysisError,
    append_frames,
    build_from,
    concat_stacks,
    fork_table,
    nonzero_nodes,
    remap_slices,
)


def marker_frame(n: int, percent: float) -> Frame:
    return Frame(f"({n} more, {percent:.1f}%)", runtime=Runtime.OTHER)


def prune(profile: Profile, max_nodes: int, sample_index: int | str | None = None) -> Profile:
    if max_nodes < 1:
        raise AnalysisError(f"node budget {max_nodes} is too small", "keep at least one node")
    try:
        si = profile.sample_index(sample_index)
    except KeyError as exc:
        raise AnalysisError(str(exc.args[0]), "pick a sample type the profile has (index or name)") from None
    n = profile.n_nodes
    total = profile.total_values()
    # nodes whose totals are all zero (left by a filter) carry nothing: never counted or kept
    live = np.any(total != 0, axis=1)
    live[0] = True
    if int(live.sum()) - 1 <= max_nodes:
        return profile.copy()
    parent = profile.parent.astype(np.int64)
    ids = np.flatnonzero(live[1:]).astype(np.int64) + 1
    weight = np.abs(total[ids, si])
    order = np.lexsort((ids, -weight))[:max_nodes]
    keep = np.zeros(n, dtype=bool)
    keep[0] = True
    keep[ids[order]] = True
    while True:  # ancestor closure; one pass for non-negative profiles
        missing = keep & ~keep[parent.clip(0)]
        missing[0] = False
        if not missing.any():
            break
        keep[parent[missing]] = True
    dropped = ~keep
    frontier = np.flatnonzero(dropped & live & keep[parent.clip(0)])
    # every dropped node maps to its frontier ancestor (the dropped child of a kept node)
    rep = np.arange(n, dtype=np.int64)
    up = dropped & ~keep[parent.clip(0)]
    rep[up] = parent[up]
    while True:
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            break
        rep = nxt
    owners, inv = np.unique(parent[frontier], return_inverse=True)
    counts = np.bincount(inv, minlength=len(owners))
    marker_vals = np.zeros((len(owners), total.shape[1]), dtype=np.float64)
    np.add.at(marker_vals, inv, total[frontier])
    grand = abs(float(profile.totals()[si])) or 1.0

    table = fork_table(profile.frames)
    marker_ids = np.fromiter(
        (
            table.intern(marker_frame(int(c), 100.0 * abs(float(v)) / grand))
            for c, v in zip(counts.tolist(), marker_vals[:, si].tolist(), strict=True)
        ),
        dtype=np.int64,
        count=len(owners),
    )
    kept_nodes = nonzero_nodes(profile)
    kept_nodes = kept_nodes[keep[kept_nodes]]
    kept_ss = profile.paths(kept_nodes)
    marker_ss = append_frames(profile.paths(owners), marker_ids)
    marker_ss = StackSet(table, marker_ss.frames, marker_ss.offsets, marker_vals)
    stacks = concat_stacks(StackSet(table, kept_ss.frames, kept_ss.offsets, kept_ss.values), marker_ss)
    out, leaves = build_from(profile, stacks, table)
    if profile.slices:
        # kept nodes map to themselves; a dropped node goes to the marker of its kept ancestor
        node_map = np.full(n, -1, dtype=np.int64)
        node_map[kept_nodes] = leaves[: len(kept_nodes)]
        owner_marker = np.full(n, -1, dtype=np.int64)
        owner_marker[owners] = leaves[len(kept_nodes) :]
        dn = np.flatnonzero(dropped)
        node_map[dn] = owner_marker[parent[rep[dn]]]
        remap_slices(profile, out, node_map)
    out.meta["pruned_nodes"] = str(int((dropped & live).sum()))
    return out
