"""Apply the inspector's retainer hints to Node heap sites: a site whose objects a container
holds is named after that container (``sockets Map``), and every site one container holds
(the filler and, say, the constructor of the objects it stores) is one candidate, its size
the sum of theirs, its ``where`` and ``stack`` the filling function's."""

from __future__ import annotations

import numpy as np

from ..model.findings import Finding
from .leaks import Candidate

MAX_NAMED_SITES = 1024


def _is_user(where: str) -> bool:
    file = where.rsplit(" (", 1)[-1] if " (" in where else ""
    return bool(file) and not file.startswith(("node:", "internal/")) and "/node_modules/" not in file


def _filler(members: list[Candidate]) -> Candidate:
    """The site that fills the container: the one whose function calls the other sites
    (``addSubscriber`` calls ``openSocket`` which builds the ``Socket``), else the largest."""

    def score(c: Candidate) -> tuple[int, float]:
        fn = c.where
        callers = sum(1 for m in members if m is not c and any(f == fn for f in m.stack))
        return callers, float(c.values[-1]) if len(c.values) else 0.0

    return max(members, key=score)


def _summed(members: list[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """Sizes summed per snapshot time (sites admitted later have a suffix of the same times)."""
    total: dict[float, float] = {}
    for m in members:
        for t, v in zip(m.times.tolist(), m.values.tolist(), strict=True):
            total[t] = total.get(t, 0.0) + v
    ts = sorted(total)
    return np.array(ts, dtype=np.float64), np.array([total[t] for t in ts], dtype=np.float64)


def name_node_candidates(cands: list[Candidate], hints: dict[str, Finding]) -> list[Candidate]:
    groups: dict[str, list[Candidate]] = {}
    out: list[Candidate] = []
    for c in cands:
        hint = hints.get(c.where)
        if hint is None:
            out.append(c)
        else:
            groups.setdefault(hint.name, []).append(c)
    for members in groups.values():
        lead = _filler(members)
        hint = hints[lead.where]
        times, values = _summed(members) if len(members) > 1 else (lead.times, lead.values)
        others = sorted({m.name for m in members if m is not lead})
        note = "retained by " + hint.evidence.split(" held by ", 1)[-1]
        if others:
            note += "; folded in: " + ", ".join(others)
        out.append(
            Candidate(
                kind=hint.kind,
                name=hint.name,
                where=lead.where,
                unit=lead.unit,
                times=times,
                values=values,
                target=lead.target,
                stack=list(lead.stack),
                min_abs_growth=lead.min_abs_growth,
                note=note,
            )
        )
    return out
