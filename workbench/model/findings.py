"""Findings: what the analysis concludes (a leak suspect, a saturated pool), as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("map", "buffer", "list", "set", "goroutines", "objects", "pool")


# the runtime agent's container census: one finding per container, a naming hint, not a verdict
CENSUS_SOURCE = "agent.census"
# the Node inspector's heap-snapshot retainer paths: which container holds a heap site's
# objects (name, kind, the container's id in ``target``), a naming hint, not a verdict
RETAINER_SOURCE = "inspector.retainers"
# the leak engine's verdicts over a whole session (target and source of those findings): one
# set, replaced as a whole each time the engine judges again
VERDICTS_TARGET = "leak-engine"


@dataclass(slots=True)
class Finding:
    """One suspect. Field names are the CLI's JSON contract (DESIGN.md)."""

    kind: str
    name: str
    where: str
    growth_per_min: float
    unit: str
    confidence: float
    evidence: str
    target: str = ""
    projected_1h: float | None = None
    suspect: bool = True  # False: a candidate looked at and judged bounded
    t: float = 0.0
    stack: list[str] = field(default_factory=list)  # root-first frames that fill it
    sparkline: list[float] = field(default_factory=list)
    # what produced it, for consumers that pick findings by producer (the leak engine takes
    # CENSUS ones as naming hints); "" for older sessions and third-party plugins
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def contract_dict(self) -> dict[str, Any]:
        """Exactly the keys DESIGN.md promises, for ``--json`` output."""
        d = self.to_dict()
        keys = ("kind", "name", "where", "growth_per_min", "unit", "confidence", "evidence")
        out = {k: d[k] for k in keys}
        out["stack"] = list(reversed(self.stack))  # innermost first (``stack`` is kept root first)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)
