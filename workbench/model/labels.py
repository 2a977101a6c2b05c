"""Sample labels (pprof's ``Sample.label``, e.g. Go's ``pprof.Do`` ``endpoint=/slow``).

A profile's call tree holds values per node; labels say which of those values came from
samples with which label set. They live beside the tree, not in it, so every view that
ignores labels reads the profile exactly as before:

- ``LabelTable`` interns label sets (sorted ``(key, value)`` pairs; a numeric label is
  kept as its decimal text). It is capped: sets past ``MAX_LABEL_SETS`` fold into one
  marker set, so a label per request id cannot grow it without bound.
- ``LabelStore`` holds ``(node, set) -> values`` entries, aggregated, capped at
  ``MAX_LABEL_ENTRIES`` (past it, new entries are dropped and counted). Values not covered
  by an entry are unlabelled. Its arrays are replaced, never written in place, so a
  profile copy can share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

LabelSet = tuple[tuple[str, str], ...]

MAX_LABEL_SETS = 1024
MAX_LABEL_ENTRIES = 262_144
MAX_LABEL_TEXT = 256  # a key or value longer than this is cut (labels are untrusted input)
OVERFLOW_KEY = "[labels]"
OVERFLOW_SET: LabelSet = ((OVERFLOW_KEY, "[too many label sets]"),)


def make_set(pairs: Iterable[tuple[str, str]]) -> LabelSet:
    """A label set from ``(key, value)`` pairs: cut to size, sorted, one value per key (the last)."""
    d = {k[:MAX_LABEL_TEXT]: v[:MAX_LABEL_TEXT] for k, v in pairs}
    return tuple(sorted(d.items()))


class LabelTable:
    """Append-only intern table of label sets; ids are dense ints."""

    def __init__(self, max_sets: int = MAX_LABEL_SETS) -> None:
        self.max_sets = max_sets
        self._sets: list[LabelSet] = []
        self._ids: dict[LabelSet, int] = {}
        self.overflowed = 0  # interns folded into OVERFLOW_SET

    def intern(self, labels: LabelSet) -> int:
        got = self._ids.get(labels)
        if got is not None:
            return got
        if len(self._sets) >= self.max_sets:
            self.overflowed += 1
            labels = OVERFLOW_SET
            got = self._ids.get(labels)
            if got is not None:
                return got
        lid = len(self._sets)
        self._sets.append(labels)
        self._ids[labels] = lid
        return lid

    def __getitem__(self, lid: int) -> LabelSet:
        return self._sets[lid]

    def __len__(self) -> int:
        return len(self._sets)

    def keys(self) -> list[str]:
        return sorted({k for s in self._sets for k, _v in s})

    def value_of(self, lid: int, key: str) -> str | None:
        for k, v in self._sets[lid]:
            if k == key:
                return v
        return None


@dataclass(slots=True)
class LabelStore:
    """Labelled values per (node, label set): sorted by (node, set), duplicates merged."""

    table: LabelTable = field(default_factory=LabelTable)
    nodes: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    values: FloatArray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float64))
    max_entries: int = MAX_LABEL_ENTRIES
    dropped: int = 0  # entries not kept because the store was full

    def add(self, nodes: IntArray, ids: IntArray, values: FloatArray) -> None:
        """Add labelled values (``ids`` index this store's table)."""
        keep = ids >= 0
        if not keep.any():
            return
        nodes, ids, values = nodes[keep], ids[keep], values[keep]
        if len(self.nodes) == 0:
            self.values = np.zeros((0, values.shape[1]), dtype=np.float64)
        all_n = np.concatenate([self.nodes, nodes.astype(np.int64)])
        all_i = np.concatenate([self.ids, ids.astype(np.int64)])
        all_v = np.concatenate([self.values, values.astype(np.float64)])
        key = (all_n << 20) | all_i  # sets are < 2**20 (MAX_LABEL_SETS is far below)
        uniq, inv = np.unique(key, return_inverse=True)
        if len(uniq) > self.max_entries:
            # keep what is there; new (node, set) pairs past the cap are dropped and counted
            old = np.unique((self.nodes << 20) | self.ids)
            room = self.max_entries - len(old)
            new_keys = np.setdiff1d(uniq, old)
            allowed = np.concatenate([old, new_keys[: max(room, 0)]])
            self.dropped += len(new_keys) - max(room, 0)
            ok = np.isin(key, allowed)
            key, all_v = key[ok], all_v[ok]
            uniq, inv = np.unique(key, return_inverse=True)
        agg = np.zeros((len(uniq), all_v.shape[1]), dtype=np.float64)
        np.add.at(agg, inv.reshape(-1), all_v)
        self.nodes, self.ids, self.values = uniq >> 20, uniq & ((1 << 20) - 1), agg

    def copy(self) -> LabelStore:
        """A copy sharing the arrays (never written in place) and the append-only table."""
        return LabelStore(self.table, self.nodes, self.ids, self.values, self.max_entries, self.dropped)

    def per_node(self, n_nodes: int) -> FloatArray:
        """Labelled value per node (n_nodes x k): what is left of a node's self is unlabelled."""
        out = np.zeros((n_nodes, self.values.shape[1]), dtype=np.float64)
        np.add.at(out, self.nodes, self.values)
        return out

    def __len__(self) -> int:
        return len(self.nodes)
