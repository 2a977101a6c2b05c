"""Flame chart layout: a profile's samples in time order (x = time, y = stack depth), no Qt.

A profile keeps its samples per time slice (``Profile.slices``: the self values each
capture batch added during [t0, t1), coarsened pairwise as a session grows old). The
chart is built from those slices, never from single samples, so it costs the same for a
minute and for an hour:

1. **Columns.** The slices that overlap the view are binned by their start into columns at
   least ``col_px`` pixels wide: slices narrower than a pixel are aggregated, a slice wider
   than a column stays one column. Within a column the samples' order is not known (a
   batch aggregates it away), so a column is laid out like a small icicle: children
   sorted by name under their parent, widths proportional to value.
2. **Scale.** By default every column is full: its boxes share its time by value, so a
   frame's width in a column is its share of that moment's samples. ``fill=FILL_DENSITY``
   instead fills a column in proportion to its value per second against the densest slice
   (idle CPU time becomes a gap at the column's right); the GUI does not use it, because
   with columns as coarse as a capture batch (1-2 s for py-spy) such a gap reads as a
   quiet moment that never happened, and the timeline's CPU chart already shows how busy.
3. **Bottom-up totals, pruned.** Per depth level, deepest first, the distinct (column,
   node) pairs get their inclusive totals (one ``np.unique`` per level); pairs narrower
   than ``min_px`` are dropped once they have passed their value on to their parent, so
   the boxes kept are bounded by what can be drawn, and the working set of one level by
   the profile's slice entries (themselves capped by ``ProfileLimits``).
4. **Top-down positions**, one level at a time (no recursion): a box's start is its
   parent's start plus the widths of its wider siblings before it; a sibling too narrow to
   draw leaves its weight in the gap at the right of its parent, with the parent's self value.
5. **Merging.** Boxes of the same node that touch across a column boundary (within half a
   pixel) become one box, so a frame that stays on the stack reads as one long bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..model.profile import Profile, TimeSlice

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

COL_PX = 2.0  # the narrowest column: one slice per pixel pair, at most width/2 columns
MIN_PX = 1.0  # boxes narrower than this are not drawn
MERGE_PX = 0.5  # boxes of one node closer than this across a column boundary join
FILL_FULL = "full"  # each column full: boxes share its time by value
FILL_DENSITY = "density"  # a column as full as its value per second against the peak


@dataclass(frozen=True, slots=True)
class ChartLayout:
    """Boxes of a flame chart. ``t0``/``t1`` are epoch seconds, ``row`` 0 is depth 1 (the
    root "all" is not drawn), ``value`` the box's inclusive value (summed over merged
    columns) in the chosen sample type. ``columns`` are the column starts, for tests and
    the hover text."""

    node: IntArray
    t0: FloatArray
    t1: FloatArray
    row: IntArray
    value: FloatArray
    columns: FloatArray
    view: tuple[float, float]
    rows: int
    fill: str

    def __len__(self) -> int:
        return int(self.node.shape[0])

    def hit(self, t: float, row: int) -> int:
        """Index of the box covering time ``t`` on ``row``, or -1."""
        m = np.flatnonzero((self.row == row) & (self.t0 <= t) & (self.t1 > t))
        return int(m[-1]) if len(m) else -1


def empty_chart(view: tuple[float, float] = (0.0, 1.0)) -> ChartLayout:
    zi = np.zeros(0, dtype=np.int64)
    zf = np.zeros(0, dtype=np.float64)
    return ChartLayout(zi, zf, zf, zi, zf, zf, view, 0, FILL_FULL)


def time_span(profile: Profile) -> tuple[float, float] | None:
    """First and last time the profile's slices cover (None without slices)."""
    if not profile.slices:
        return None
    lo = min(s.t0 for s in profile.slices)
    hi = max(s.t1 for s in profile.slices)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _durations(slices: list[TimeSlice]) -> FloatArray:
    """Each slice's duration; an instant slice (a snapshot) gets the typical duration."""
    t0 = np.fromiter((s.t0 for s in slices), dtype=np.float64, count=len(slices))
    t1 = np.fromiter((s.t1 for s in slices), dtype=np.float64, count=len(slices))
    d = t1 - t0
    pos = d[d > 0]
    typical = float(np.median(pos)) if len(pos) else 1.0
    out: FloatArray = np.where(d > 0, d, typical)
    return out


def peak_density(profile: Profile, sample_index: int) -> float:
    """The highest value per second of any slice: what a full column stands for."""
    if not profile.slices:
        return 0.0
    dur = _durations(profile.slices)
    sums = np.fromiter(
        (float(s.values[:, sample_index].sum()) for s in profile.slices), dtype=np.float64, count=len(profile.slices)
    )
    return float(np.max(sums / dur))


def chart_layout(
    profile: Profile,
    sample_index: int,
    view: tuple[float, float],
    width_px: float,
    *,
    ranks: IntArray | None = None,
    col_px: float = COL_PX,
    min_px: float = MIN_PX,
    fill: str = FILL_FULL,
    density: float | None = None,
) -> ChartLayout:
    """The boxes of ``profile`` seen through the time range ``view`` at ``width_px`` pixels.

    ``ranks`` orders siblings (frame id -> rank, ``layout.name_ranks``; frame id order if
    None). With ``fill=FILL_DENSITY``, ``density`` is the peak value per second
    (``peak_density``), computed here when not given.
    """
    v0, v1 = float(view[0]), float(view[1])
    if not v1 > v0 or width_px <= 0 or not profile.slices:
        return empty_chart((v0, v1))
    px_per_s = width_px / (v1 - v0)
    slices = profile.slices
    dur = _durations(slices)
    s_t0 = np.fromiter((s.t0 for s in slices), dtype=np.float64, count=len(slices))
    s_t1 = s_t0 + dur
    inside = np.flatnonzero((s_t1 > v0) & (s_t0 < v1))
    if not len(inside):
        return empty_chart((v0, v1))
    order = inside[np.argsort(s_t0[inside], kind="stable")]
    # 1. columns: bins of col_px pixels by slice start; a wide slice is a column of its own
    bins = np.floor((s_t0[order] - v0) * px_per_s / col_px).astype(np.int64)
    new_col = np.ones(len(order), dtype=bool)
    new_col[1:] = bins[1:] != bins[:-1]
    col_of = np.cumsum(new_col) - 1  # column per slice (in ``order``)
    n_cols = int(col_of[-1]) + 1
    firsts = np.flatnonzero(new_col)
    c_start = s_t0[order][firsts]
    c_end = np.maximum.reduceat(s_t1[order], firsts)
    c_end[:-1] = np.minimum(c_end[:-1], c_start[1:])  # a column ends where the next begins
    c_dur = np.maximum(c_end - c_start, 1e-12)
    # the entries (column, node, value) of every slice in view
    in_order = [slices[i] for i in order.tolist()]
    lengths = np.fromiter((len(sl.nodes) for sl in in_order), dtype=np.int64, count=len(in_order))
    nodes = np.concatenate([sl.nodes for sl in in_order]).astype(np.int64)
    vals = np.concatenate([sl.values[:, sample_index] for sl in in_order]).astype(np.float64)
    cols = np.repeat(col_of.astype(np.int64), lengths)
    ok = (vals > 0) & (nodes < profile.n_nodes)
    nodes, vals, cols = nodes[ok], vals[ok], cols[ok]
    if not len(nodes):
        return empty_chart((v0, v1))
    c_value = np.bincount(cols, weights=vals, minlength=n_cols)
    # 2. seconds per value unit in each column
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(c_value > 0, c_dur / c_value, 0.0)
    if fill == FILL_FULL:
        scale = full
    else:
        peak = density if density is not None and density > 0 else peak_density(profile, sample_index)
        scale = np.minimum(full, 1.0 / peak) if peak > 0 else full
    # the least value a box needs to be min_px wide, per column
    with np.errstate(divide="ignore"):
        v_min = np.where(scale > 0, min_px / (scale * px_per_s), np.inf)
    # 3. bottom-up: inclusive totals per (column, node), one depth level at a time
    par = profile.parent.astype(np.int64)
    dep = profile.depth.astype(np.int64)
    frame = profile.frame.astype(np.int64)
    ranks_arr = ranks if ranks is not None else np.arange(max(len(profile.frames), 1), dtype=np.int64)
    n = int(profile.n_nodes)
    keys_all = cols * n + nodes
    d_all = dep[nodes]
    max_d = int(d_all.max())
    lvl_order = np.argsort(d_all, kind="stable")
    bounds = np.searchsorted(d_all[lvl_order], np.arange(max_d + 2), side="left")

    def level(d: int, carry_k: IntArray, carry_v: FloatArray) -> tuple[IntArray, FloatArray, IntArray]:
        """Distinct (column, node) keys of depth ``d``, their inclusive totals, and where
        each carried key went."""
        idx = lvl_order[bounds[d] : bounds[d + 1]]
        k = np.concatenate([carry_k, keys_all[idx]])
        v = np.concatenate([carry_v, vals[idx]])
        uk, inv = np.unique(k, return_inverse=True)
        inv = inv.astype(np.int64)
        return uk.astype(np.int64), np.bincount(inv, weights=v, minlength=len(uk)), inv[: len(carry_k)]

    kept: list[tuple[IntArray, IntArray, IntArray, FloatArray] | None] = [None] * (max_d + 1)
    cur_k, cur_v, _ = level(max_d, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    for d in range(max_d, 0, -1):
        col = cur_k // n
        node = cur_k % n
        pkey = col * n + par[node]
        if d > 1:
            par_k, par_v, at = level(d - 1, pkey, cur_v)
            under_wide = par_v[at] >= v_min[col]
        else:
            par_k, par_v = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
            under_wide = np.ones(len(cur_k), dtype=bool)  # the column roots
        # only the children of drawable parents matter; narrow ones hold their place in
        # sibling order (as one placeholder per run) so the wide ones stay where they belong
        sel = np.flatnonzero(under_wide)
        if len(sel):
            col, node, pkey, tot = col[sel], node[sel], pkey[sel], cur_v[sel]
            fr = frame[node]
            rank = np.where(fr >= 0, ranks_arr[np.clip(fr, 0, len(ranks_arr) - 1)], -1)
            o = np.lexsort((node, rank, pkey))
            col, node, pkey, tot = col[o], node[o], pkey[o], tot[o]
            wide = tot >= v_min[col]
            run = np.ones(len(o), dtype=bool)
            run[1:] = wide[1:] | wide[:-1] | (pkey[1:] != pkey[:-1])
            starts = np.flatnonzero(run)
            tot = np.add.reduceat(tot, starts)
            node = np.where(wide[starts], node[starts], -1)
            kept[d] = (pkey[starts], col[starts], node, tot)
        cur_k, cur_v = par_k, par_v
    # 4. top-down: a box starts where its parent starts plus the siblings before it
    prev_keys = np.arange(n_cols, dtype=np.int64) * n  # the column roots (node 0)
    prev_x = c_start.copy()
    out_n: list[IntArray] = []
    out_x: list[FloatArray] = []
    out_w: list[FloatArray] = []
    out_v: list[FloatArray] = []
    out_r: list[IntArray] = []
    for d in range(1, max_d + 1):
        lv = kept[d]
        if lv is None or not len(prev_keys):
            break  # nothing this deep is wide enough, so nothing deeper is either
        pkey, col, node, tot = lv
        pos = np.minimum(np.searchsorted(prev_keys, pkey), len(prev_keys) - 1)
        hp = prev_keys[pos] == pkey  # drawn parents only
        pkey, col, node, tot, pos = pkey[hp], col[hp], node[hp], tot[hp], pos[hp]
        w = tot * scale[col]
        csum = np.cumsum(w)
        first = np.ones(len(pkey), dtype=bool)
        first[1:] = pkey[1:] != pkey[:-1]
        gstart = np.maximum.accumulate(np.where(first, np.arange(len(pkey)), 0))
        x = prev_x[pos] + (csum - w) - (csum[gstart] - w[gstart])
        real = node >= 0
        node, x, w, tot, col = node[real], x[real], w[real], tot[real], col[real]
        out_n.append(node)
        out_x.append(x)
        out_w.append(w)
        out_v.append(tot)
        out_r.append(np.full(len(node), d - 1, dtype=np.int64))
        k = col * n + node
        sk = np.argsort(k, kind="stable")
        prev_keys, prev_x = k[sk], x[sk]
    if not out_n:
        empty = empty_chart((v0, v1))
        return ChartLayout(empty.node, empty.t0, empty.t1, empty.row, empty.value, c_start, (v0, v1), 0, fill)
    node_a = np.concatenate(out_n)
    x_a = np.concatenate(out_x)
    w_a = np.concatenate(out_w)
    v_a = np.concatenate(out_v)
    r_a = np.concatenate(out_r)
    merged = _merged(node_a, x_a, x_a + w_a, r_a, v_a, gap=MERGE_PX / px_per_s)
    rows = int(merged[3].max()) + 1 if len(merged[3]) else 0
    return ChartLayout(*merged, c_start, (v0, v1), rows, fill)


def _merged(
    node: IntArray, t0: FloatArray, t1: FloatArray, row: IntArray, value: FloatArray, *, gap: float
) -> tuple[IntArray, FloatArray, FloatArray, IntArray, FloatArray]:
    """Join boxes of one node that touch (within ``gap`` seconds) across column boundaries."""
    if len(node) == 0:
        return node, t0, t1, row, value
    o = np.lexsort((t0, node))
    node, t0, t1, row, value = node[o], t0[o], t1[o], row[o], value[o]
    start = np.ones(len(node), dtype=bool)
    start[1:] = (node[1:] != node[:-1]) | (t0[1:] - t1[:-1] > gap)
    idx = np.flatnonzero(start)
    end_t = np.maximum.reduceat(t1, idx)
    vsum = np.add.reduceat(value, idx)
    return node[idx], t0[idx], end_t, row[idx], vsum
