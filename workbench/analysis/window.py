"""Time windows over a profile: a cut, and "now versus N minutes ago" as two cuts."""

from __future__ import annotations

from ..model.profile import Profile
from .diff import DiffResult, diff
from .treeops import AnalysisError


def cut(profile: Profile, t0: float, t1: float) -> Profile:
    """The samples of [t0, t1) (seconds since the epoch); the whole tree shape is kept."""
    if t1 < t0:
        raise AnalysisError(f"window end {t1} is before its start {t0}", "give the earlier time first")
    return profile.cut(t0, t1)


def now_vs_ago(
    profile: Profile, minutes_ago: float, width_s: float = 60.0, now: float | None = None
) -> tuple[Profile, Profile]:
    """(then, now): the last ``width_s`` seconds, and the same-width window ``minutes_ago`` earlier.

    ``now`` defaults to the end of the profile's data.
    """
    if width_s <= 0:
        raise AnalysisError(f"window width {width_s} s is not positive", "use a width above zero")
    if minutes_ago < 0:
        raise AnalysisError(f"{minutes_ago} minutes ago is in the future", "use a non-negative number of minutes")
    end = now if now is not None else profile.time_end
    if end is None:
        raise AnalysisError(
            f"profile {profile.name!r} has no time information",
            "capture live or open a session file; static profile files cannot be cut by time",
        )
    # half-open windows: nudge the end so a sample stamped exactly at 'now' is included
    t_now = end + 1e-9 if now is None else end
    back = minutes_ago * 60.0
    return cut(profile, t_now - back - width_s, t_now - back), cut(profile, t_now - width_s, t_now)


def diff_now_vs_ago(
    profile: Profile, minutes_ago: float, width_s: float = 60.0, now: float | None = None, normalize: bool = True
) -> DiffResult:
    """Diff of the window ``minutes_ago`` (base) against the latest window (new)."""
    then, latest = now_vs_ago(profile, minutes_ago, width_s, now)
    return diff(then, latest, normalize=normalize)
