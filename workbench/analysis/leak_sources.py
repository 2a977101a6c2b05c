"""Turn captured data into leak candidates: allocation sites and goroutine stacks tracked
across profile snapshots, and container-size series from the runtime agent.

Naming follows what a user recognises: for Go, the function that fills the container
plus the runtime routine it goes through (``runtime.mapassign*`` is a map insert,
``bytes.(*Buffer).grow`` a buffer, ``runtime.growslice`` a slice append); for Python,
the agent's attribute path, else the allocating function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..model.frames import Frame, Runtime
from ..model.profile import Profile
from ..model.series import RingSeries
from .leaks import Candidate

_CONTAINER_HINTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^runtime\.mapassign"), "map", "map"),
    (re.compile(r"^runtime\.(makemap|hashGrow|growWork|mapinitnoescape)"), "map", "map"),
    (re.compile(r"^internal/runtime/maps\."), "map", "map"),
    (re.compile(r"^bytes\.\(\*Buffer\)\.(grow|Write|WriteString|ReadFrom)"), "buffer", "bytes.Buffer"),
    (re.compile(r"^bytes\.growSlice"), "buffer", "bytes.Buffer"),
    (re.compile(r"^strings\.\(\*Builder\)\.grow"), "buffer", "strings.Builder"),
    (re.compile(r"^runtime\.growslice"), "list", "slice"),
    (re.compile(r"^runtime\.(newproc|malg)"), "goroutines", "goroutine"),
)
# Runtime frames that only move data into a container, never "the code that fills it",
# even where a vendored copy of a standard package would otherwise look like user code.
_PLUMBING = re.compile(r"^(runtime\.|internal/|bytes\.|strings\.|sync\.|reflect\.|encoding/)")
# Third-party code, where the file path tells it (module cache, a vendor directory).
_THIRD_PARTY_FILE = re.compile(r"/pkg/mod/|/vendor/")


def go_package(function: str) -> str:
    """The import path of a Go function's package, from the symbol alone:
    ``net/http.(*conn).serve`` -> ``net/http``, ``github.com/a/b.F`` -> ``github.com/a/b``."""
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot > 0 else function


def is_go_user_frame(f: Frame) -> bool:
    """True for a frame of the user's program: not the runtime, not the standard library
    (an import path whose first element has no dot, e.g. ``fmt``, ``net/http``,
    ``vendor/golang.org/x/net``), not vendored or module-cache third-party code. Works
    from the profile alone (function names and file paths); no source is read."""
    pkg = go_package(f.function)
    if not pkg or pkg.startswith("vendor/"):
        return False
    if pkg != "main" and "." not in pkg.split("/", 1)[0]:
        return False  # standard library (and the runtime)
    return not (f.file and _THIRD_PARTY_FILE.search(f.file))


_BLOCKING = re.compile(
    r"^runtime\.(gopark|goparkunlock|chanrecv|chansend|selectgo|semacquire|netpollblock|notetsleepg)|"
    r"^sync\.\(\*(Mutex|RWMutex|WaitGroup|Cond)\)|^internal/poll\.|^time\.Sleep"
)


# frames kept per site's stack (the innermost ones: the filling code and its callers)
MAX_STACK_FRAMES = 64

_KIND_RANK = {"map": 3, "buffer": 2, "list": 1, "goroutines": 1, "objects": 0}


def _classify_go(stack: list[Frame]) -> tuple[str, str, Frame]:
    """(kind, container label, filling frame) for a Go allocation stack, root first.

    The container is named by the innermost runtime/library routine that says what it is
    (``runtime.mapassign*``, ``bytes.(*Buffer).grow``); the filling frame is the innermost
    frame of the user's program, whatever library the write went through (``fmt.Fprintf``,
    ``io.Copy``, ``bufio``, ``encoding/json``).
    """
    kind, via = "objects", ""
    for f in reversed(stack):  # leaf first
        if is_go_user_frame(f):
            break
        if not via:
            for pat, k, label in _CONTAINER_HINTS:
                if pat.search(f.function):
                    kind, via = k, label
                    break
    filler = next((f for f in reversed(stack) if is_go_user_frame(f)), None)
    if filler is None:  # only library code (a server's own buffers): its innermost non-runtime frame
        filler = next((f for f in reversed(stack) if not _PLUMBING.search(f.function)), None)
    return kind, via, filler if filler is not None else (stack[-1] if stack else Frame("?"))


# Source-line hints, for Go versions whose heap profiles elide the runtime frames
# (mapassign, growslice) below the allocating function: when the service's source is on
# this machine, the allocating line itself says what it fills.
_LINE_HINTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\w(\.\w+)*\[[^\]]+\]\s*=[^=]"), "map", "map"),
    (re.compile(r"\.(Write|WriteString|WriteByte|Grow)\("), "buffer", "buffer"),
    (re.compile(r"\bappend\("), "list", "slice"),
)
_line_cache: dict[tuple[str, int], tuple[str, str] | None] = {}
_LINE_CACHE_MAX = 4096


def _line_hint(f: Frame) -> tuple[str, str] | None:
    key = (f.file, f.line)
    if key in _line_cache:
        return _line_cache[key]
    hint = None
    if f.file.endswith(".go") and f.line > 0:
        try:
            with open(f.file, encoding="utf-8", errors="replace") as fh:
                for i, text in enumerate(fh, 1):
                    if i == f.line:
                        for pat, kind, label in _LINE_HINTS:
                            if pat.search(text):
                                hint = (kind, label)
                                break
                        break
        except OSError:
            hint = None
    if len(_line_cache) >= _LINE_CACHE_MAX:
        _line_cache.clear()
    _line_cache[key] = hint
    return hint


def _where(f: Frame) -> str:
    return f"{f.function} ({f.file}:{f.line})" if f.file else f.function


def go_site(stack: list[Frame]) -> tuple[str, str, str]:
    """(kind, name, where) for a Go allocation stack given root first."""
    kind, via, filler = _classify_go(stack)
    if not via:
        hint = _line_hint(filler)
        if hint is not None:
            kind, via = hint
    name = f"{filler.function} {via}" if via else filler.function
    return kind, name, _where(filler)


def goroutine_site(stack: list[Frame]) -> tuple[str, str, str]:
    """Goroutines are named by the user's code where they block: the innermost user frame
    (else the innermost non-runtime one), with the blocking call closest to it."""
    user = next((i for i in range(len(stack) - 1, -1, -1) if is_go_user_frame(stack[i])), None)
    if user is None:
        user = next((i for i in range(len(stack) - 1, -1, -1) if not _PLUMBING.search(stack[i].function)), None)
    if user is None:
        top = stack[-1].function if stack else "?"
        return "goroutines", f"goroutines in {top}", top
    f = stack[user]
    blocked_in = next((b.function for b in stack[user + 1 :] if _BLOCKING.search(b.function)), "")
    suffix = f" blocked in {blocked_in}" if blocked_in else ""
    return "goroutines", f"goroutines in {f.function}{suffix}", _where(f)


def python_site(stack: list[Frame]) -> tuple[str, str, str]:
    """Python allocation sites: the leaf Python frame that allocated."""
    for f in reversed(stack):
        if f.runtime in (Runtime.PYTHON, Runtime.OTHER) and f.function and not f.function.startswith("["):
            where = f"{f.function} ({f.file}:{f.line})" if f.file else f.function
            return "objects", f.function, where
    return "objects", stack[-1].function if stack else "?", ""


def _node_user(f: Frame) -> bool:
    return bool(f.file) and not f.file.startswith(("node:", "internal/")) and "/node_modules/" not in f.file


def node_site(stack: list[Frame]) -> tuple[str, str, str]:
    """Node allocation sites: the leaf frame in the service's own scripts (not builtins, not node:).

    An anonymous callback (a promise executor, an arrow handler) is named after the
    nearest named function of the service that called it: ``(anonymous) in authenticate``.
    A class constructor (capitalised, as JS and TS name them) allocates but does not
    fill anything: the site is its caller, ``ClientConnection objects from registerClient``.
    """
    for i in range(len(stack) - 1, -1, -1):
        f = stack[i]
        if _node_user(f):
            caller = next((c for c in reversed(stack[:i]) if _node_user(c) and c.function != "(anonymous)"), None)
            if f.function == "(anonymous)" and caller is not None:
                return "objects", f"(anonymous) in {caller.function}", _where(f)
            if f.function[:1].isupper() and caller is not None:
                return "objects", f"{f.function} objects from {caller.function}", _where(caller)
            return "objects", f.function, _where(f)
    for f in reversed(stack):  # only library code: name the leaf that has a file
        if f.file:
            return "objects", f.function, _where(f)
    return "objects", stack[-1].function if stack else "?", ""


@dataclass(slots=True)
class _Site:
    kind: str
    name: str
    where: str
    stack: list[str]
    series: RingSeries


class SiteTracker:
    """Per-site size over successive snapshots (heap in-use, goroutine counts).

    Bounded: at most ``max_sites`` sites, each a RingSeries; when full, a new site is
    admitted only by evicting the smallest one, so a burst of one-off sites cannot grow
    the tracker.
    """

    def __init__(self, mode: str = "go-heap", max_sites: int = 256, capacity: int = 512) -> None:
        if mode not in ("go-heap", "go-goroutine", "python-heap", "node-heap"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.max_sites = max_sites
        self.capacity = capacity
        self.sites: dict[str, _Site] = {}
        self.snapshots = 0

    def _name(self, stack: list[Frame]) -> tuple[str, str, str]:
        if self.mode == "go-goroutine":
            return goroutine_site(stack)
        if self.mode == "python-heap":
            return python_site(stack)
        if self.mode == "node-heap":
            return node_site(stack)
        return go_site(stack)

    def observe(self, t: float, profile: Profile, sample_index: int | str | None = None) -> None:
        k = profile.sample_index(sample_index)
        sv = profile.self_values[:, k]
        nodes = np.flatnonzero(sv > 0)
        totals: dict[str, float] = {}
        meta: dict[str, tuple[str, str, str, list[str]]] = {}
        for node in nodes.tolist():
            stack = profile.stack_frames(int(node))
            kind, name, where = self._name(stack)
            # one site per filling function: a map's buckets and the values put in it
            # come from the same code, so they are one finding, named by the strongest hint
            if self.mode == "go-heap":
                key = where.split(" (", 1)[0]
            elif self.mode == "node-heap":
                key = where  # Node functions are often anonymous or share names: a site is its location
            else:
                key = f"{kind}|{name}"
            totals[key] = totals.get(key, 0.0) + float(sv[node])
            prev = meta.get(key)
            if prev is None or _KIND_RANK.get(kind, 0) > _KIND_RANK.get(prev[0], 0):
                meta[key] = (kind, name, where, [_where(f) for f in stack[-MAX_STACK_FRAMES:]])
        # sites not in this snapshot have size 0 now (freed / goroutines gone)
        for key in self.sites.keys() - totals.keys():
            totals[key] = 0.0
        for key, value in sorted(totals.items(), key=lambda kv: -kv[1]):
            site = self.sites.get(key)
            if site is None:
                if value <= 0:
                    continue
                if len(self.sites) >= self.max_sites:
                    smallest = min(self.sites, key=lambda s: self.sites[s].series.last() or 0.0)
                    if (self.sites[smallest].series.last() or 0.0) >= value:
                        continue
                    del self.sites[smallest]
                kind, name, where, frames = meta[key]
                site = _Site(kind, name, where, frames, RingSeries(name, "", capacity=self.capacity))
                self.sites[key] = site
            elif key in meta and _KIND_RANK.get(meta[key][0], 0) > _KIND_RANK.get(site.kind, 0):
                site.kind, site.name, site.where, site.stack = meta[key]
            site.series.append(t, value)
        self.snapshots += 1

    def candidates(self, unit: str, target: str = "", min_abs_growth: float | None = None) -> list[Candidate]:
        out = []
        for s in self.sites.values():
            out.append(
                Candidate(
                    kind=s.kind,
                    name=s.name,
                    where=s.where,
                    unit=unit,
                    times=s.series.times,
                    values=s.series.values,
                    target=target,
                    stack=s.stack,
                    min_abs_growth=min_abs_growth,
                )
            )
        return out


# any source may report container lengths this way (the runtime agent does: python.container...)
_CONTAINER_SERIES = re.compile(r"^[a-z][a-z0-9_]*\.container\.(?P<name>.+)\.len$")


def series_candidates(
    series: dict[str, RingSeries], hints: dict[str, tuple[str, str, list[str]]] | None = None, target: str = ""
) -> list[Candidate]:
    """Container lengths from the runtime agent (``python.container.<name>.len``) and the
    overall goroutine count. ``hints`` maps a container name to (kind, where, stack) as
    the agent's census reported it (the stack root first, empty when not known yet)."""
    hints = hints or {}
    out = []
    for name, s in series.items():
        m = _CONTAINER_SERIES.match(name)
        if m:
            cname = m.group("name")
            kind, where, stack = hints.get(cname, ("objects", cname, []))
            unit = "bytes" if kind == "buffer" else "items"  # a bytearray's length is bytes
            out.append(Candidate(kind, cname, where or cname, unit, s.times, s.values, target, list(stack)))
        elif name == "go.goroutines":
            out.append(
                Candidate(
                    "goroutines", "goroutines (all)", "", "goroutines", s.times, s.values, target, min_abs_growth=5
                )
            )
    return out
