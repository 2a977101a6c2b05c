"""Top growing allocation sites between two live-memory snapshots.

A site is the innermost Python frame of a stack (with native frames on, the leaf is
usually ``malloc``; the Python line that asked for the memory is what a user fixes).
Only the previous snapshot's per-site totals are kept, so memory is bounded by the
sites of one snapshot, which the helper already caps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.model import Finding, FrameTable, Runtime


@dataclass(frozen=True, slots=True)
class SiteGrowth:
    function: str
    where: str  # file:line
    bytes_before: float
    bytes_now: float
    objects_before: float
    objects_now: float
    seconds: float
    stack: tuple[str, ...]  # root-first labels of the site's largest stack

    @property
    def delta_bytes(self) -> float:
        return self.bytes_now - self.bytes_before

    @property
    def bytes_per_min(self) -> float:
        return self.delta_bytes / self.seconds * 60.0 if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "function": self.function,
            "where": self.where,
            "bytes": self.bytes_now,
            "delta_bytes": self.delta_bytes,
            "delta_objects": self.objects_now - self.objects_before,
            "bytes_per_min": round(self.bytes_per_min, 1),
        }

    def finding(self, target: str, t: float) -> Finding:
        """A candidate for the leak engine (``suspect=False``: one interval proves nothing)."""
        return Finding(
            kind="objects",
            name=f"allocations in {self.function}",
            where=self.where,
            growth_per_min=self.bytes_per_min,
            unit="bytes",
            confidence=0.0,
            evidence=(
                f"memray: in-use bytes allocated at {self.where} went from {self.bytes_before:.0f} to "
                f"{self.bytes_now:.0f} in {self.seconds:.1f} s"
            ),
            target=target,
            suspect=False,
            t=t,
            stack=list(self.stack),
            sparkline=[self.bytes_before, self.bytes_now],
        )


def site_of(stack: Sequence[int], frames: FrameTable) -> int:
    """Frame id of the innermost Python frame, or the leaf when there is none."""
    for fid in reversed(stack):
        if frames[fid].runtime == Runtime.PYTHON:
            return fid
    return stack[-1] if stack else -1


class GrowthTracker:
    def __init__(self, top: int = 10) -> None:
        self.top = top
        self._prev: dict[int, tuple[float, float]] | None = None
        self._prev_t = 0.0

    def update(
        self, t: float, stacks: Sequence[Sequence[int]], values: Sequence[Sequence[float]], frames: FrameTable
    ) -> list[SiteGrowth]:
        sites: dict[int, list[float]] = {}
        biggest: dict[int, tuple[float, Sequence[int]]] = {}
        for stack, (nbytes, nobj) in zip(stacks, values, strict=True):
            sid = site_of(stack, frames)
            acc = sites.setdefault(sid, [0.0, 0.0])
            acc[0] += nbytes
            acc[1] += nobj
            if nbytes > biggest.get(sid, (-1.0, ()))[0]:
                biggest[sid] = (nbytes, stack)
        prev, prev_t = self._prev, self._prev_t
        self._prev = {k: (v[0], v[1]) for k, v in sites.items()}
        self._prev_t = t
        if prev is None:
            return []
        grown: list[tuple[float, int, float, float, float, float]] = []
        for sid, (b, o) in sites.items():
            b0, o0 = prev.get(sid, (0.0, 0.0))
            if b > b0 and sid >= 0:
                grown.append((b - b0, sid, b0, b, o0, o))
        grown.sort(key=lambda g: -g[0])
        out: list[SiteGrowth] = []
        for _delta, sid, b0, b, o0, o in grown[: self.top]:  # labels only for the few reported
            f = frames[sid]
            where = f"{f.file}:{f.line}" if f.file else f.function
            labels = tuple(frames[x].label() for x in biggest[sid][1])
            out.append(SiteGrowth(f.function, where, b0, b, o0, o, t - prev_t, labels))
        return out
