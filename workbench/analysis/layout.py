"""Flame graph layout in flat numpy arrays: where each box goes, without Qt.

Two stages, so zoom and pan never redo the expensive part:

1. ``absolute_layout`` (once per profile version, sample type and sort order): every
   node gets ``x`` (start, in value units) and ``w`` (its total) inside its parent, with
   siblings ordered by name like flamegraph.pl (stable while data grows live) or by size.
   Positions are propagated one depth level at a time, never by recursion.
2. ``view_layout`` (per zoom root, horizontal viewport and pixel width): keeps the zoom
   root's ancestors as full-width rows and its descendants scaled to the viewport; boxes
   narrower than ``min_px`` are not drawn, and each run of adjacent narrow siblings becomes
   one "(n more)" box so the hidden weight stays visible. Bounded by construction: a row
   holds at most ``width_px / min_px`` boxes.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..model.frames import FrameTable
from ..model.profile import Profile

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SORT_NAME = "name"
SORT_SIZE = "size"
MAX_PATTERN_LEN = 1000  # a search regex is user input; keep compile cost bounded


def name_ranks(frames: FrameTable) -> IntArray:
    """Rank of each frame id when sorted by (function, file, line): the flamegraph.pl order."""
    n = len(frames)
    keys = [(f.function, f.file, f.line) for f in frames]
    order = sorted(range(n), key=keys.__getitem__)
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(n, dtype=np.int64)
    return ranks


def _frame_key(frames: FrameTable, fid: int) -> tuple[str, str, int]:
    f = frames[fid]
    return (f.function, f.file, f.line)


class NameRankCache:
    """Name ranks of an append-only frame table, updated incrementally as it grows.

    Live capture adds a few frames per batch to a table that may hold a million: new
    frames are inserted into the kept sorted order by binary search instead of
    re-sorting every name on each refresh.
    """

    def __init__(self) -> None:
        self._table: FrameTable | None = None
        self._keys: list[tuple[str, str, int]] = []  # sorted
        self._order: IntArray = np.zeros(0, dtype=np.int64)  # frame ids in sorted order
        self._ranks: IntArray = np.zeros(0, dtype=np.int64)

    def get(self, frames: FrameTable) -> IntArray:
        n = len(frames)
        have = len(self._ranks) if frames is self._table else -1
        if have == n:
            return self._ranks
        if have < 0 or n - have > max(64, n // 8):
            keys = [_frame_key(frames, i) for i in range(n)]
            order = sorted(range(n), key=keys.__getitem__)
            self._keys = [keys[i] for i in order]
            self._order = np.asarray(order, dtype=np.int64)
        else:
            new_ids = list(range(have, n))
            positions = []
            for fid in new_ids:
                key = _frame_key(frames, fid)
                pos = bisect.bisect_right(self._keys, key)
                self._keys.insert(pos, key)
                positions.append(pos)
            # the same positions in the same sequence as the key inserts keep both lists aligned
            order = self._order.tolist()
            for fid, pos in zip(new_ids, positions, strict=True):
                order.insert(pos, fid)
            self._order = np.asarray(order, dtype=np.int64)
        self._table = frames
        ranks = np.empty(n, dtype=np.int64)
        ranks[self._order] = np.arange(n, dtype=np.int64)
        self._ranks = ranks
        return ranks


@dataclass(frozen=True, slots=True)
class AbsoluteLayout:
    """Zoom-independent positions of every node (value units; the root spans [0, w[0]))."""

    x: FloatArray
    w: FloatArray
    depth: IntArray
    parent: IntArray
    sib_pos: IntArray  # position among its siblings in the chosen order
    max_depth: int

    @property
    def n_nodes(self) -> int:
        return int(self.x.shape[0])

    def ancestors(self, node: int) -> list[int]:
        """Root-first ancestors of ``node`` (excluded), by a loop over parents."""
        out: list[int] = []
        cur = int(self.parent[node]) if node > 0 else -1
        while cur >= 0:
            out.append(cur)
            cur = int(self.parent[cur]) if cur > 0 else -1
        out.reverse()
        return out

    def descendants_mask(self, node: int) -> BoolArray:
        """Nodes strictly below ``node`` with weight: exactly those nested in its interval."""
        x0 = self.x[node]
        x1 = x0 + self.w[node]
        out: BoolArray = (self.depth > self.depth[node]) & (self.w > 0) & (self.x >= x0) & (self.x < x1)
        return out


def absolute_layout(
    parent: npt.ArrayLike,
    depth: npt.ArrayLike,
    weight: npt.ArrayLike,
    sort_key: npt.ArrayLike,
    *,
    by_size: bool = False,
) -> AbsoluteLayout:
    """Lay out a prefix tree given per-node total ``weight`` (>= 0) and a per-node sort key.

    ``parent[i] < i`` for every non-root node (the model's invariant). Children are packed
    left to right from their parent's start; a parent's self value is the gap at its right.
    """
    par = np.asarray(parent, dtype=np.int64)
    dep = np.asarray(depth, dtype=np.int64)
    w = np.maximum(np.asarray(weight, dtype=np.float64), 0.0)
    key = np.asarray(sort_key, dtype=np.int64)
    n = int(par.shape[0])
    x = np.zeros(n, dtype=np.float64)
    sib_pos = np.zeros(n, dtype=np.int64)
    if n <= 1:
        return AbsoluteLayout(x, w, dep, par, sib_pos, 0)
    kids = np.arange(1, n, dtype=np.int64)
    kp = par[1:]
    if by_size:
        order = np.lexsort((key[1:], -w[1:], kp))
    else:
        # one int64 sort on (parent, key) packed is ~3x faster than lexsort on two columns
        k = key[1:] - key[1:].min() if n > 1 else key[1:]
        order = np.argsort((kp << 32) | k, kind="stable")
    sorted_nodes = kids[order]
    sorted_par = kp[order]
    sorted_w = w[sorted_nodes]
    csum = np.cumsum(sorted_w)
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_par[1:] != sorted_par[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    base = csum[group_start] - sorted_w[group_start]
    offset = np.empty(n, dtype=np.float64)
    offset[0] = 0.0
    offset[sorted_nodes] = csum - sorted_w - base
    sib_pos[sorted_nodes] = np.arange(len(order)) - group_start
    # propagate parent starts level by level (a loop over depth, not recursion)
    # depths are small: as int16 numpy's stable sort is a radix sort, ~10x faster than on int64
    small = dep.astype(np.int16) if int(dep.max()) < np.iinfo(np.int16).max else dep
    by_depth = np.argsort(small, kind="stable")
    d_sorted = dep[by_depth]
    max_depth = int(d_sorted[-1])
    bounds = np.searchsorted(d_sorted, np.arange(max_depth + 2), side="left")
    for d in range(1, max_depth + 1):
        idx = by_depth[bounds[d] : bounds[d + 1]]
        x[idx] = x[par[idx]] + offset[idx]
    return AbsoluteLayout(x, w, dep, par, sib_pos, max_depth)


def profile_layout(
    profile: Profile, sample_index: int = 0, *, by_size: bool = False, ranks: IntArray | None = None
) -> AbsoluteLayout:
    """``absolute_layout`` of a profile for one sample type, siblings by name (or size)."""
    if ranks is None:
        ranks = name_ranks(profile.frames)
    frame = profile.frame.astype(np.int64)
    key = np.where(frame >= 0, ranks[np.maximum(frame, 0)] if len(ranks) else 0, -1)
    weight = profile.total_values()[:, sample_index]
    return absolute_layout(profile.parent, profile.depth, weight, key, by_size=by_size)


@dataclass(frozen=True, slots=True)
class ViewLayout:
    """Boxes to draw. ``x``/``w`` are fractions of the widget width, ``row`` 0 is the root row.

    ``node`` is -1 for a merged "(n more)" box; ``more`` holds how many nodes it stands for.
    ``context`` marks the zoom root's ancestors (drawn full width, dimmed).
    """

    node: IntArray
    x: FloatArray
    w: FloatArray
    row: IntArray
    more: IntArray
    context: BoolArray
    rows: int

    def __len__(self) -> int:
        return int(self.node.shape[0])

    def hit(self, fx: float, row: int) -> int:
        """Index of the box at fraction ``fx`` on ``row``, or -1."""
        m = np.flatnonzero((self.row == row) & (self.x <= fx) & (self.x + self.w > fx))
        return int(m[-1]) if len(m) else -1


def _empty_view() -> ViewLayout:
    z = np.zeros(0, dtype=np.int64)
    return ViewLayout(z, np.zeros(0), np.zeros(0), z, z, np.zeros(0, dtype=bool), 0)


def view_layout(
    lay: AbsoluteLayout,
    root: int = 0,
    *,
    width_px: float = 1000.0,
    min_px: float = 1.0,
    view: tuple[float, float] = (0.0, 1.0),
) -> ViewLayout:
    """Boxes for zoom root ``root`` seen through horizontal ``view`` (fractions of the root)."""
    if lay.n_nodes == 0 or root >= lay.n_nodes or lay.w[root] <= 0:
        return _empty_view()
    v0, v1 = view
    span = max(v1 - v0, 1e-12)
    rw = float(lay.w[root])
    rx = float(lay.x[root])
    px_per_unit = width_px / (rw * span)
    anc = np.asarray([*lay.ancestors(root), root], dtype=np.int64)
    desc = np.flatnonzero(lay.descendants_mask(root))
    fx = (lay.x[desc] - rx) / rw
    fw = lay.w[desc] / rw
    # cull what lies outside the viewport before anything else
    inside = (fx + fw > v0) & (fx < v1)
    desc, fx, fw = desc[inside], fx[inside], fw[inside]
    wide = fw * rw * px_per_unit >= min_px
    # a narrow node's descendants are narrower still; only narrow children of shown parents matter
    shown = np.zeros(lay.n_nodes, dtype=bool)
    shown[anc[-1]] = True
    shown[desc[wide]] = True
    narrow = desc[~wide]
    narrow = narrow[shown[lay.parent[narrow]]]
    # merge runs of adjacent narrow siblings
    m_nodes = np.zeros(0, dtype=np.int64)
    m_x = np.zeros(0)
    m_w = np.zeros(0)
    m_cnt = np.zeros(0, dtype=np.int64)
    m_row = np.zeros(0, dtype=np.int64)
    if len(narrow):
        o = np.lexsort((lay.sib_pos[narrow], lay.parent[narrow]))
        nn = narrow[o]
        p = lay.parent[nn]
        sp = lay.sib_pos[nn]
        start = np.ones(len(nn), dtype=bool)
        start[1:] = (p[1:] != p[:-1]) | (sp[1:] != sp[:-1] + 1)
        idx = np.flatnonzero(start)
        run_w = np.add.reduceat(lay.w[nn], idx)
        run_cnt = np.diff(np.append(idx, len(nn)))
        keep = run_w * px_per_unit >= min_px
        m_nodes = nn[idx[keep]]
        m_x = (lay.x[m_nodes] - rx) / rw
        m_w = run_w[keep] / rw
        m_cnt = run_cnt[keep].astype(np.int64)
        m_row = lay.depth[m_nodes]
    wide_nodes = desc[wide]
    n_anc = len(anc)
    node = np.concatenate([anc, wide_nodes, np.full(len(m_nodes), -1, dtype=np.int64)])
    xs = np.concatenate([np.zeros(n_anc), fx[wide], m_x])
    ws = np.concatenate([np.ones(n_anc), fw[wide], m_w])
    rows = np.concatenate([lay.depth[anc], lay.depth[wide_nodes], m_row])
    more = np.concatenate([np.zeros(n_anc + len(wide_nodes), dtype=np.int64), m_cnt])
    context = np.zeros(len(node), dtype=bool)
    context[: n_anc - 1] = True
    # to viewport fractions
    xs = (xs - v0) / span
    ws = ws / span
    xs[:n_anc] = 0.0
    ws[:n_anc] = 1.0
    n_rows = int(rows.max()) + 1 if len(rows) else 0
    return ViewLayout(node, xs, ws, rows.astype(np.int64), more, context, n_rows)


def compile_search(pattern: str) -> re.Pattern[str] | None:
    """A case-insensitive regex, or ``None`` for an empty pattern; raises ``re.error``."""
    if not pattern:
        return None
    return re.compile(pattern[:MAX_PATTERN_LEN], re.IGNORECASE)


def match_frames(frames: FrameTable, rx: re.Pattern[str], start: int = 0) -> BoolArray:
    """Which frame ids from ``start`` on match ``rx`` on their function name or ``file:line`` label."""
    n = len(frames)
    out = np.zeros(max(n - start, 0), dtype=bool)
    for i in range(start, n):
        f = frames[i]
        if rx.search(f.function) or (f.file and rx.search(f.label())):
            out[i - start] = True
    return out


def node_matches(frame: npt.ArrayLike, frame_match: BoolArray) -> BoolArray:
    fr = np.asarray(frame, dtype=np.int64)
    out = np.zeros(fr.shape[0], dtype=bool)
    valid = fr >= 0
    if len(frame_match):
        out[valid] = frame_match[np.minimum(fr[valid], len(frame_match) - 1)]
    return out


def matched_weight(lay: AbsoluteLayout, mask: BoolArray) -> float:
    """Weight covered by matching nodes, each sample counted once (union of their intervals)."""
    m = np.flatnonzero(mask & (lay.w > 0))
    if not len(m):
        return 0.0
    start = lay.x[m]
    end = start + lay.w[m]
    o = np.argsort(start, kind="stable")
    start, end = start[o], end[o]
    reach = np.maximum.accumulate(end)
    new_seg = np.ones(len(m), dtype=bool)
    new_seg[1:] = start[1:] >= reach[:-1]
    seg_idx = np.flatnonzero(new_seg)
    seg_end_reach = np.append(reach[seg_idx[1:] - 1], reach[-1])
    return float(np.sum(seg_end_reach - start[seg_idx]))


def node_path(profile: Profile, node: int) -> list[int]:
    """Root-first frame ids leading to ``node``: a zoom path that survives live growth."""
    out: list[int] = []
    par = profile.parent
    fr = profile.frame
    while node > 0:
        out.append(int(fr[node]))
        node = int(par[node])
    out.reverse()
    return out


def resolve_path(profile: Profile, path: list[int]) -> int:
    """Deepest node reachable along ``path`` (0 if none): re-finds the zoom after an update."""
    node = 0
    for fid in path:
        nxt = profile.child(node, fid)
        if nxt is None:
            break
        node = nxt
    return node
