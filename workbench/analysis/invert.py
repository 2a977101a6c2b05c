"""Invert: the bottom-up tree, where the roots are the leaf functions that burned the value."""

from __future__ import annotations

from ..model.profile import Profile
from .treeops import nonzero_nodes, rebuild, reverse_stacks


def invert(profile: Profile) -> Profile:
    """Every stack reversed (leaf first). Totals are unchanged; time slices follow their samples."""
    nodes = nonzero_nodes(profile)
    return rebuild(profile, reverse_stacks(profile.paths(nodes)), nodes)
