"""Per-line cost beside the code: what ``go tool pprof -list REGEX`` prints.

A frame is (function, file, line), so the frames of one function split its cost by
line: a line's *flat* is the self value of the frames at that line (the samples that
were executing it), its *cum* the value of every stack that passes through it, counted
once per stack however often the line recurs (``top.self_and_total`` at frame
granularity; pprof counts a line once per sample too). For a caller the line is the
call site (py-spy, pprof, memray); V8 records one line per function (where it is
declared), so a Node function shows its whole cost on that line.

Text comes from the file when it is readable here; ``remaps`` (``OLD=NEW`` prefixes)
find files recorded elsewhere, e.g. ``/app`` in a container mapped to the checkout.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..model.frames import Frame
from ..model.profile import Profile
from .top import frame_groups, self_and_total
from .treeops import AnalysisError

FloatArray = npt.NDArray[np.float64]

MARGIN = 5  # lines printed around sampled ones, as pprof's source listing does
MAX_FUNCTIONS = 50  # listings per request; the rest are counted (narrow the regex)
MAX_LINES_PER_FUNCTION = 2000  # distinct sampled lines of one function (a generated file can have more)
MAX_FILE_BYTES = 8 << 20  # a source file larger than this is not read (its numbers still print)
MAX_CACHED_FILES = 64
MAX_LINE_CHARS = 400  # a minified line is cut: a listing row stays one screen line


@dataclass(frozen=True, slots=True)
class LineCost:
    """One source line of a function: flat and cum per sample type."""

    line: int
    flat: FloatArray
    cum: FloatArray


@dataclass(slots=True)
class SourceListing:
    """One function's sampled lines, with the file's text when it could be read."""

    function: str
    file: str
    flat: FloatArray  # the function's own totals per sample type
    cum: FloatArray
    lines: list[LineCost]  # sampled lines (line > 0), ascending
    unknown: LineCost | None = None  # samples whose frame carries no line number
    text: list[str] | None = None  # the file's lines (index 0 = line 1), None if unreadable
    read_path: str = ""  # where the text was read from (after a remap)
    read_error: str = ""  # why it could not be read
    lines_dropped: int = 0  # sampled lines past MAX_LINES_PER_FUNCTION

    def hottest(self, sample_index: int) -> int:
        """The line with the largest cum (then flat) of one sample type; 0 if none."""
        best, key = 0, (0.0, 0.0)
        for lc in self.lines:
            k = (float(lc.cum[sample_index]), float(lc.flat[sample_index]))
            if k > key:
                best, key = lc.line, k
        return best

    def rows(self, margin: int = MARGIN) -> list[tuple[int, LineCost | None, str]]:
        """``(line, cost or None, text)`` to print: sampled lines with ``margin`` lines around
        each; a gap between windows is one row with line 0 (printed as ``...``)."""
        wanted: list[tuple[int, int]] = []
        for lc in self.lines:
            lo, hi = max(1, lc.line - margin), lc.line + margin
            if self.text is not None:
                hi = min(hi, max(len(self.text), lc.line))
            if wanted and lo <= wanted[-1][1] + 1:
                wanted[-1] = (wanted[-1][0], max(wanted[-1][1], hi))
            else:
                wanted.append((lo, hi))
        by_line = {lc.line: lc for lc in self.lines}
        out: list[tuple[int, LineCost | None, str]] = []
        for i, (lo, hi) in enumerate(wanted):
            if i:
                out.append((0, None, ""))
            for n in range(lo, hi + 1):
                cost = by_line.get(n)
                if self.text is None and cost is None:
                    continue  # without the text only the sampled lines say anything
                out.append((n, cost, self.line_text(n)))
        return out

    def line_text(self, n: int) -> str:
        if self.text is None or not 0 < n <= len(self.text):
            return ""
        return self.text[n - 1]


@dataclass(slots=True)
class ListResult:
    listings: list[SourceListing]
    totals: FloatArray  # the whole profile's totals (the percentages' base)
    more: int = 0  # matching functions past MAX_FUNCTIONS
    notes: list[str] = field(default_factory=list)


def parse_remaps(specs: list[str] | None) -> list[tuple[str, str]]:
    """``OLD=NEW`` path prefixes (``--source-root``); the longest OLD is tried first."""
    out: list[tuple[str, str]] = []
    for spec in specs or []:
        old, sep, new = spec.partition("=")
        if not sep or not old:
            raise AnalysisError(
                f"bad source root {spec!r}",
                "give OLD=NEW, the path prefix recorded in the profile and where those files are here "
                "(e.g. /app=/home/me/checkout)",
            )
        out.append((old, new))
    out.sort(key=lambda p: len(p[0]), reverse=True)
    return out


class SourceFiles:
    """Reads source files for listings: remapped paths first, size-capped, a bounded cache."""

    def __init__(self, remaps: list[tuple[str, str]] | None = None) -> None:
        self.remaps = list(remaps or [])
        self._cache: dict[str, tuple[list[str] | None, str, str]] = {}

    def candidates(self, file: str) -> list[str]:
        out: list[str] = []
        path = file.removeprefix("file://")
        for old, new in self.remaps:
            if path.startswith(old):
                out.append(new + path[len(old) :])
            elif not os.path.isabs(path) and new:
                # Go and memray may record paths relative to a build or working directory
                out.append(os.path.join(new, path))
        out.append(path)
        return out

    def read(self, file: str) -> tuple[list[str] | None, str, str]:
        """``(lines or None, the path read, why not)``."""
        hit = self._cache.get(file)
        if hit is not None:
            return hit
        got: tuple[list[str] | None, str, str] = (None, "", "the frames name no file")
        if file:
            got = self._read_first(file)
        if len(self._cache) >= MAX_CACHED_FILES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[file] = got
        return got

    def _read_first(self, file: str) -> tuple[list[str] | None, str, str]:
        why = ""
        for path in self.candidates(file):
            try:
                size = os.path.getsize(path)
                if size > MAX_FILE_BYTES:
                    why = f"{path} is {size} bytes, larger than the {MAX_FILE_BYTES} read for a listing"
                    continue
                with open(path, "rb") as fh:
                    raw = fh.read(MAX_FILE_BYTES + 1)
            except OSError as exc:
                why = why or f"cannot read {path}: {exc.strerror or exc}"
                continue
            text = raw.decode("utf-8", errors="replace")
            return [_clean_line(t) for t in text.splitlines()], path, ""
        if not self.remaps:
            why += " (if it was recorded elsewhere, map it with --source-root OLD=NEW)"
        return None, "", why


def _clean_line(text: str) -> str:
    """Source text is untrusted too: tabs expanded, control characters escaped, long lines cut."""
    text = text.expandtabs(4)
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 1] + "…"


def list_sources(
    profile: Profile,
    pattern: str,
    *,
    sources: SourceFiles | None = None,
    sample_index: int | None = None,
    max_functions: int = MAX_FUNCTIONS,
) -> ListResult:
    """Listings of every function whose name matches ``pattern`` (a regex, searched), heaviest
    cum of ``sample_index`` first."""
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise AnalysisError(f"bad regular expression {pattern!r}: {exc}", "fix the pattern") from None
    return _listings(profile, lambda f: rx.search(f.function) is not None, sources, sample_index, max_functions)


def listing_for(profile: Profile, frame: Frame, *, sources: SourceFiles | None = None) -> SourceListing | None:
    """The listing of ``frame``'s function (same name and file): the GUI's "Show source"."""
    got = _listings(profile, lambda f: f.function == frame.function and f.file == frame.file, sources, None, 1)
    return got.listings[0] if got.listings else None


def _listings(
    profile: Profile,
    matches: Callable[[Frame], bool],
    sources: SourceFiles | None,
    sample_index: int | None,
    max_functions: int,
) -> ListResult:
    si = profile.default_sample_type if sample_index is None else sample_index
    totals = profile.totals()
    k = len(profile.sample_types)
    line_self, line_total = self_and_total(profile, "frame")
    groups = frame_groups(profile, "function")
    _fs, fn_total = self_and_total(profile, "function")
    # functions: representative frame id -> the frame ids of its lines
    members: dict[int, list[int]] = {}
    present = np.flatnonzero(np.any(line_self != 0, axis=1) | np.any(line_total != 0, axis=1))
    for fid in present.tolist():
        fr = profile.frames[fid]
        if matches(fr):
            members.setdefault(int(groups[fid]), []).append(fid)
    order = sorted(members, key=lambda g: (-float(fn_total[g, si]), g))
    result = ListResult([], totals, more=max(0, len(order) - max_functions))
    files = sources or SourceFiles()
    for g in order[:max_functions]:
        rep = profile.frames[g]
        by_line: dict[int, LineCost] = {}
        for fid in members[g]:
            ln = max(0, profile.frames[fid].line)
            prev = by_line.get(ln)
            flat, cum = line_self[fid], line_total[fid]
            if prev is not None:  # same line under another frame (module/runtime differ)
                flat, cum = prev.flat + flat, np.maximum(prev.cum, cum)
            by_line[ln] = LineCost(ln, flat.copy(), cum.copy())
        unknown = by_line.pop(0, None)
        lines = sorted(by_line.values(), key=lambda lc: lc.line)
        dropped = 0
        if len(lines) > MAX_LINES_PER_FUNCTION:
            keep = sorted(lines, key=lambda lc: -float(lc.cum[si]))[:MAX_LINES_PER_FUNCTION]
            dropped = len(lines) - len(keep)
            lines = sorted(keep, key=lambda lc: lc.line)
        flat_sum = np.zeros(k) if not members[g] else line_self[members[g]].sum(axis=0)
        listing = SourceListing(rep.function, rep.file, flat_sum, fn_total[g].copy(), lines, unknown)
        listing.lines_dropped = dropped
        if lines:
            listing.text, listing.read_path, listing.read_error = files.read(rep.file)
        result.listings.append(listing)
    return result


def render_listings(result: ListResult, profile: Profile, sample_index: int | None = None) -> str:
    """The text ``workbench list`` prints, shaped like ``go tool pprof -list``."""
    from ..model.units import format_value

    si = profile.default_sample_type if sample_index is None else sample_index
    st = profile.sample_types[si]
    grand = float(result.totals[si])

    def v(x: float) -> str:
        # no space inside a cell ("2.9s", as pprof prints): columns split on whitespace
        return "." if x == 0 else format_value(x, st.unit).replace(" ", "")

    out = [f"Total: {format_value(grand, st.unit)} ({st.type})"]
    unreadable: set[str] = set()
    for lst in result.listings:
        pct = f"{100.0 * float(lst.cum[si]) / grand:.2f}%" if grand else "-"
        out.append(f"ROUTINE ======================== {_safe(lst.function)} in {_safe(lst.file or '?')}")
        out.append(f"{v(float(lst.flat[si])):>10} {v(float(lst.cum[si])):>10} (flat, cum) {pct} of Total")
        if lst.text is None and lst.lines and lst.file not in unreadable:
            unreadable.add(lst.file)
            out.append(f"   (source not shown: {_safe(lst.read_error)})")
        for n, cost, text in lst.rows():
            if n == 0:
                out.append(f"{'':>10} {'':>10} {'...':>6}")
                continue
            f = v(float(cost.flat[si])) if cost is not None else "."
            c = v(float(cost.cum[si])) if cost is not None else "."
            out.append(f"{f:>10} {c:>10} {n:>6}:{text}".rstrip())
        if lst.unknown is not None:
            out.append(
                f"{v(float(lst.unknown.flat[si])):>10} {v(float(lst.unknown.cum[si])):>10} {'?':>6}: (no line number)"
            )
        if lst.lines_dropped:
            out.append(f"   ({lst.lines_dropped} more sampled lines not listed)")
    if result.more:
        out.append(f"({result.more} more functions match; narrow the regex to list them)")
    return "\n".join(out)


def _safe(text: str) -> str:
    """Names come from profiles: control characters are escaped so they cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
