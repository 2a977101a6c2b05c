"""Diff of two profiles on one union tree (pprof's ``-diff_base``: delta = new minus base).

With ``normalize`` the new profile is scaled so its total equals the base's per sample
type, as pprof's ``-normalize`` does, so two windows of different length compare by
share rather than by amount.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..model.frames import FrameTable
from ..model.profile import Profile, StackSet
from .treeops import AnalysisError, subtree_sums, with_table

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DiffResult:
    """Per-node arrays (n_nodes x k) over ``profile``, the union of both trees.

    ``profile``'s own self values are ``max(base_self, new_self)`` so that a node present
    in only one side is still visible when the tree is drawn; colour by ``delta_total``.
    """

    profile: Profile
    base_self: FloatArray
    new_self: FloatArray  # scaled by ``scale`` when normalised
    base_total: FloatArray
    new_total: FloatArray
    scale: FloatArray  # (k,) factor applied to the new profile's values

    @property
    def delta_self(self) -> FloatArray:
        return self.new_self - self.base_self

    @property
    def delta_total(self) -> FloatArray:
        return self.new_total - self.base_total


def _check_compatible(base: Profile, new: Profile) -> None:
    if base.sample_types != new.sample_types:
        a = ", ".join(map(str, base.sample_types))
        b = ", ".join(map(str, new.sample_types))
        raise AnalysisError(
            f"cannot diff profiles with different sample types: base [{a}] vs new [{b}]",
            "diff two profiles of the same kind (e.g. two CPU profiles)",
        )


def _skeleton(ss: StackSet) -> StackSet:
    return StackSet(ss.table, ss.frames, ss.offsets, np.zeros_like(ss.values))


def diff(base: Profile, new: Profile, normalize: bool = True) -> DiffResult:
    _check_compatible(base, new)
    k = len(new.sample_types)
    # two windows of one profile share its table; otherwise a fresh one with just the used frames
    table = new.frames if base.frames is new.frames else FrameTable()
    out = Profile(new.sample_types, name=f"{new.name} vs {base.name}", source=new.source, frames=table)
    out.limits = new.limits
    out.default_sample_type = new.default_sample_type
    out.period, out.period_type = new.period, new.period_type
    b_ss = with_table(base.to_stackset(), table)
    n_ss = with_table(new.to_stackset(), table)
    # build the union shape with zero values first, then place each side's values
    b_leaves = out.add_stackset(_skeleton(b_ss))
    n_leaves = out.add_stackset(_skeleton(n_ss))
    n = out.n_nodes
    base_self = np.zeros((n, k), dtype=np.float64)
    new_self = np.zeros((n, k), dtype=np.float64)
    np.add.at(base_self, b_leaves, b_ss.values)
    np.add.at(new_self, n_leaves, n_ss.values)
    scale = np.ones(k, dtype=np.float64)
    if normalize:
        bt = base_self.sum(axis=0)
        nt = new_self.sum(axis=0)
        ok = (bt != 0) & (nt != 0)
        scale[ok] = bt[ok] / nt[ok]
        new_self *= scale
    out.add_node_values(np.arange(n, dtype=np.int64), np.maximum(base_self, new_self))
    return DiffResult(
        profile=out,
        base_self=base_self,
        new_self=new_self,
        base_total=subtree_sums(out, base_self),
        new_total=subtree_sums(out, new_self),
        scale=scale,
    )
