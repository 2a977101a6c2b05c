"""Vectorised helpers over a Profile's flat arrays and StackSets, shared by the transforms.

Nothing here recurses over stack depth: "does any frame on the path match" uses pointer
jumping (log2(depth) numpy passes), subtree sums go level by level, deepest first, and
stack reshaping works on the flat CSR arrays of a StackSet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import WorkbenchError
from ..model.frames import FrameTable
from ..model.profile import Profile, StackSet, TimeSlice
from ..model.profile import subtree_sums as model_subtree_sums

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class AnalysisError(WorkbenchError):
    """An analysis request that cannot be served (bad regex, incompatible profiles)."""


def nonzero_nodes(profile: Profile) -> IntArray:
    """Nodes carrying self value: exactly the stacks ``Profile.to_stackset`` returns."""
    sv = profile.self_values
    return np.flatnonzero(np.any(sv != 0, axis=1)).astype(np.int64)


def unique_ints(a: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.integer[Any]]:
    """``np.unique(a)`` for integer arrays by sorting a copy.

    numpy 2.3+ finds unique values through a hash table first; on a few hundred thousand
    wide-ranged int64 keys that is 30-40x slower than a sort (60 ms against 2 ms), and
    the top table computes such keys on every live refresh.
    """
    s = np.sort(a, kind="stable")
    if len(s) == 0:
        return s
    keep = np.empty(len(s), dtype=np.bool_)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def stack_ids(ss: StackSet) -> IntArray:
    """For each position of ``ss.frames``, the index of the stack holding it."""
    return np.repeat(np.arange(len(ss), dtype=np.int64), np.diff(ss.offsets))


def select_stacks(ss: StackSet, mask: BoolArray) -> StackSet:
    """The stacks where ``mask`` is true, in order."""
    lengths = np.diff(ss.offsets)
    pos = np.repeat(mask, lengths)
    offsets = np.zeros(int(mask.sum()) + 1, dtype=np.int64)
    np.cumsum(lengths[mask], out=offsets[1:])
    return StackSet(ss.table, ss.frames[pos], offsets, ss.values[mask])


def select_positions(ss: StackSet, keep: BoolArray) -> StackSet:
    """Drop the frames at positions where ``keep`` is false; every stack stays (maybe empty)."""
    counts = np.bincount(stack_ids(ss)[keep], minlength=len(ss)).astype(np.int64)
    offsets = np.zeros(len(ss) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return StackSet(ss.table, ss.frames[keep], offsets, ss.values)


def reverse_stacks(ss: StackSet) -> StackSet:
    """Each stack leaf first (so a tree built from it is bottom-up)."""
    sid = stack_ids(ss)
    pos = np.arange(len(ss.frames), dtype=np.int64)
    src = ss.offsets[:-1][sid] + ss.offsets[1:][sid] - 1 - pos
    return StackSet(ss.table, ss.frames[src], ss.offsets.copy(), ss.values)


def append_frames(ss: StackSet, fids: IntArray) -> StackSet:
    """Stack i gets ``fids[i]`` appended as its new leaf."""
    n = len(ss)
    lengths = np.diff(ss.offsets) + 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    frames = np.empty(int(offsets[-1]), dtype=np.int64)
    leaf_pos = offsets[1:] - 1
    body = np.ones(len(frames), dtype=bool)
    body[leaf_pos] = False
    frames[body] = ss.frames
    frames[leaf_pos] = fids
    return StackSet(ss.table, frames, offsets, ss.values)


def concat_stacks(a: StackSet, b: StackSet) -> StackSet:
    """Stacks of ``a`` then ``b`` (same frame table)."""
    offsets = np.concatenate([a.offsets, b.offsets[1:] + a.offsets[-1]])
    return StackSet(a.table, np.concatenate([a.frames, b.frames]), offsets, np.concatenate([a.values, b.values]))


def with_table(ss: StackSet, table: FrameTable) -> StackSet:
    """``ss`` re-expressed in ``table``, interning only the frames it uses (not its whole table)."""
    if ss.table is table:
        return ss
    used, inv = np.unique(ss.frames, return_inverse=True)
    ids = np.fromiter((table.intern(ss.table[int(f)]) for f in used), dtype=np.int64, count=len(used))
    return StackSet(table, ids[inv.reshape(-1)], ss.offsets, ss.values)


def path_any(profile: Profile, flag: BoolArray) -> BoolArray:
    """For each node: is ``flag`` true on the node or any ancestor? Pointer jumping, no recursion."""
    out = flag.copy()
    out[0] = bool(flag[0])
    anc = profile.parent.astype(np.int64)
    anc[0] = 0
    # after j rounds, out[n] covers n and its 2**j - 1 nearest ancestors
    while np.any(anc != 0):
        out |= out[anc]
        anc = anc[anc]
    out |= out[anc]
    return out


def subtree_sums(profile: Profile, values: FloatArray) -> FloatArray:
    """Inclusive sums of per-node ``values`` (n_nodes x k), level by level, deepest first."""
    return model_subtree_sums(profile.parent, profile.depth, values)


def remap_slices(src: Profile, dst: Profile, node_map: IntArray) -> None:
    """Carry ``src``'s time slices onto ``dst`` through ``node_map`` (old node -> new node, -1 dropped).

    Keeps window cuts working on a transformed profile.
    """
    out: list[TimeSlice] = []
    for s in src.slices:
        mapped = node_map[s.nodes]
        ok = mapped >= 0
        if not ok.any():
            continue
        uniq, inv = np.unique(mapped[ok], return_inverse=True)
        agg = np.zeros((len(uniq), s.values.shape[1]), dtype=np.float64)
        np.add.at(agg, inv, s.values[ok])
        out.append(TimeSlice(s.t0, s.t1, uniq.astype(np.int64), agg))
    dst.slices = out


def build_from(src: Profile, stacks: StackSet, table: FrameTable | None = None) -> tuple[Profile, IntArray]:
    """A new profile like ``src`` (metadata, time range) holding ``stacks``; returns it and the leaves."""
    dst = src.empty_like()
    if table is not None:
        dst.frames = table
    dst.time_start, dst.time_end, dst.duration_ns = src.time_start, src.time_end, src.duration_ns
    dst.truncated_stacks, dst.overflowed_nodes = src.truncated_stacks, src.overflowed_nodes
    leaves = dst.add_stackset(stacks)
    return dst, leaves


def rebuild(src: Profile, stacks: StackSet, nodes: IntArray, table: FrameTable | None = None) -> Profile:
    """A new profile from ``stacks`` (stack i carries the samples of ``src`` node ``nodes[i]``).

    Metadata and the time range are kept, and time slices follow their nodes, so a
    filtered or inverted profile can still be cut by time.
    """
    dst, leaves = build_from(src, stacks, table)
    if src.slices:
        node_map = np.full(src.n_nodes, -1, dtype=np.int64)
        node_map[nodes] = leaves
        remap_slices(src, dst, node_map)
    return dst


def drop_samples(src: Profile, keep_node: BoolArray) -> Profile:
    """A copy of ``src`` whose nodes outside ``keep_node`` carry no samples (in time slices too)."""
    dst = src.copy(with_slices=False)
    gone = np.flatnonzero(~keep_node & np.any(src.self_values != 0, axis=1)).astype(np.int64)
    if len(gone):
        dst.add_node_values(gone, -src.self_values[gone])  # x + (-x) is exactly 0
    out: list[TimeSlice] = []
    for s in src.slices:
        ok = keep_node[s.nodes]
        if ok.all():
            out.append(s)  # slices are never mutated in place, so sharing is safe
        elif ok.any():
            out.append(TimeSlice(s.t0, s.t1, s.nodes[ok], s.values[ok]))
    dst.slices = out
    return dst


def fork_table(table: FrameTable) -> FrameTable:
    """A copy of an intern table with the same ids, so derived marker frames do not grow the original.

    A live view prunes several times a second; interning fresh "(n more, x%)" labels into
    the shared, append-only table would grow it without bound.
    """
    t = FrameTable(table.max_frames)
    t._frames = list(table._frames)
    t._ids = dict(table._ids)
    t.overflowed = table.overflowed
    return t
