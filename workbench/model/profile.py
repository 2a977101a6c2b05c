"""One profile model for every source: a prefix tree of interned frames in flat arrays.

Node 0 is the root (frame -1). Every other node has ``parent < node``, because a node
is created after its parent; the vectorised passes below rely on that order instead of
recursing over stack depth. Values are float64 so counts, bytes and nanoseconds share
one array and stay exact up to 2**53.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .frames import NODES_OVERFLOW, TRUNCATED_STACK, Frame, FrameTable
from .keys import ProfileKey
from .labels import LabelStore, LabelTable

IntArray = npt.NDArray[np.int64]
I32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

DEFAULT_MAX_DEPTH = 4096
DEFAULT_MAX_NODES = 2_000_000
DEFAULT_MAX_SLICES = 2048
# (node, value) entries over all time slices: merging keeps the slice count bounded, but a
# merged slice holds the union of its parts' nodes, so without this cap a long live session
# drifts towards max_slices x distinct leaves (~100 MB for a service with 3000 hot paths;
# measured with benchmarks/bench_soak.py)
DEFAULT_MAX_SLICE_ENTRIES = 262_144  # 4 MiB of nodes + one value column


@dataclass(frozen=True, slots=True)
class SampleType:
    """A (type, unit) pair, named as pprof names them (``cpu``/``nanoseconds``)."""

    type: str
    unit: str

    def __str__(self) -> str:
        return f"{self.type}/{self.unit}"


SAMPLES = SampleType("samples", "count")
CPU_NS = SampleType("cpu", "nanoseconds")
WALL_NS = SampleType("wall", "nanoseconds")
ALLOC_SPACE = SampleType("alloc_space", "bytes")
ALLOC_OBJECTS = SampleType("alloc_objects", "count")
INUSE_SPACE = SampleType("inuse_space", "bytes")
INUSE_OBJECTS = SampleType("inuse_objects", "count")
GOROUTINES = SampleType("goroutine", "count")


@dataclass(frozen=True, slots=True)
class StackSet:
    """Stacks in CSR form: ``frames[offsets[i]:offsets[i+1]]`` is stack i, root first.

    Frame ids index ``table``. This is the exchange shape between formats, capture
    batches and transforms; building a Profile from it is vectorised per depth level.
    """

    table: FrameTable
    frames: IntArray
    offsets: IntArray
    values: FloatArray  # shape (n_stacks, n_types)
    # optional sample labels: a set id of ``label_table`` per stack, -1 for none (model.labels)
    label_ids: IntArray | None = None
    label_table: LabelTable | None = None

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def stack(self, i: int) -> IntArray:
        return self.frames[self.offsets[i] : self.offsets[i + 1]]


def stackset_from_lists(
    table: FrameTable, stacks: Sequence[Sequence[int]], values: Sequence[Sequence[float]] | FloatArray
) -> StackSet:
    """Build a StackSet from Python lists of frame ids (root first)."""
    lengths = np.fromiter((len(s) for s in stacks), dtype=np.int64, count=len(stacks))
    offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((f for s in stacks for f in s), dtype=np.int64, count=int(offsets[-1]))
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals.reshape(-1, 1)
    return StackSet(table, flat, offsets, vals.reshape(len(stacks), -1))


@dataclass(slots=True)
class TimeSlice:
    """Self values added to some nodes during [t0, t1), in seconds since the epoch."""

    t0: float
    t1: float
    nodes: IntArray
    values: FloatArray


@dataclass(slots=True)
class ProfileLimits:
    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES
    max_slices: int = DEFAULT_MAX_SLICES
    max_slice_entries: int = DEFAULT_MAX_SLICE_ENTRIES


class Profile:
    """A call tree with one self value per node and sample type, plus time slices.

    Not thread-safe: the session serialises writers, views read snapshots (``copy``).
    """

    def __init__(
        self,
        sample_types: Sequence[SampleType],
        *,
        name: str = "profile",
        source: str = "",
        frames: FrameTable | None = None,
        limits: ProfileLimits | None = None,
        default_sample_type: int = 0,
    ) -> None:
        if not sample_types:
            raise ValueError("a profile needs at least one sample type")
        self.sample_types: tuple[SampleType, ...] = tuple(sample_types)
        self.name = name
        self.source = source
        self.frames = frames if frames is not None else FrameTable()
        self.limits = limits or ProfileLimits()
        self.default_sample_type = default_sample_type
        self.meta: dict[str, str] = {}
        self.period: float = 0.0  # pprof period, sampling interval in the period unit
        self.period_type: SampleType | None = None
        self.duration_ns: int = 0
        self.time_start: float | None = None
        self.time_end: float | None = None
        self.truncated_stacks = 0  # stacks cut at max_depth
        self.overflowed_nodes = 0  # samples folded into a node-budget marker
        k = len(self.sample_types)
        self._n = 1
        self._parent = np.full(1024, -1, dtype=np.int32)
        self._frame = np.full(1024, -1, dtype=np.int32)
        self._depth = np.zeros(1024, dtype=np.int32)
        self._self = np.zeros((1024, k), dtype=np.float64)
        # Child index: sorted keys (parent << 32 | frame) and the node of each. Searched
        # with np.searchsorted, merged with np.insert (which returns new arrays, so copies
        # of a profile can share them).
        self._keys = np.zeros(0, dtype=np.int64)
        self._key_nodes = np.zeros(0, dtype=np.int64)
        self.slices: list[TimeSlice] = []
        self.labels: LabelStore | None = None  # which values came from labelled samples
        self.version = 0
        self._total_cache: tuple[int, FloatArray] | None = None

    # ----------------------------------------------------------------- arrays
    @property
    def n_nodes(self) -> int:
        return self._n

    @property
    def parent(self) -> I32Array:
        return self._parent[: self._n]

    @property
    def frame(self) -> I32Array:
        return self._frame[: self._n]

    @property
    def depth(self) -> I32Array:
        return self._depth[: self._n]

    @property
    def self_values(self) -> FloatArray:
        return self._self[: self._n]

    def total_values(self) -> FloatArray:
        """Inclusive values per node, computed level by level (no recursion), cached."""
        if self._total_cache is not None and self._total_cache[0] == self.version:
            return self._total_cache[1]
        total = subtree_sums(self.parent, self.depth, self.self_values)
        self._total_cache = (self.version, total)
        return total

    def totals(self) -> FloatArray:
        """Sum of all samples per sample type."""
        return np.asarray(self.self_values.sum(axis=0), dtype=np.float64)

    def sample_index(self, spec: int | str | None) -> int:
        """Resolve ``--sample-index`` like pprof: an index, a type name or ``type/unit``."""
        if spec is None:
            return self.default_sample_type
        if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
            i = int(spec)
            if 0 <= i < len(self.sample_types):
                return i
        else:
            for i, st in enumerate(self.sample_types):
                if spec in (st.type, str(st)):
                    return i
        names = ", ".join(str(s) for s in self.sample_types)
        raise KeyError(f"sample type {spec!r} not in profile (has {names})")

    # ---------------------------------------------------------------- growing
    def _grow(self, need: int) -> None:
        cap = self._parent.shape[0]
        if need <= cap:
            return
        new = max(need, cap * 2)
        k = len(self.sample_types)
        self._parent = np.concatenate([self._parent, np.full(new - cap, -1, np.int32)])
        self._frame = np.concatenate([self._frame, np.full(new - cap, -1, np.int32)])
        self._depth = np.concatenate([self._depth, np.zeros(new - cap, np.int32)])
        self._self = np.concatenate([self._self, np.zeros((new - cap, k), np.float64)])

    def _lookup(self, keys: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Nodes of sorted ``keys`` in the index, and which were found."""
        idx = np.searchsorted(self._keys, keys)
        found = idx < len(self._keys)
        found[found] = self._keys[idx[found]] == keys[found]
        out = np.full(len(keys), -1, dtype=np.int64)
        out[found] = self._key_nodes[idx[found]]
        return out, found

    def _create(self, keys: IntArray, pending: list[tuple[IntArray, IntArray]]) -> IntArray:
        """New nodes for sorted, absent keys; their index entries wait in ``pending``."""
        m = len(keys)
        ids = np.arange(self._n, self._n + m, dtype=np.int64)
        self._grow(self._n + m)
        parents = keys >> 32
        self._parent[ids] = parents
        self._frame[ids] = keys & 0xFFFFFFFF
        self._depth[ids] = self._depth[parents] + 1
        self._n += m
        pending.append((keys, ids))
        return ids

    def _resolve(self, uniq: IntArray, pending: list[tuple[IntArray, IntArray]]) -> IntArray:
        """Node ids for sorted unique keys of one depth level, creating missing ones in bulk.

        Keys of one level never recur at a deeper level (their parents have another depth),
        so new keys can wait in ``pending`` until the whole batch is merged.
        """
        out, found = self._lookup(uniq)
        missing = np.flatnonzero(~found)
        if missing.size == 0:
            return out
        room = max(0, self.limits.max_nodes - self._n)
        create, over = missing[:room], missing[room:]
        if create.size:
            out[create] = self._create(uniq[create], pending)
        if over.size:
            # Over budget: fold into one visible marker child per parent (markers may
            # exceed the budget by at most one node per parent).
            self.overflowed_nodes += int(over.size)
            marker = self.frames.intern(NODES_OVERFLOW)
            mkeys: IntArray = ((uniq[over] >> 32) << 32) | marker
            mu_raw, minv = np.unique(mkeys, return_inverse=True)
            mu: IntArray = np.asarray(mu_raw, dtype=np.int64)
            mnodes, mfound = self._lookup(mu)
            if create.size:  # a marker key may have been created just above
                ck: IntArray = np.asarray(uniq[create], dtype=np.int64)
                ci: IntArray = np.asarray(np.searchsorted(ck, mu), dtype=np.int64)
                hit = (ci < len(ck)) & ~mfound
                hit[hit] = ck[ci[hit]] == mu[hit]
                mnodes[hit] = out[create][ci[hit]]
                mfound |= hit
            if (~mfound).any():
                mnodes[~mfound] = self._create(mu[~mfound], pending)
            out[over] = mnodes[minv]
        return out

    def _merge_pending(self, pending: list[tuple[IntArray, IntArray]]) -> None:
        if not pending:
            return
        keys = np.concatenate([k for k, _ in pending])
        nodes = np.concatenate([n for _, n in pending])
        order = np.argsort(keys, kind="stable")
        keys, nodes = keys[order], nodes[order]
        pos = np.searchsorted(self._keys, keys)
        self._keys = np.insert(self._keys, pos, keys)
        self._key_nodes = np.insert(self._key_nodes, pos, nodes)

    def child(self, parent: int, frame: int) -> int | None:
        key = (parent << 32) | frame
        i = int(np.searchsorted(self._keys, key))
        if i < len(self._keys) and int(self._keys[i]) == key:
            return int(self._key_nodes[i])
        return None

    def add_stackset(self, stacks: StackSet, t0: float | None = None, t1: float | None = None) -> IntArray:
        """Merge stacks (frame ids of ``stacks.table``) into the tree; returns leaf nodes.

        Vectorised per depth level: stacks are sorted by length so the stacks still
        active at level d are a prefix, and each level needs one ``np.unique`` and one
        sorted-index search over its distinct (parent, frame) pairs: no Python loop over
        samples or nodes.
        """
        n = len(stacks)
        k = len(self.sample_types)
        if stacks.values.shape != (n, k):
            raise ValueError(f"values shape {stacks.values.shape} != ({n}, {k})")
        leaves = np.zeros(n, dtype=np.int64)
        if n == 0:
            return leaves
        # map the batch's frame table onto ours
        if stacks.table is self.frames:
            remap = None
        else:
            remap = np.fromiter((self.frames.intern(f) for f in stacks.table), dtype=np.int64, count=len(stacks.table))
        lengths = np.diff(stacks.offsets)
        max_depth = self.limits.max_depth
        over = lengths > max_depth
        self.truncated_stacks += int(over.sum())
        eff = np.minimum(lengths, max_depth)
        order = np.argsort(-eff, kind="stable")
        eff_sorted = eff[order]
        starts = stacks.offsets[:-1][order]
        cur = np.zeros(n, dtype=np.int64)
        pending: list[tuple[IntArray, IntArray]] = []
        trunc_fid = self.frames.intern(TRUNCATED_STACK) if over.any() else -1
        deepest = int(eff_sorted[0]) if n else 0
        # number of stacks with eff > d, for each d
        active_counts = np.searchsorted(-eff_sorted, -np.arange(deepest), side="left")
        for d in range(deepest):
            m = int(active_counts[d])
            if m == 0:
                break
            fids = stacks.frames[starts[:m] + d]
            if remap is not None:
                fids = remap[fids]
            if d == max_depth - 1 and over.any():
                # the last kept level of an over-deep stack becomes the marker
                is_over = lengths[order[:m]] > max_depth
                fids = np.where(is_over, trunc_fid, fids)
            keys = (cur[:m] << 32) | fids
            uniq, inv = np.unique(keys, return_inverse=True)
            cur[:m] = self._resolve(uniq, pending)[inv]
        self._merge_pending(pending)
        leaves[order] = cur
        np.add.at(self._self, leaves, stacks.values)
        if stacks.label_ids is not None and stacks.label_table is not None:
            self._add_labels(leaves, stacks.label_ids, stacks.label_table, stacks.values)
        if t0 is not None:
            t1 = t0 if t1 is None else t1
            self._add_slice(t0, t1, leaves, stacks.values)
        self.version += 1
        return leaves

    def add_labels(self, stacks: StackSet) -> None:
        """Record which values of ``stacks`` (already added) carry which labels, without adding them."""
        if stacks.label_ids is None or stacks.label_table is None or len(stacks) == 0:
            return
        zero = StackSet(stacks.table, stacks.frames, stacks.offsets, np.zeros_like(stacks.values))
        leaves = self.add_stackset(zero)
        self._add_labels(leaves, stacks.label_ids, stacks.label_table, stacks.values)

    def _add_labels(self, leaves: IntArray, ids: IntArray, table: LabelTable, values: FloatArray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not (ids >= 0).any():
            return
        if self.labels is None:
            self.labels = LabelStore(max_entries=self.limits.max_slice_entries)
        store = self.labels
        if table is not store.table:
            used = np.unique(ids[ids >= 0])
            remap = np.full(int(used.max()) + 1, -1, dtype=np.int64)
            remap[used] = [store.table.intern(table[int(i)]) for i in used.tolist()]
            ids = np.where(ids >= 0, remap[np.maximum(ids, 0)], -1)
        store = store.copy()  # copies of this profile share the old arrays: replace, never mutate
        store.add(np.asarray(leaves, dtype=np.int64), ids, np.asarray(values, dtype=np.float64))
        self.labels = store

    def labelled_stackset(self) -> StackSet | None:
        """The labelled values as stacks with their label ids (None if the profile has no labels)."""
        if self.labels is None or len(self.labels) == 0:
            return None
        st = self.labels
        ss = self.paths(st.nodes)
        return StackSet(ss.table, ss.frames, ss.offsets, st.values, st.ids, st.table)

    def add_stack(
        self, frames: Sequence[Frame], values: Sequence[float], t0: float | None = None, t1: float | None = None
    ) -> int:
        """Convenience for one stack of Frame objects (root first)."""
        ids = [self.frames.intern(f) for f in frames]
        ss = stackset_from_lists(self.frames, [ids], [list(values)])
        return int(self.add_stackset(ss, t0, t1)[0])

    def add_node_values(
        self, nodes: IntArray, values: FloatArray, t0: float | None = None, t1: float | None = None
    ) -> None:
        """Add self values to existing nodes (used by merges and window cuts)."""
        np.add.at(self._self, nodes, values)
        if t0 is not None:
            self._add_slice(t0, t0 if t1 is None else t1, nodes, values)
        self.version += 1

    # ------------------------------------------------------------------- time
    def _add_slice(self, t0: float, t1: float, nodes: IntArray, values: FloatArray) -> None:
        # aggregate duplicates so a slice stays as small as its distinct nodes
        uniq, inv = np.unique(nodes, return_inverse=True)
        agg = np.zeros((len(uniq), values.shape[1]), dtype=np.float64)
        np.add.at(agg, inv, values)
        self.slices.append(TimeSlice(float(t0), float(t1), uniq.astype(np.int64), agg))
        self.time_start = t0 if self.time_start is None else min(self.time_start, t0)
        self.time_end = t1 if self.time_end is None else max(self.time_end, t1)
        if len(self.slices) > self.limits.max_slices:
            self._coarsen_slices()
        # slices are replaced wholesale elsewhere (cut, copy, the .wbs loader): count, do not cache
        while sum(len(s.nodes) for s in self.slices) > self.limits.max_slice_entries and len(self.slices) > 8:
            before = len(self.slices)
            self._coarsen_slices()
            if len(self.slices) == before:
                break

    def _coarsen_slices(self) -> None:
        """Merge the oldest half of the slices pairwise: bounded memory, coarser past."""
        self.slices.sort(key=lambda s: s.t0)
        half = len(self.slices) // 2
        merged: list[TimeSlice] = []
        for i in range(0, half - 1, 2):
            a, b = self.slices[i], self.slices[i + 1]
            nodes = np.concatenate([a.nodes, b.nodes])
            vals = np.concatenate([a.values, b.values])
            uniq, inv = np.unique(nodes, return_inverse=True)
            agg = np.zeros((len(uniq), vals.shape[1]), dtype=np.float64)
            np.add.at(agg, inv, vals)
            merged.append(TimeSlice(min(a.t0, b.t0), max(a.t1, b.t1), uniq, agg))
        rest_start = (half // 2) * 2
        self.slices = merged + self.slices[rest_start:]

    def window_values(self, t0: float, t1: float) -> FloatArray:
        """Self values of the samples whose slice overlaps [t0, t1)."""
        out = np.zeros_like(self.self_values)
        for s in self.slices:
            if _overlaps(s, t0, t1):
                np.add.at(out, s.nodes, s.values)
        return out

    def cut(self, t0: float, t1: float) -> Profile:
        """A new profile holding only the samples of [t0, t1); same tree, same frames."""
        p = self.copy(with_slices=False)
        p._self[: p._n] = self.window_values(t0, t1)
        p.slices = [s for s in self.slices if _overlaps(s, t0, t1)]
        whole = self.time_start is None or self.time_end is None or (t0 <= self.time_start and t1 >= self.time_end)
        if not whole:
            p.labels = None  # labels are kept per node for the whole capture, not per time slice
        p.time_start, p.time_end = t0, t1
        p.version += 1
        return p

    # ------------------------------------------------------------------ misc
    def copy(self, with_slices: bool = True) -> Profile:
        """A snapshot a view can hold while capture keeps adding to the original.

        The frame table is shared: it is append-only, so old ids stay valid.
        """
        p = Profile(self.sample_types, name=self.name, source=self.source, frames=self.frames, limits=self.limits)
        p.default_sample_type = self.default_sample_type
        p.meta = dict(self.meta)
        p.period, p.period_type, p.duration_ns = self.period, self.period_type, self.duration_ns
        p.time_start, p.time_end = self.time_start, self.time_end
        p.truncated_stacks, p.overflowed_nodes = self.truncated_stacks, self.overflowed_nodes
        n = self._n
        p._n = n
        p._parent = self._parent[:n].copy()
        p._frame = self._frame[:n].copy()
        p._depth = self._depth[:n].copy()
        p._self = self._self[:n].copy()
        p._keys, p._key_nodes = self._keys, self._key_nodes  # never mutated in place
        if with_slices:
            p.slices = list(self.slices)  # slices are never mutated in place
        p.labels = None if self.labels is None else self.labels.copy()
        p.version = self.version
        return p

    @classmethod
    def from_arrays(
        cls,
        sample_types: Sequence[SampleType],
        frames: FrameTable,
        parent: npt.ArrayLike,
        frame: npt.ArrayLike,
        self_values: npt.ArrayLike,
        **kwargs: Any,
    ) -> Profile:
        """A profile from flat tree arrays (node 0 the root, every parent before its child)."""
        par = np.asarray(parent, dtype=np.int64)
        fr = np.asarray(frame, dtype=np.int64)
        n = len(par)
        vals = np.asarray(self_values, dtype=np.float64).reshape(n, -1)
        idx = np.arange(n)
        if n == 0 or par[0] != -1 or (n > 1 and (np.any(par[1:] < 0) or np.any(par[1:] >= idx[1:]))):
            raise ValueError("node 0 must be the root and every parent must precede its child")
        p = cls(sample_types, frames=frames, **kwargs)
        p._grow(n)
        p._parent[:n] = par
        p._frame[:n] = fr
        p._frame[0] = -1
        depth = np.zeros(n, dtype=np.int32)
        for i in range(1, n):  # parents precede children, so one forward pass is enough
            depth[i] = depth[par[i]] + 1
        p._depth[:n] = depth
        p._self[:n] = vals
        p._n = n
        keys = (par[1:] << 32) | fr[1:]
        order = np.argsort(keys, kind="stable")
        p._keys, p._key_nodes = keys[order], (idx[1:] if n > 1 else idx[:0])[order].astype(np.int64)
        if len(p._keys) > 1:
            # siblings sharing a frame stay as drawn; new samples go to the first of them
            first = np.concatenate([[True], np.diff(p._keys) != 0])
            p._keys, p._key_nodes = p._keys[first], p._key_nodes[first]
        p.version += 1
        return p

    def empty_like(self) -> Profile:
        """Same sample types, frames and metadata, no samples."""
        p = Profile(self.sample_types, name=self.name, source=self.source, frames=self.frames, limits=self.limits)
        p.default_sample_type = self.default_sample_type
        p.meta = dict(self.meta)
        p.period, p.period_type = self.period, self.period_type
        return p

    def paths(self, nodes: IntArray) -> StackSet:
        """Root-first frame-id stacks of ``nodes`` (CSR), built by walking parents per level."""
        nodes = np.asarray(nodes, dtype=np.int64)
        depth = self.depth[nodes].astype(np.int64)
        offsets = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(depth, out=offsets[1:])
        flat = np.zeros(int(offsets[-1]), dtype=np.int64)
        cur = nodes.copy()
        pos = offsets[1:] - 1  # write leaf-most frame at the end of each stack
        alive = depth > 0
        while alive.any():
            idx = np.flatnonzero(alive)
            flat[pos[idx]] = self.frame[cur[idx]]
            pos[idx] -= 1
            cur[idx] = self.parent[cur[idx]]
            alive[idx] = cur[idx] > 0
        return StackSet(self.frames, flat, offsets, self.self_values[nodes])

    def to_stackset(self, nonzero_only: bool = True, labels: bool = False) -> StackSet:
        """Every node that carries self value, as stacks: the input of exporters and transforms.

        With ``labels``, a labelled profile's stacks come once per label set (with
        ``label_ids``) plus once for their unlabelled rest (id -1).
        """
        sv = self.self_values
        lab = self.labelled_stackset() if labels else None
        if lab is not None and self.labels is not None:
            sv = sv - self.labels.per_node(self._n)
            sv[np.abs(sv) <= 1e-9 * np.abs(self.self_values)] = 0.0  # float rounding, not samples
        nodes = np.flatnonzero(np.any(sv != 0, axis=1)) if nonzero_only else np.arange(self._n)
        rest = self.paths(nodes.astype(np.int64))
        if lab is None or lab.label_ids is None:
            return rest
        return StackSet(
            self.frames,
            np.concatenate([rest.frames, lab.frames]),
            np.concatenate([rest.offsets, lab.offsets[1:] + rest.offsets[-1]]),
            np.concatenate([sv[nodes], lab.values]),
            np.concatenate([np.full(len(nodes), -1, dtype=np.int64), lab.label_ids]),
            lab.label_table,
        )

    def stack_frames(self, node: int) -> list[Frame]:
        """Root-first frames of one node (a loop, not recursion)."""
        out: list[Frame] = []
        while node > 0:
            out.append(self.frames[int(self._frame[node])])
            node = int(self._parent[node])
        out.reverse()
        return out

    def children_of(self, node: int) -> IntArray:
        return np.flatnonzero(self.parent == node).astype(np.int64)


def subtree_sums(parent: I32Array, depth: I32Array, values: FloatArray) -> FloatArray:
    """Inclusive sums of per-node ``values`` over a tree, level by level, deepest first
    (one ``np.add.at`` per depth level, no recursion)."""
    total = np.array(values, dtype=np.float64, copy=True)
    if len(parent) <= 1:
        return total
    order = np.argsort(depth, kind="stable")[::-1]
    d_sorted = depth[order]
    cuts = np.flatnonzero(np.diff(d_sorted)) + 1  # boundaries between depth levels
    start = 0
    for end in [*cuts.tolist(), len(order)]:
        idx = order[start:end]
        if d_sorted[start] > 0:
            np.add.at(total, parent[idx], total[idx])
        start = end
    return total


def _overlaps(s: TimeSlice, t0: float, t1: float) -> bool:
    """Half-open overlap of [s.t0, s.t1) with [t0, t1); an instant slice counts at its time."""
    if s.t0 == s.t1:
        return t0 <= s.t0 < t1
    return s.t0 < t1 and s.t1 > t0


def profile_from_stacks(
    stacks: StackSet,
    sample_types: Sequence[SampleType],
    *,
    name: str = "profile",
    source: str = "",
    limits: ProfileLimits | None = None,
) -> Profile:
    """A new profile sharing ``stacks.table`` as its frame table."""
    p = Profile(sample_types, name=name, source=source, frames=stacks.table, limits=limits)
    p.add_stackset(stacks)
    return p


def merge_profiles(profiles: Iterable[Profile], name: str = "merged") -> Profile:
    """Merge profiles with equal sample types (pprof's ``compatible`` rule)."""
    plist = list(profiles)
    if not plist:
        raise ValueError("nothing to merge")
    base = plist[0]
    out = Profile(base.sample_types, name=name, source=base.source, limits=base.limits)
    for p in plist:
        if p.sample_types != base.sample_types:
            a = ", ".join(map(str, base.sample_types))
            b = ", ".join(map(str, p.sample_types))
            raise ValueError(f"incompatible sample types: [{a}] vs [{b}]")
        out.add_stackset(p.to_stackset(labels=True))
    return out


@dataclass(slots=True)
class ProfileBatch:
    """An immutable delta handed from a capture worker to the session."""

    key: ProfileKey  # which profile in the session: (source, target, kind)
    sample_types: tuple[SampleType, ...]
    stacks: StackSet
    t0: float
    t1: float
    source: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    replace: bool = False  # a snapshot (heap in-use) replaces instead of adding
    runtime: str = ""  # python | go | node: which runtime's rules (leak thresholds) apply

    def __post_init__(self) -> None:
        if isinstance(self.key, str):  # a stored text (tests, sessions written before keys were data)
            self.key = ProfileKey.parse(self.key)
        if not self.source:
            self.source = self.key.source

    @property
    def kind(self) -> str:
        """What the batch holds (``keys.CPU``, ``keys.HEAP``, ...): what consumers dispatch on."""
        return self.key.kind
