"""``workbench selftest``: offscreen main window, a rendered flame graph, every plugin loaded."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("selftest", help="headless check of the install; exit 0 or 1 with reasons")
    p.add_argument("--record", action="store_true", help="also record 2 s of CPU from a child Python process")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("selftest is not built yet", "wait for the GUI issue")
