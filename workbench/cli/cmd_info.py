"""``workbench info FILE [--json]``: what a file holds (profiles, series, findings).

The JSON shape is a contract (DESIGN.md):
``{"profiles": [{"name", "source", "sample_types": [{"type", "unit"}], "totals": {type: value},
"top": [{"function", "file", "self": {type: value}, "total": {type: value}}]}],
"series": [{"name", "unit", "points", "last", "max"}], "findings": [finding]}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any

from .tags import add_tag_options, apply_tag_options

if TYPE_CHECKING:
    from ..model import Profile, Session


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("info", help="what a file holds: profiles, series, findings")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output (DESIGN.md contract)")
    p.add_argument("--top", type=int, default=10, help="functions listed per profile")
    p.add_argument("--from", dest="from_fmt", default=None, help="input format if the extension does not say")
    add_tag_options(p)


def _num(v: float) -> int | float | None:
    """JSON-safe number: integers stay integers, NaN/inf (no JSON form) become null."""
    f = float(v)
    if not math.isfinite(f):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**63 else f


def profile_info(profile: Profile, top: int) -> dict[str, Any]:
    from ..analysis.top import top_functions

    types = [st.type for st in profile.sample_types]

    def by_type(values: Any) -> dict[str, int | float | None]:
        return {t: _num(v) for t, v in zip(types, values.tolist(), strict=True)}

    rows = top_functions(profile, limit=max(top, 0), granularity="function")
    return {
        "name": profile.name,
        "source": profile.source,
        "sample_types": [{"type": st.type, "unit": st.unit} for st in profile.sample_types],
        "totals": by_type(profile.totals()),
        "top": [
            {
                "function": r.frame.function,
                "file": r.frame.file,
                "self": by_type(r.self_values),
                "total": by_type(r.total_values),
            }
            for r in rows
        ],
    }


def file_info(
    path: str, top: int = 10, fmt: str | None = None, tags: argparse.Namespace | None = None
) -> dict[str, Any]:
    """The ``info --json`` document for any readable file."""
    from ..formats import detect_format, read_profiles

    kind = detect_format(path, fmt)
    session: Session | None = None
    if kind == "wbs":
        from ..formats.wbs import load_session

        session = load_session(path)
        profiles = [session.profiles[k] for k in session.profile_keys()]
    else:
        profiles = read_profiles(path, kind)
    if tags is not None:
        profiles = apply_tag_options(profiles, tags)
    out: dict[str, Any] = {"profiles": [profile_info(p, top) for p in profiles], "series": [], "findings": []}
    if session is not None:
        for name in session.series_names():
            s = session.series[name]
            last = s.last()
            out["series"].append(
                {
                    "name": s.name,
                    "unit": s.unit,
                    "points": s.total_points,
                    "last": None if last is None else _num(last),
                    "max": _num(s.max_value) if s.total_points else None,
                }
            )
        out["findings"] = [_clean(f.contract_dict()) for f in session.findings]
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in d.items()}


def _safe(text: str, width: int = 0) -> str:
    """Names come from profiles: escape control characters so they cannot drive the terminal."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    if width and len(out) > width:
        out = out[: width - 1] + "…"
    return out


def _fmt_value(v: float | None, unit: str) -> str:
    from ..model.units import format_value

    return "-" if v is None else format_value(v, unit)


def _rate(per_min: float | None, unit: str) -> str:
    from ..model.units import format_rate

    return "-" if per_min is None else _safe(format_rate(per_min, unit))


def render_text(path: str, info: dict[str, Any]) -> str:
    from ..model.units import format_percent

    lines = [
        f"{_safe(os.path.basename(path))}: {len(info['profiles'])} profile(s), "
        f"{len(info['series'])} series, {len(info['findings'])} finding(s)"
    ]
    for p in info["profiles"]:
        st0 = p["sample_types"][0]
        t0, unit0 = st0["type"], st0["unit"]
        totals = ", ".join(
            f"{st['type']} {_fmt_value(p['totals'][st['type']], st['unit'])}" for st in p["sample_types"]
        )
        src = f" [{_safe(p['source'])}]" if p["source"] else ""
        lines.append("")
        lines.append(f"profile {_safe(p['name'])}{src}: {totals}")
        if p["top"]:
            grand = p["totals"][t0] or 0
            lines.append(f"  {'self':>10} {'self%':>7} {'total':>10} {'total%':>7}  function ({t0})")
            for r in p["top"]:
                s, t = r["self"][t0], r["total"][t0]
                sp = format_percent(s / grand) if grand and s is not None else "-"
                tp = format_percent(t / grand) if grand and t is not None else "-"
                where = f"  {_safe(r['file'], 60)}" if r["file"] else ""
                lines.append(
                    f"  {_fmt_value(s, unit0):>10} {sp:>7} {_fmt_value(t, unit0):>10} {tp:>7}  "
                    f"{_safe(r['function'], 100)}{where}"
                )
    if info["series"]:
        lines.append("")
        lines.append("series:")
        for s in info["series"]:
            lines.append(
                f"  {_safe(s['name'])} ({_safe(s['unit'])}): {s['points']} points, "
                f"last {_fmt_value(s['last'], s['unit'])}, max {_fmt_value(s['max'], s['unit'])}"
            )
    if info["findings"]:
        lines.append("")
        lines.append("findings:")
        for f in info["findings"]:
            lines.append(
                f"  {_safe(str(f['kind']))} {_safe(str(f['name']))} at {_safe(str(f['where']))}: "
                f"{_rate(f['growth_per_min'], str(f['unit']))}, confidence {f['confidence']}"
            )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = file_info(args.file, top=args.top, fmt=args.from_fmt, tags=args)
    if args.json:
        json.dump(info, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(render_text(args.file, info))
    return 0
