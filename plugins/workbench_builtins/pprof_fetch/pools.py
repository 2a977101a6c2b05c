"""Connection pools seen through /debug/vars: any object shaped like Go's ``sql.DBStats``.

Services publish their pools under any key (``db``, ``services.orders.primary``,
``gorm.stats``), so the JSON is walked to a bounded depth with an explicit stack (no
recursion over untrusted nesting) and every object with DBStats' field names becomes
a pool named after its key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.model import SeriesPoint

# sql.DBStats field names (Go 1.15+). A pool needs the three gauges plus enough of the rest
# that an unrelated {"InUse": ...} object is not mistaken for one.
DBSTATS_FIELDS = frozenset(
    {
        "MaxOpenConnections",
        "OpenConnections",
        "InUse",
        "Idle",
        "WaitCount",
        "WaitDuration",
        "MaxIdleClosed",
        "MaxIdleTimeClosed",
        "MaxLifetimeClosed",
    }
)
_REQUIRED = ("OpenConnections", "InUse", "Idle")
_MIN_FIELDS = 5

MAX_DEPTH = 16
MAX_NODES = 50_000
MAX_POOLS = 64
MAX_NAME = 80
_SKIP_TOP = frozenset({"memstats", "cmdline"})  # large, and never pools
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:\-]+")


@dataclass(frozen=True, slots=True)
class PoolSample:
    """One observation of one pool; None where the source does not say."""

    name: str
    open: float | None = None
    in_use: float | None = None
    idle: float | None = None
    wait_count: float | None = None
    wait_s: float | None = None
    max_open: float | None = None
    where: str = ""

    def points(self, t: float, name: Callable[[str], str]) -> list[SeriesPoint]:
        pts: list[SeriesPoint] = []
        for fld, unit in (
            ("open", "count"),
            ("in_use", "count"),
            ("idle", "count"),
            ("wait_count", "count"),
            ("wait_s", "s"),
            ("max_open", "count"),
        ):
            v = getattr(self, fld)
            if v is not None:
                pts.append(SeriesPoint(name(f"pool.{self.name}.{fld}"), t, float(v), unit))
        return pts


def safe_pool_name(raw: str) -> str:
    """Pool names come from the service: keep them short and free of separators and markup."""
    name = _UNSAFE.sub("_", raw).strip("._")
    return name[:MAX_NAME] or "pool"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def looks_like_dbstats(obj: Any) -> bool:
    if not isinstance(obj, dict):
        return False
    if not all(_is_number(obj.get(k)) for k in _REQUIRED):
        return False
    return sum(1 for k in DBSTATS_FIELDS if k in obj) >= _MIN_FIELDS


def dbstats_sample(name: str, obj: dict[str, Any], where: str = "") -> PoolSample:
    def g(k: str) -> float | None:
        v = obj.get(k)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    wait_ns = g("WaitDuration")  # time.Duration marshals as integer nanoseconds
    return PoolSample(
        name=name,
        open=g("OpenConnections"),
        in_use=g("InUse"),
        idle=g("Idle"),
        wait_count=g("WaitCount"),
        wait_s=wait_ns / 1e9 if wait_ns is not None else None,
        max_open=g("MaxOpenConnections"),
        where=where,
    )


def find_dbstats(doc: Any, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> list[PoolSample]:
    """Every DBStats-shaped object in ``doc``, named by its dotted key path.

    Iterative depth-first walk in document order; stops descending past ``max_depth``
    and stops entirely after ``max_nodes`` containers or ``MAX_POOLS`` pools.
    """
    found: list[PoolSample] = []
    seen_names: set[str] = set()
    stack: list[tuple[tuple[str, ...], Any]] = [((), doc)]
    visited = 0
    while stack and visited < max_nodes and len(found) < MAX_POOLS:
        path, node = stack.pop()
        visited += 1
        if looks_like_dbstats(node):
            name = safe_pool_name(".".join(path) or "db")
            base, i = name, 2
            while name in seen_names:  # two keys that sanitise alike stay distinct
                name = f"{base}_{i}"
                i += 1
            seen_names.add(name)
            found.append(dbstats_sample(name, node, where="/debug/vars " + ".".join(path)))
            continue
        if len(path) >= max_depth:
            continue
        children: list[tuple[tuple[str, ...], Any]] = []
        if isinstance(node, dict):
            for k, v in node.items():
                if not path and k in _SKIP_TOP:
                    continue
                if isinstance(v, (dict, list)):
                    children.append(((*path, str(k)), v))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, (dict, list)):
                    children.append(((*path, str(i)), v))
        stack.extend(reversed(children))  # pop order = document order
    return found
