"""``--tagfocus``/``--tagignore``/``--tagroot`` for ``convert`` and ``info``, with pprof's meaning:
``KEY=REGEX[,REGEX...]`` keeps (focus) or drops (ignore) samples whose label KEY has a value a
regex finds (the comma is "or"; a bare ``REGEX`` looks at every label); ``--tagroot KEY``
puts each sample under a ``KEY=value`` root frame."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Profile


def add_tag_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tagfocus",
        action="append",
        default=None,
        metavar="KEY=REGEX",
        help="keep only samples with a label matching (pprof -tagfocus; comma = or; repeat = and)",
    )
    p.add_argument(
        "--tagignore",
        action="append",
        default=None,
        metavar="KEY=REGEX",
        help="drop samples with a label matching (pprof -tagignore)",
    )
    p.add_argument("--tagroot", default=None, metavar="KEY", help="each label value of KEY becomes a root frame")


def apply_tag_options(profiles: list[Profile], args: argparse.Namespace) -> list[Profile]:
    focus, ignore, root = (
        getattr(args, "tagfocus", None),
        getattr(args, "tagignore", None),
        getattr(args, "tagroot", None),
    )
    if not (focus or ignore or root):
        return profiles  # before the imports: a plain convert does not pay for them (cold start)
    from ..analysis.labels import group_by_label, tag_filter
    from ..errors import WorkbenchError

    if not any(p.labels is not None for p in profiles):
        raise WorkbenchError(
            "the profile has no sample labels to filter or group by",
            "record a profile whose samples carry labels (Go: pprof.Do / pprof.SetGoroutineLabels)",
        )
    out = []
    for p in profiles:
        q = tag_filter(p, focus, ignore)
        if root:
            q = group_by_label(q, root)
        q.name = p.name
        out.append(q)
    return out
