"""Go 1.26's ``/debug/pprof/goroutineleak`` as leak evidence.

Its profile lists the goroutines the runtime's GC found blocked on a channel, mutex or
condition that no running goroutine can reach: leaked by proof, not by a trend. Each
site (named like the goroutine trend sites: the innermost user frame) becomes a suspect
at full confidence; a trend finding for the same site is confirmed rather than repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..model.findings import Finding
from ..model.profile import Profile
from .leak_sources import MAX_STACK_FRAMES, _where, goroutine_site
from .leaks import suspect_rank

ENDPOINT = "/debug/pprof/goroutineleak"
MAX_SITES = 256


@dataclass(slots=True)
class LeakedSite:
    name: str
    where: str
    count: float
    stack: list[str]  # root first


def leaked_sites(profile: Profile) -> dict[str, LeakedSite]:
    """Sites of a goroutine(leak) profile by ``where``, with their goroutine counts (capped)."""
    sv = profile.self_values[:, 0] if profile.self_values.size else np.zeros(0)
    out: dict[str, LeakedSite] = {}
    for node in np.flatnonzero(sv > 0).tolist():
        stack = profile.stack_frames(int(node))
        _kind, name, where = goroutine_site(stack)
        site = out.get(where)
        if site is None:
            if len(out) >= MAX_SITES:
                continue
            site = out[where] = LeakedSite(name, where, 0.0, [_where(f) for f in stack[-MAX_STACK_FRAMES:]])
        site.count += float(sv[node])
    return out


def _evidence(site: LeakedSite) -> str:
    n = int(site.count)
    return (
        f"{n} goroutine{'s' if n != 1 else ''} reported leaked by the Go runtime ({ENDPOINT}: blocked on a "
        "channel or lock no running goroutine can reach)"
    )


def confirm(
    suspects: list[Finding], checked: list[Finding], leaked: dict[str, LeakedSite], target: str = ""
) -> tuple[list[Finding], list[Finding]]:
    """Suspects and checked findings with the runtime's leaked goroutines applied."""
    if not leaked:
        return suspects, checked
    suspects, checked = list(suspects), list(checked)
    for where, site in leaked.items():
        trend = next((f for f in suspects if f.kind == "goroutines" and f.where == where), None)
        if trend is not None:
            i = suspects.index(trend)
            suspects[i] = replace(trend, confidence=1.0, evidence=f"{trend.evidence}. Confirmed: {_evidence(site)}")
            continue
        bounded = next((f for f in checked if f.kind == "goroutines" and f.where == where), None)
        if bounded is not None:
            checked.remove(bounded)
        suspects.append(
            Finding(
                kind="goroutines",
                name=site.name,
                where=where,
                growth_per_min=bounded.growth_per_min if bounded is not None else 0.0,
                unit="goroutines",
                confidence=1.0,
                evidence=_evidence(site),
                target=bounded.target if bounded is not None else target,
                projected_1h=None,
                suspect=True,
                t=bounded.t if bounded is not None else 0.0,
                stack=list(site.stack),
                sparkline=list(bounded.sparkline) if bounded is not None else [],
            )
        )
    suspects.sort(key=suspect_rank)
    return suspects, checked
