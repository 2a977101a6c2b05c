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
from .treeops import AnalysisError, nonzero_nodes, stack_ids, unique_ints

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
    ss = profile.paths(nodes)
    sid = stack_ids(ss)
    g = groups[ss.frames]
    # one (stack, frame) pair per recursion: a frame recurring in a stack counts once
    keys = sid * n_frames + g
    uniq = unique_ints(keys)
    np.add.at(total_v, uniq % n_frames, ss.values[uniq // n_frames])
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
