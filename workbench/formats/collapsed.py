"""Collapsed stacks: flamegraph.pl's ``a;b;c 12`` lines and py-spy's ``-f raw`` output.

Reading is vectorised: the text is split once, every distinct frame string is parsed
once, and the stacks go into the model as one ``StackSet``; no per-sample tree work.

Frame syntax understood (py-spy's):
  ``func (file.py:12)`` -> Frame(func, file.py, 12), runtime by the file's extension
  (``.py`` and ``<frozen ...>`` are Python; any other frame with a line number is
  Python too, since that syntax is py-spy's);
  ``func (file.py)`` (py-spy ``--nolineno``) -> Frame(func, file.py, 0);
  ``thread (123): MainThread`` / ``thread (123)`` and ``process 123:"cmd"`` -> one
  pseudo-frame each, kept whole as the function name with module ``thread``/``process``;
  anything else -> Frame(name).

Writing renders frames back in the same syntax, so read -> write is text-exact. Names
are made safe for the line format: ``;`` becomes U+FF1B (fullwidth semicolon, looks
the same but is not a separator) and CR/LF become a space; every other character,
including NUL and control characters, is written as is.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import math
import re
from collections.abc import Iterator

import numpy as np

from ..errors import FormatError, LimitExceeded
from ..model import SAMPLES, Frame, FrameTable, Profile, Runtime, StackSet
from ..model.frames import plain_frames
from . import resolve_sample_index
from .limits import ReadLimits, maybe_gunzip

# py-spy's pseudo-frames: "thread (123)", "thread (0x7F12AB): MainThread", 'process 42:"cmd"'.
# A Python function named "thread" renders as "thread (file.py:12)" and must stay a function.
_PSEUDO = re.compile(r'thread \((?:0[xX][0-9A-Fa-f]+|\d+)\)(?:: .*)?|process \d+:".*"', re.DOTALL)

_SAFE = str.maketrans({";": "\uff1b", "\n": " ", "\r": " "})

_PY_SUFFIXES = (".py", ".pyx", ".pyi", ".pyw")
_NATIVE_SUFFIXES = (".so", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".dylib", ".dll")


@functools.lru_cache(maxsize=4096)  # few distinct files, many frames; bounded
def _runtime_of(file: str, has_line: bool) -> Runtime:
    low = file.lower()
    if low.endswith(_PY_SUFFIXES) or low.startswith("<frozen"):
        return Runtime.PYTHON
    if low.endswith(".go"):
        return Runtime.GO
    if low.endswith((".js", ".mjs", ".cjs", ".ts")):
        return Runtime.NODE
    if ".so" in low or low.endswith(_NATIVE_SUFFIXES):
        return Runtime.NATIVE
    return Runtime.PYTHON if has_line else Runtime.OTHER


def parse_frame(token: str) -> Frame:
    """One collapsed-stack frame string -> Frame (see the module docstring)."""
    if token.startswith(("thread (", "process ")) and _PSEUDO.fullmatch(token):
        return Frame(token, module=token.split(" ", 1)[0], runtime=Runtime.OTHER)
    if token.endswith(")"):
        i = token.rfind(" (")
        if i > 0:
            func = token[:i]
            loc = token[i + 2 : -1]
            file, sep, line = loc.rpartition(":")
            # only a canonical positive number is a line: "x.py:01" or "x.py:0" stay text so
            # rendering gives back the same characters
            if sep and file and line.isascii() and line.isdigit() and line[0] != "0":
                return Frame(func, file, int(line), runtime=_runtime_of(file, True))
            if loc and "(" not in loc:
                return Frame(func, loc, 0, runtime=_runtime_of(loc, False))
    return Frame(token)


def _parse_distinct(tokens: list[str]) -> tuple[list[Frame], list[Frame]]:
    """(a Frame per token, the ones that went through ``parse_frame``).

    A token that neither ends in ``)`` nor starts like a pseudo-frame is a plain name,
    ``Frame(token)``: those are made by one C-level ``map``, without the parser's calls.
    """
    special = [i for i, t in enumerate(tokens) if t[-1:] == ")" or t.startswith(("thread (", "process "))]
    if 2 * len(special) > len(tokens):
        frames = list(map(parse_frame, tokens))
        return frames, frames
    frames = plain_frames(tokens)
    for i in special:
        frames[i] = parse_frame(tokens[i])
    return frames, [frames[i] for i in special]


def render_frame(frame: Frame) -> str:
    """The inverse of ``parse_frame``, with separators made safe."""
    if frame.file:
        text = f"{frame.function} ({frame.file}:{frame.line})" if frame.line else f"{frame.function} ({frame.file})"
    else:
        text = frame.function
    return text.translate(_SAFE)


def _line_error(index: list[int], pos: int, what: str, fix: str) -> FormatError:
    return FormatError(what, fix, line=index[pos] + 1)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collections while a reader allocates a million acyclic objects: each
    collection would walk every object made so far (a third of the read time on 10^6
    frames). Reference counting still frees everything; the pause ends with the read."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_collapsed(data: bytes, limits: ReadLimits | None = None, name: str = "collapsed") -> Profile:
    """Parse collapsed stacks (gzip accepted) into a one-sample-type profile (``samples``)."""
    with _cyclic_gc_paused():
        return _read_collapsed(data, limits, name)


def _read_collapsed(data: bytes, limits: ReadLimits | None, name: str) -> Profile:
    lim = limits or ReadLimits()
    data = maybe_gunzip(data, lim)
    text = data.decode("utf-8", errors="replace")  # bad bytes become U+FFFD, never an exception
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines:
        longest = max(lines, key=len)
        if len(longest) > lim.max_line_length:
            at = lines.index(longest)
            raise LimitExceeded(
                f"line is {len(longest)} characters long (limit {lim.max_line_length})",
                "this does not look like collapsed stacks; raise ReadLimits.max_line_length if it is",
                line=at + 1,
            )
    index = [i for i, ln in enumerate(lines) if ln and not ln.isspace()]
    parts = [lines[i].rpartition(" ") for i in index]
    for pos, (_stack, sep, _count) in enumerate(parts):
        if not sep:
            raise _line_error(index, pos, "no sample count at the end of the line", "lines look like 'a;b;c 12'")
    counts_text = [p[2] for p in parts]
    try:
        counts = np.array(counts_text, dtype=np.float64) if counts_text else np.zeros(0, dtype=np.float64)
    except ValueError:
        counts = np.zeros(0, dtype=np.float64)
        for pos, c in enumerate(counts_text):
            try:
                float(c)
            except ValueError:
                raise _line_error(
                    index,
                    pos,
                    f"sample count {c[:40]!r} is not a number",
                    "lines look like 'a;b;c 12'",
                ) from None
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0))
    if bad.size:
        pos = int(bad[0])
        what = "is negative" if float(counts[pos]) < 0 else "is not finite"
        raise _line_error(index, pos, f"sample count {counts_text[pos][:40]} {what}", "counts must be >= 0")
    stacks = [p[0] for p in parts]
    del parts, lines, counts_text
    # Every step below runs in C over whole lists (str.count, dict.fromkeys, map): a Python
    # generator per frame was most of the read time on files with 10^6 frames.
    lengths = np.fromiter(map(str.count, stacks, itertools.repeat(";")), dtype=np.int64, count=len(stacks)) + 1
    lengths[np.fromiter(map(len, stacks), dtype=np.int64, count=len(stacks)) == 0] = 0
    offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = ";".join(filter(None, stacks)).split(";") if offsets[-1] else []
    del stacks
    ids: dict[str, int | None] = dict.fromkeys(tokens)  # each distinct frame string once, in order
    distinct = list(ids)
    ids.update(zip(distinct, range(len(distinct)), strict=True))  # in place: no rehash into a new dict
    flat = np.fromiter(map(ids.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    del tokens, ids
    frames, parsed = _parse_distinct(distinct)
    table = FrameTable(max_frames=lim.max_frames)
    # distinct strings parse to distinct frames (render_frame inverts parse_frame), so the
    # table takes them in bulk, without hashing each into its index
    remap = np.asarray(table.load_distinct(frames), dtype=np.int64)
    if flat.size:
        flat = remap[flat]
    profile = Profile([SAMPLES], name=name, frames=table, limits=lim.profile_limits())
    profile.meta["format"] = "collapsed"
    # plain names are Frame(name): neither pseudo-frames nor Python, so only parsed ones tell
    if any(f.module in ("thread", "process") or f.runtime == Runtime.PYTHON for f in parsed):
        profile.source = "py-spy"
    profile.add_stackset(StackSet(table, flat, offsets, counts.reshape(-1, 1)))
    return profile


def _format_count(v: float) -> str:
    if v.is_integer() and abs(v) < 2**63:
        return str(int(v))
    return repr(v)


def write_collapsed(profile: Profile, sample_index: int | str | None = None) -> str:
    """One ``frames count`` line per distinct stack with a non-zero value, root first."""
    col = resolve_sample_index(profile, sample_index)
    ss = profile.to_stackset()
    vals = ss.values[:, col]
    labels = [render_frame(f) for f in profile.frames]
    flat = ss.frames.tolist()
    off = ss.offsets.tolist()
    out: list[str] = []
    for i in np.flatnonzero(vals != 0).tolist():
        v = float(vals[i])
        if not math.isfinite(v):
            continue
        names = ";".join([labels[f] for f in flat[off[i] : off[i + 1]]])
        out.append(f"{names} {_format_count(v)}")
    return "\n".join(out) + ("\n" if out else "")
