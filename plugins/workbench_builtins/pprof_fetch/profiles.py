"""Fetched pprof profiles turned into session batches.

- cpu: each ``profile?seconds=N`` answer covers [request sent, answer received) and is
  added as a time slice, so back-to-back fetches make a live, windowable flame graph.
- heap: the in-use columns are a snapshot (``replace=True``) at fetch time.
- allocs, mutex, block: Go reports them cumulative since start; we add the per-stack
  difference to the previous fetch, stamped with [previous fetch, this fetch). The first
  fetch is added whole as an instant baseline, so the profile's total matches what
  ``go tool pprof`` shows and any later window holds only that window's activity.
- goroutine: each fetch is a snapshot added as an instant slice; cut a window around one
  poll to see the goroutines of that moment, or read the go.goroutines series.
"""

from __future__ import annotations

import numpy as np

from workbench.errors import FormatError, LimitExceeded
from workbench.model import Profile, SampleType, StackSet

from .client import Response, looks_like_html
from .errors import CorruptProfile, NotAProfile

KINDS = ("cpu", "heap", "allocs", "goroutine", "mutex", "block")

EMPTY_NOTES = {
    "mutex": "mutex profiles stay empty unless the service calls runtime.SetMutexProfileFraction(n), e.g. n=5",
    "block": "block profiles stay empty unless the service calls runtime.SetBlockProfileRate(n), e.g. n=10000 (ns)",
}
# a restart of the service makes cumulative values drop; a small drop is sampling noise
_RESTART_DROP = 0.1


def decode_profile(resp: Response, kind: str) -> Profile:
    """The profile in ``resp``, or a typed error saying what came instead."""
    from workbench.formats.pprof import read_pprof  # the formats package's decoder

    if looks_like_html(resp.content_type, resp.body):
        moved = f" (redirected to {resp.url})" if resp.redirected else ""
        raise NotAProfile(
            f"{resp.requested_url or resp.url} returned an HTML page instead of a {kind} profile{moved}: "
            "a login page or a proxy error?",
            "point the workbench at the service's own debug listener, which must not require a login",
        )
    if not resp.body:
        raise CorruptProfile(
            f"{resp.url}: empty answer instead of a {kind} profile", "the service may be shutting down; try again"
        )
    try:
        return read_pprof(resp.body)
    except LimitExceeded:
        raise
    except FormatError as exc:
        detail = exc.message
    except (ValueError, IndexError, OverflowError) as exc:
        # the body is untrusted: a decoder slip on hostile bytes is still "not a profile"
        detail = f"{type(exc).__name__}: {exc}"
    raise CorruptProfile(
        f"{resp.requested_url or resp.url}: the {kind} profile does not decode ({detail})",
        "the answer was cut off or is not pprof; retrying, or check what serves this URL",
    )


def column_indices(profile: Profile, names: tuple[str, ...]) -> list[int] | None:
    """Indices of the sample types named ``names`` (pprof type names), or None if one is missing."""
    by_name = {st.type: i for i, st in enumerate(profile.sample_types)}
    idx = [by_name.get(n) for n in names]
    if any(i is None for i in idx):
        return None
    return [i for i in idx if i is not None]


def select_columns(
    profile: Profile, cols: list[int], stacks: StackSet | None = None
) -> tuple[StackSet, tuple[SampleType, ...]]:
    """The stacks of ``profile`` with only ``cols`` as values, zero rows dropped.

    ``stacks`` is ``profile.to_stackset()`` when the caller already has it: one heap fetch
    feeds two profiles, and walking a big tree twice is the costly part.
    """
    ss = profile.to_stackset() if stacks is None else stacks
    vals = ss.values[:, cols]
    keep = np.flatnonzero(np.any(vals != 0, axis=1))
    if len(keep) != len(ss):
        lengths = np.diff(ss.offsets)[keep]
        offsets = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # gather the kept stacks' frames in one indexing op: position in the new flat array
        # plus (old start - new start) of the stack it belongs to
        shift = np.repeat(ss.offsets[:-1][keep] - offsets[:-1], lengths)
        flat = ss.frames[np.arange(int(offsets[-1]), dtype=np.int64) + shift]
        ss = StackSet(ss.table, flat, offsets, vals[keep])
    else:
        ss = StackSet(ss.table, ss.frames, ss.offsets, vals)
    return ss, tuple(profile.sample_types[i] for i in cols)


class CumulativeDelta:
    """Per-stack differences between successive cumulative profiles.

    Stacks are interned into one private tree so "the same stack" is a node id and the
    difference is one vectorised subtraction; the tree only grows by the service's
    distinct stacks, which ``ProfileLimits`` caps.
    """

    def __init__(self, sample_types: tuple[SampleType, ...]) -> None:
        self.sample_types = sample_types
        self._tree = Profile(sample_types, name="cumulative")
        self._last = np.zeros((0, len(sample_types)), dtype=np.float64)
        self.fetches = 0
        self.restarts = 0

    def update(self, ss: StackSet) -> tuple[StackSet, bool]:
        """(what is new since the previous fetch, whether this is a baseline)."""
        k = len(self.sample_types)
        leaves = self._tree.add_stackset(ss)
        n = self._tree.n_nodes
        cur = np.zeros((n, k), dtype=np.float64)
        np.add.at(cur, leaves, ss.values)
        prev = np.zeros((n, k), dtype=np.float64)
        prev[: len(self._last)] = self._last
        baseline = self.fetches == 0
        delta = cur - prev
        drop = -delta[delta < 0].sum()
        if not baseline and drop > _RESTART_DROP * max(1.0, float(prev.sum())):
            baseline = True  # the service restarted: its counters began again
            self.restarts += 1
        if baseline:
            delta = cur
        np.maximum(delta, 0, out=delta)
        self._last = cur
        self.fetches += 1
        nodes = np.flatnonzero(np.any(delta != 0, axis=1)).astype(np.int64)
        paths = self._tree.paths(nodes)
        return StackSet(paths.table, paths.frames, paths.offsets, delta[nodes]), baseline
