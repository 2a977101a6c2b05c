"""Slicing a profile by its sample labels (pprof's ``-tagfocus``/``-tagignore``, ``-tagroot``).

Filters follow pprof: ``key=regex1,regex2`` matches a sample that has label ``key`` with a
value any of the regexes finds (searched, not anchored; the comma is "or"); a bare
``regex1,regex2`` matches a sample with any label value they find. ``tagfocus`` keeps
the matching samples (unlabelled ones never match), ``tagignore`` drops them. pprof's
numeric ranges (``bytes=1mb:``) are not supported: a numeric label is matched as text.

Grouping puts one ``key=value`` frame at the root of every stack (``key=(none)`` for
samples without that label), as pprof's ``-tagroot`` does, so the flame graph's first row
is the label's values and every exporter keeps them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model.frames import Frame, Runtime
from ..model.labels import LabelSet
from ..model.profile import Profile, StackSet
from .treeops import AnalysisError, fork_table

NONE_VALUE = "(none)"


@dataclass(frozen=True, slots=True)
class TagFilter:
    key: str  # "" matches any key
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, labels: LabelSet) -> bool:
        return any((not self.key or k == self.key) and any(p.search(v) for p in self.patterns) for k, v in labels)


def parse_tag_filter(spec: str) -> TagFilter:
    """``key=regex[,regex...]`` or ``regex[,regex...]`` (pprof's ``-tagfocus`` syntax)."""
    key, sep, rest = spec.partition("=")
    if not sep:
        key, rest = "", spec
    elif not key:
        raise AnalysisError(f"bad tag filter {spec!r}: no label key before '='", "write KEY=REGEX, e.g. endpoint=/slow")
    parts = [p for p in rest.split(",") if p]
    if not parts:
        raise AnalysisError(f"bad tag filter {spec!r}: no value pattern", "write KEY=REGEX, e.g. endpoint=/slow")
    try:
        return TagFilter(key, tuple(re.compile(p) for p in parts))
    except re.error as exc:
        raise AnalysisError(f"bad tag filter {spec!r}: {exc}", "fix the regular expression") from None


def label_keys(profile: Profile) -> list[str]:
    return [] if profile.labels is None else profile.labels.table.keys()


def label_values(profile: Profile, key: str) -> list[str]:
    """The values of ``key`` present in the profile, heaviest (default sample type) first."""
    st = profile.labels
    if st is None:
        return []
    weight: dict[str, float] = {}
    si = profile.default_sample_type
    for lid, v in zip(st.ids.tolist(), st.values[:, si].tolist(), strict=True):
        val = st.table.value_of(lid, key)
        if val is not None:
            weight[val] = weight.get(val, 0.0) + v
    return sorted(weight, key=lambda x: (-weight[x], x))


def _rebuild(profile: Profile, keep_set: Callable[[LabelSet], bool], keep_unlabelled: bool) -> Profile:
    """A new profile of the samples whose label set passes ``keep_set`` (and the unlabelled
    rest if ``keep_unlabelled``); labels are kept."""
    ss = profile.to_stackset(labels=True)
    ids = ss.label_ids if ss.label_ids is not None else np.full(len(ss), -1, dtype=np.int64)
    table = ss.label_table
    verdict = np.array([keep_set(table[i]) for i in range(len(table))] if table is not None else [], dtype=bool)
    keep = np.where(ids >= 0, verdict[np.maximum(ids, 0)] if verdict.size else False, keep_unlabelled)
    out = profile.empty_like()
    out.time_start, out.time_end, out.duration_ns = profile.time_start, profile.time_end, profile.duration_ns
    idx = np.flatnonzero(keep)
    if idx.size:
        lengths = np.diff(ss.offsets)[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        shift = np.repeat(ss.offsets[:-1][idx] - offsets[:-1], lengths)
        flat = ss.frames[np.arange(int(offsets[-1]), dtype=np.int64) + shift]
        out.add_stackset(StackSet(ss.table, flat, offsets, ss.values[idx], ids[idx], table))
    return out


def tag_filter(profile: Profile, focus: list[str] | None = None, ignore: list[str] | None = None) -> Profile:
    """pprof's ``-tagfocus``/``-tagignore``: every ``focus`` filter must match, no ``ignore`` one may."""
    fs = [parse_tag_filter(s) for s in focus or []]
    ig = [parse_tag_filter(s) for s in ignore or []]
    if not fs and not ig:
        return profile

    def keep(labels: LabelSet) -> bool:
        return all(f.matches(labels) for f in fs) and not any(f.matches(labels) for f in ig)

    return _rebuild(profile, keep, keep_unlabelled=not fs)


def group_by_label(profile: Profile, key: str) -> Profile:
    """Every stack under a root frame ``key=value`` (``key=(none)`` without that label)."""
    ss = profile.to_stackset(labels=True)
    table = ss.label_table
    ids = ss.label_ids if ss.label_ids is not None else np.full(len(ss), -1, dtype=np.int64)
    # a copy with the same ids: the label frames must not grow a live session's shared table
    # (capture threads intern into it; a view regroups several times a second)
    frames = fork_table(profile.frames)
    none_fid = frames.intern(label_frame(key, NONE_VALUE))
    per_set = np.array(
        [
            frames.intern(label_frame(key, v)) if (v := table.value_of(i, key)) is not None else none_fid
            for i in range(len(table))
        ]
        if table is not None
        else [],
        dtype=np.int64,
    )
    roots = np.where(ids >= 0, per_set[np.maximum(ids, 0)] if per_set.size else none_fid, none_fid)
    n = len(ss)
    lengths = np.diff(ss.offsets) + 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=np.int64)
    flat[offsets[:-1]] = roots
    body = np.ones(len(flat), dtype=bool)
    body[offsets[:-1]] = False
    flat[body] = ss.frames
    out = profile.empty_like()
    out.frames = frames
    out.time_start, out.time_end, out.duration_ns = profile.time_start, profile.time_end, profile.duration_ns
    out.add_stackset(StackSet(frames, flat, offsets, ss.values, ids, table))
    return out


def label_frame(key: str, value: str) -> Frame:
    """The pseudo-frame of one label value (as the pprof reader's ``label_roots`` names it)."""
    return Frame(f"{key}={value}", module="label", runtime=Runtime.OTHER)
