"""``workbench info FILE [--json]``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("info", help="what a file holds: profiles, series, findings")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output (DESIGN.md contract)")
    p.add_argument("--top", type=int, default=10, help="functions listed per profile")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("info is not built yet", "wait for the formats issue")
