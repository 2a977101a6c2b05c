"""pprof's focus / ignore / hide / show filters on a profile.

Semantics follow pprof's ``FilterSamplesByName``: a regex matches a frame when it
matches (anywhere) the function name or the file name.

- focus: keep samples whose stack has a matching frame;
- ignore: drop samples whose stack has a matching frame (ignore wins over focus);
- hide: remove matching frames from every stack, keeping the samples;
- show: keep only matching frames in every stack, keeping the samples.

Like pprof's driver, a regex that matched no frame is reported as a warning, never
silently ignored: ``FilterResult.warnings``, and ``meta["filter_warnings"]`` on the
profile the one-filter helpers return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..model.profile import Profile
from .treeops import (
    AnalysisError,
    drop_samples,
    nonzero_nodes,
    path_any,
    rebuild,
    select_positions,
    select_stacks,
)

BoolArray = npt.NDArray[np.bool_]

WARNINGS_META = "filter_warnings"


@dataclass(slots=True)
class FilterResult:
    profile: Profile
    matched: dict[str, bool] = field(default_factory=dict)  # option -> its regex matched some frame
    warnings: list[str] = field(default_factory=list)


def compile_pattern(option: str, pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise AnalysisError(
            f"--{option} {pattern!r} is not a valid regular expression ({exc.msg})",
            "fix the pattern; escape literal characters like ( [ . * with a backslash",
        ) from None


def frame_matches(profile: Profile, rx: re.Pattern[str]) -> BoolArray:
    """Per frame id: does ``rx`` match its function or file? Only frames used by the profile are tested."""
    out = np.zeros(len(profile.frames), dtype=bool)
    used = np.unique(profile.frame[1:])
    frames = profile.frames
    for fid in used.tolist():
        fr = frames[fid]
        if rx.search(fr.function) is not None or (fr.file and rx.search(fr.file) is not None):
            out[fid] = True
    return out


def _node_flags(profile: Profile, per_frame: BoolArray) -> BoolArray:
    flags = np.zeros(profile.n_nodes, dtype=bool)
    if profile.n_nodes > 1:
        flags[1:] = per_frame[profile.frame[1:]]
    return flags


def filter_profile(
    profile: Profile,
    *,
    focus: str | re.Pattern[str] | None = None,
    ignore: str | re.Pattern[str] | None = None,
    hide: str | re.Pattern[str] | None = None,
    show: str | re.Pattern[str] | None = None,
) -> FilterResult:
    """Apply any combination of the four filters at once, as pprof does."""
    opts = {"focus": focus, "ignore": ignore, "hide": hide, "show": show}
    matches: dict[str, BoolArray] = {}
    for name, pat in opts.items():
        if pat is not None:
            matches[name] = frame_matches(profile, compile_pattern(name, pat))
    result = FilterResult(profile)
    for name, m in matches.items():
        result.matched[name] = bool(m.any())
        if not m.any():
            pat = opts[name]
            text = pat.pattern if isinstance(pat, re.Pattern) else pat
            result.warnings.append(f"no matches found for {name} regexp: {text}")

    nodes = nonzero_nodes(profile)
    keep_node = np.ones(profile.n_nodes, dtype=bool)
    if "ignore" in matches:
        keep_node &= ~path_any(profile, _node_flags(profile, matches["ignore"]))
    if "focus" in matches:
        keep_node &= path_any(profile, _node_flags(profile, matches["focus"]))
    keep = keep_node[nodes]
    kept_nodes = nodes[keep]
    hidden = np.zeros(len(profile.frames), dtype=bool)
    if "hide" in matches:
        hidden |= matches["hide"]
    if "show" in matches:
        hidden |= ~matches["show"]
    if not hidden.any() and 2 * len(kept_nodes) >= len(nodes):
        # Stacks keep their shape and most samples stay: zeroing the dropped ones in a
        # copy is far cheaper than rebuilding the tree (nodes left at zero draw nothing).
        out = drop_samples(profile, keep_node)
    else:
        ss = select_stacks(profile.paths(nodes), keep)
        if hidden.any():
            ss = select_positions(ss, ~hidden[ss.frames])
        out = rebuild(profile, ss, kept_nodes)
    out.meta.pop(WARNINGS_META, None)  # a warning describes this filter, not an earlier one
    if result.warnings:
        out.meta[WARNINGS_META] = "; ".join(result.warnings)
    result.profile = out
    return result


def focus(profile: Profile, pattern: str | re.Pattern[str]) -> Profile:
    """Samples whose stack has a frame matching ``pattern``."""
    return filter_profile(profile, focus=pattern).profile


def ignore(profile: Profile, pattern: str | re.Pattern[str]) -> Profile:
    """Samples whose stack has no frame matching ``pattern``."""
    return filter_profile(profile, ignore=pattern).profile


def hide(profile: Profile, pattern: str | re.Pattern[str]) -> Profile:
    """Every sample, with the frames matching ``pattern`` removed from its stack."""
    return filter_profile(profile, hide=pattern).profile


def show(profile: Profile, pattern: str | re.Pattern[str]) -> Profile:
    """Every sample, with only the frames matching ``pattern`` left in its stack."""
    return filter_profile(profile, show=pattern).profile
