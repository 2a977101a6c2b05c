"""``workbench list FILE REGEX [--sample-type T] [--source-root OLD=NEW ...]``: the source lines
of the functions matching REGEX, each with its flat and cum cost, as ``go tool pprof -list``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "list",
        help="source lines of the functions matching REGEX, with their flat and cum cost (pprof -list)",
        description="Print the source of every function whose name matches REGEX, each line with its flat "
        "(self) and cum (total) value, like `go tool pprof -list`.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("regex", metavar="REGEX")
    p.add_argument("--sample-type", default=None, help="sample type to show (index or name; default: the profile's)")
    p.add_argument(
        "--source-root",
        action="append",
        default=None,
        metavar="OLD=NEW",
        help="read files recorded under OLD from NEW (a container path mapped to a checkout); repeatable",
    )
    p.add_argument("--from", dest="from_fmt", default=None, help="input format if the extension does not say")
    p.add_argument("--profile", default=None, help="with several profiles in FILE: the one whose name contains this")


def run(args: argparse.Namespace) -> int:
    from ..analysis.source import SourceFiles, list_sources, parse_remaps, render_listings
    from ..errors import WorkbenchError
    from ..formats import read_profiles

    files = SourceFiles(parse_remaps(args.source_root))
    profiles = read_profiles(args.file, args.from_fmt)
    if args.profile:
        profiles = [p for p in profiles if args.profile in p.name]
    printed = 0
    blocks: list[str] = []
    missing: list[str] = []
    for p in profiles:
        try:
            si = p.sample_index(args.sample_type)
        except KeyError as exc:
            missing.append(str(exc.args[0]))
            continue
        res = list_sources(p, args.regex, sources=files, sample_index=si)
        if not res.listings:
            continue
        printed += len(res.listings)
        head = f"profile {p.name}:\n" if len(profiles) > 1 else ""
        blocks.append(head + render_listings(res, p, si))
    if missing and len(missing) == len(profiles):
        raise WorkbenchError(missing[0], "pick a sample type the profile has (index or name)")
    if not printed:
        raise WorkbenchError(
            f"no function matching {args.regex!r} has samples in {args.file}",
            "check the regex against `workbench info FILE` (it is searched in function names)",
        )
    print("\n\n".join(blocks))
    return 0
