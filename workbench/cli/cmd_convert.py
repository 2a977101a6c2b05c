"""``workbench convert IN OUT [--from FMT] [--to FMT] [--sample-index S]``.

Formats follow the extensions (see ``workbench.formats``). Everything heavy is
imported inside ``run`` so building the CLI parser stays cheap.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from .tags import add_tag_options, apply_tag_options

if TYPE_CHECKING:
    from ..model import Profile


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a profile between formats (by extension)",
        description="Convert a profile file: .collapsed/.folded/.txt, .speedscope.json, .pb.gz/.pprof, .svg, .wbs "
        "(memray .bin as input).",
    )
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.add_argument("--from", dest="from_fmt", default=None, help="input format if the extension does not say")
    p.add_argument("--to", dest="to_fmt", default=None, help="output format if the extension does not say")
    p.add_argument("--sample-index", default=None, help="sample type for single-type outputs (index or name)")
    add_tag_options(p)


def run(args: argparse.Namespace) -> int:
    from ..errors import FormatError
    from ..formats import FORMATS, detect_format, read_profiles, write_profile
    from ..formats.table import BY_NAME

    src, dst = args.input, args.output
    if os.path.exists(dst) and os.path.exists(src) and os.path.samefile(src, dst):
        raise FormatError("input and output are the same file", "write to a new file name", path=dst)
    out_fmt = detect_format(dst, args.to_fmt) if args.to_fmt else _output_format(dst, FORMATS)
    profiles = read_profiles(src, args.from_fmt)
    if not profiles:
        raise FormatError("the input holds no profiles", "check the input file", path=src)
    profiles = apply_tag_options(profiles, args)
    if not BY_NAME[out_fmt].keeps_labels and any(p.labels is not None for p in profiles) and not args.tagroot:
        print(
            f"workbench: note: {out_fmt} has no place for sample labels: they are not written "
            "(--tagroot KEY keeps one as the root frame; .pb.gz and .wbs keep them all)",
            file=sys.stderr,
        )
    if out_fmt == "speedscope":
        from ..formats.speedscope import write_speedscope

        data = write_speedscope(profiles, sample_index=args.sample_index)
        _write(dst, data)
    elif out_fmt == "wbs":
        _write_session(profiles, dst)
    else:
        write_profile(_one(profiles, out_fmt, src), dst, out_fmt, sample_index=args.sample_index)
    n = len(profiles)
    print(f"wrote {dst} ({out_fmt}, {n} profile{'s' if n != 1 else ''})", file=sys.stderr)
    return 0


def _output_format(path: str, formats: tuple[str, ...]) -> str:
    from ..errors import UnknownFormat
    from ..formats import SUPPORTED_EXTENSIONS, detect_format

    if path.lower().endswith(".json"):
        return "speedscope"  # the only JSON we write
    if os.path.exists(path):
        # an existing file must not be sniffed: we are about to replace it
        low = os.path.basename(path).lower()
        if not any(low.endswith(e) for e in SUPPORTED_EXTENSIONS):
            raise UnknownFormat(
                f"cannot tell the output format of {os.path.basename(path)!r}",
                f"use one of the extensions {', '.join(SUPPORTED_EXTENSIONS)} or pass --to with one of "
                f"{', '.join(formats)}",
                path=path,
            )
    return detect_format(path)


def _one(profiles: list[Profile], out_fmt: str, src: str) -> Profile:
    """Single-profile outputs: merge several profiles when their sample types agree."""
    from ..errors import FormatError
    from ..model import merge_profiles

    if len(profiles) == 1:
        return profiles[0]
    try:
        merged = merge_profiles(profiles, name=profiles[0].name)
    except ValueError:
        raise FormatError(
            f"the input holds {len(profiles)} profiles with different sample types, and {out_fmt} holds one",
            "convert to .speedscope.json or .wbs to keep them all",
            path=src,
        ) from None
    merged.meta.update(profiles[0].meta)
    merged.period, merged.period_type = profiles[0].period, profiles[0].period_type
    merged.default_sample_type = profiles[0].default_sample_type
    return merged


def _write(path: str, data: bytes) -> None:
    from ..formats.atomic import atomic_write

    atomic_write(path, data)


def _write_session(profiles: list[Profile], path: str) -> None:
    from ..formats.wbs import save_session
    from ..model import Session

    session = Session()
    for i, p in enumerate(profiles):
        key = p.name or f"profile{i}"
        if key in session.profiles:
            key = f"{key}#{i}"
        session.profiles[key] = p
    save_session(session, path)
