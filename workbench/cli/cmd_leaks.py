"""``workbench leaks (--pid PID | --url URL) [--duration S] [--json]``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("leaks", help="watch a target and report unbounded growth (exit 3 if suspects)")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int)
    tgt.add_argument("--url")
    p.add_argument("-d", "--duration", type=float, default=60.0)
    p.add_argument("--yes", action="store_true", help="consent to inject the runtime agent")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("leaks is not built yet", "wait for the leak heuristics issue")
