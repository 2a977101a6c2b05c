"""``workbench doctor (--pid PID | --url URL) [--json]``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check that a target can be profiled, with a fix for each failure")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int)
    tgt.add_argument("--url")
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("doctor is not built yet", "wait for the reliability issue")
