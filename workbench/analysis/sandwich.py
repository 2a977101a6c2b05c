"""Sandwich view of one frame: who calls it (callers) and what it calls (callees).

Both count a recursive frame once per stack, so the root's total equals the frame's
total in the top table. Callees start at the outermost occurrence (inner recursive
calls appear below it); callers end at the innermost occurrence and are inverted, so
the frame is the root and its direct callers are its children.
"""

from __future__ import annotations

import numpy as np

from ..model.profile import Profile, StackSet
from .treeops import IntArray, nonzero_nodes, rebuild, reverse_stacks, select_positions, select_stacks, stack_ids


def _occurrences(profile: Profile, frame_id: int) -> tuple[StackSet, IntArray, IntArray, IntArray]:
    """Stacks containing ``frame_id`` with their nodes, and the first/last position of it in each."""
    nodes = nonzero_nodes(profile)
    ss = profile.paths(nodes)
    sid = stack_ids(ss)
    hit = np.flatnonzero(ss.frames == frame_id)
    n = len(ss)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    np.minimum.at(first, sid[hit], hit)
    np.maximum.at(last, sid[hit], hit)
    return ss, nodes, first, last


def callees(profile: Profile, frame_id: int) -> Profile:
    """A tree rooted at ``frame_id``: every stack through it, cut above its outermost call."""
    ss, nodes, first, last = _occurrences(profile, frame_id)
    sid = stack_ids(ss)
    pos = np.arange(len(ss.frames), dtype=np.int64)
    keep_pos = (last[sid] >= 0) & (pos >= first[sid])
    cut = select_positions(ss, keep_pos)
    has = last >= 0
    return rebuild(profile, select_stacks(cut, has), nodes[has])


def callers(profile: Profile, frame_id: int) -> Profile:
    """An inverted tree rooted at ``frame_id``: its callers, callers' callers, and so on."""
    ss, nodes, _first, last = _occurrences(profile, frame_id)
    sid = stack_ids(ss)
    pos = np.arange(len(ss.frames), dtype=np.int64)
    keep_pos = pos <= last[sid]
    cut = select_positions(ss, keep_pos)
    has = last >= 0
    return rebuild(profile, reverse_stacks(select_stacks(cut, has)), nodes[has])
