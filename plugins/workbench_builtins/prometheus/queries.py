"""``NAME=PROMQL`` lines, and the series names a query's answer becomes.

A query answering one series is the series ``NAME`` (DESIGN.md); one answering several
(``sum by (job) (...)``) gives ``NAME{job="api"}`` per label set, labels sorted, values
stripped of the characters that separate parts of a series name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import QuerySyntaxError

MAX_QUERIES = 20
MAX_EXPR = 4000
MAX_LABEL_TEXT = 160
SYNTAX = (
    "NAME=PROMQL, e.g. 'p99=histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))'"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,79}$")
_UNSAFE = re.compile(r'["\\@{}\n\r]+')


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    expr: str


def parse_queries(text: str | list[str]) -> list[Query]:
    """Queries from lines (or a list) of ``NAME=PROMQL``; blank lines and ``#`` comments skipped."""
    lines = text.splitlines() if isinstance(text, str) else [str(t) for t in text]
    out: list[Query] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, expr = line.partition("=")
        name, expr = name.strip(), expr.strip()
        if not eq or not _NAME.match(name) or not expr:
            raise QuerySyntaxError(f"cannot read query {line[:120]!r}", f"write it as {SYNTAX}")
        if len(expr) > MAX_EXPR:
            raise QuerySyntaxError(f"query {name!r} is {len(expr)} characters long", f"keep it under {MAX_EXPR}")
        if any(q.name == name for q in out):
            raise QuerySyntaxError(f"two queries are named {name!r}", "give each query its own name")
        out.append(Query(name, expr))
    if len(out) > MAX_QUERIES:
        raise QuerySyntaxError(f"{len(out)} queries given", f"poll at most {MAX_QUERIES} at once")
    return out


def label_text(metric: dict[str, Any], with_name: bool = False) -> str:
    items = sorted((str(k), str(v)) for k, v in metric.items() if with_name or k != "__name__")
    return ("{" + ",".join(f'{k}="{_UNSAFE.sub("_", v)}"' for k, v in items) + "}")[:MAX_LABEL_TEXT]


def series_names(name: str, metrics: list[dict[str, Any]], labelled: bool) -> list[str]:
    """One series name per answered series: ``NAME`` alone when the query answers one series
    (and never answered several), else ``NAME{labels}`` (with ``__name__`` when needed to tell
    them apart)."""
    if not labelled and len(metrics) <= 1:
        return [name] * len(metrics)
    texts = [label_text(m) for m in metrics]
    if len(set(texts)) < len(texts):
        texts = [label_text(m, with_name=True) for m in metrics]
    return [name + t for t in texts]


def sample_value(pair: Any) -> tuple[float, float] | None:
    """``[unix_time, "value"]`` as floats; None when malformed or not finite (NaN: no data)."""
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return None
    try:
        t, v = float(pair[0]), float(pair[1])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(t) and math.isfinite(v)):
        return None
    return t, v
