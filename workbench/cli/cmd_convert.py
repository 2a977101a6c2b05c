"""``workbench convert IN OUT [--from FMT] [--to FMT]``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("convert", help="convert a profile between formats (by extension)")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--from", dest="from_fmt", default=None, help="input format if the extension does not say")
    p.add_argument("--to", dest="to_fmt", default=None, help="output format if the extension does not say")
    p.add_argument("--sample-index", default=None, help="sample type for single-type outputs (index or name)")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("convert is not built yet", "wait for the formats issue")
