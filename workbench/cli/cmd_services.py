"""``workbench services --prometheus PROM_URL [--json]``: the services a Prometheus server scrapes.

For each: job, instance, health and last scrape as the server saw them, whether it serves
/debug/pprof/ (probed once, politely), its runtime, p99 latency, CPU and memory where the
server has them, and the URL to give ``record --url`` / ``workbench --url``. The source that
lists them is whichever installed plugin declares it can (``FLEET``): none is named here.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("services", help="list the services a Prometheus server scrapes, and which can be profiled")
    p.add_argument("--prometheus", required=True, metavar="PROM_URL", help="the Prometheus server's base URL")
    p.add_argument("--no-probe", action="store_true", help="do not ask each service whether it serves /debug/pprof/")
    p.add_argument("--json", action="store_true", help='print {"services": [...]} (DESIGN.md)')


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    from ..model.units import format_quantity

    return format_quantity(v, unit)


def run(args: argparse.Namespace) -> int:
    from ..capture.controller import CaptureController
    from ..model import Session

    controller = CaptureController(Session())
    services = controller.list_services(args.prometheus, probe=not args.no_probe)
    if args.json:
        print(json.dumps({"services": [s.contract_dict() for s in services]}, indent=2))
        return 0
    rows: list[tuple[str, ...]] = [("JOB", "INSTANCE", "HEALTH", "PPROF", "RUNTIME", "P99", "CPU", "RSS", "URL")]
    for s in services:
        pprof = "yes" if s.serves_pprof else "no" if s.serves_pprof is False else "?"
        cpu = "-" if s.cpu is None else f"{s.cpu:.2f}"
        rows.append(
            (
                s.job,
                s.instance,
                s.health,
                pprof,
                s.runtime or "-",
                _fmt(s.p99_s, "s"),
                cpu,
                _fmt(s.rss_bytes, "bytes"),
                s.url,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    down = [s for s in services if s.health != "up"]
    for s in down:
        why: Any = f": {s.error}" if s.error else ""
        print(f"workbench: {s.job} {s.instance} is {s.health}{why}", file=sys.stderr)
    if not services:
        print("workbench: the server scrapes no targets", file=sys.stderr)
    return 0
