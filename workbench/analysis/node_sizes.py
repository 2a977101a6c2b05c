"""Confirm Node heap suspects by their container's real size.

V8's sampling heap profiler counts only what was allocated since it started, so a bounded
cache (a capped LRU, a TTL cache) looks like it grows until every entry it held when the
watch began has been replaced once. The container itself does not grow: its element count
(``Map.size``, ``Array.length``), read by the inspector every heap snapshot as
``node.container.<name>.len``, is level. So a Node suspect named after a container is kept
only when that count is judged growing too; when the count has enough points to be judged and
is bounded, the suspect is moved to the checked list with the count as the reason.
"""

from __future__ import annotations

import dataclasses

from ..model.findings import Finding
from ..model.units import format_quantity
from .leaks import Candidate, FloatArray, LeakPolicy, judge

Sizes = dict[str, tuple[FloatArray, FloatArray]]  # series name -> (times, counts)

NODE_CONTAINER_PREFIX = "node.container."
NODE_CONTAINER_SUFFIX = ".len"


def container_series_name(label: str) -> str:
    return f"{NODE_CONTAINER_PREFIX}{label}{NODE_CONTAINER_SUFFIX}"


def _count_finding(label: str, times: FloatArray, values: FloatArray, policy: LeakPolicy) -> Finding | None:
    if len(values) == 0:
        return None
    # one element is growth for a count: the same bar as the runtime agents' container lengths
    return judge(Candidate("objects", label, label, "items", times, values, min_abs_growth=1.0), policy)


def gate_by_size(
    suspects: list[Finding], checked: list[Finding], series: Sizes, policy: LeakPolicy
) -> tuple[list[Finding], list[Finding]]:
    """Keep a Node container suspect only if its real element count grows as well."""
    if not any(n.startswith(NODE_CONTAINER_PREFIX) for n in series):
        return suspects, checked
    kept: list[Finding] = []
    out_checked = list(checked)
    for f in suspects:
        s = series.get(container_series_name(f.name))
        verdict = _count_finding(f.name, *s, policy) if s is not None else None
        if s is None or verdict is None:
            kept.append(f)  # not measured (yet): the heap trend alone decides, as before
            continue
        first, last = float(s[1][0]), float(s[1][-1])
        size = f"real size {format_quantity(first, 'items')} -> {format_quantity(last, 'items')}"
        if verdict.suspect:
            kept.append(dataclasses.replace(f, evidence=f"{f.evidence}. Confirmed: {size} (still growing)"))
        else:
            why = verdict.evidence.split(". ", 1)[0].removeprefix("bounded: ")
            out_checked.append(
                dataclasses.replace(
                    f,
                    suspect=False,
                    projected_1h=None,
                    evidence=f"bounded: its {size}, {why} (the sampled bytes only show entries "
                    f"replaced since the watch began). {f.evidence}",
                )
            )
    return kept, out_checked
