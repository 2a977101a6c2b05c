"""Interned frames: every profile source maps its locations onto one ``Frame`` type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Runtime(StrEnum):
    PYTHON = "python"
    GO = "go"
    NATIVE = "native"
    NODE = "node"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Frame:
    """One code location. ``module`` is the package a user would colour by."""

    function: str
    file: str = ""
    line: int = 0
    module: str = ""
    runtime: Runtime = Runtime.OTHER

    def label(self) -> str:
        """Short text for boxes and tables: ``function (file:line)`` when known."""
        if self.file:
            base = self.file.rsplit("/", 1)[-1]
            return f"{self.function} ({base}:{self.line})" if self.line else f"{self.function} ({base})"
        return self.function

    def package(self) -> str:
        return self.module or package_of(self.function, self.file, self.runtime)


def plain_frames(names: list[str]) -> list[Frame]:
    """``[Frame(n) for n in names]`` at half the cost: readers make up to a million at once.

    The frozen dataclass's ``__init__`` sets each of the five slots through
    ``object.__setattr__``; here the slot descriptors are called directly (no Python
    frame per field). The result compares, hashes and pickles as ``Frame(n)`` does.
    """
    new = object.__new__
    slot = vars(Frame)  # the member descriptors of __slots__
    set_fn, set_file, set_line = slot["function"].__set__, slot["file"].__set__, slot["line"].__set__
    set_mod, set_rt = slot["module"].__set__, slot["runtime"].__set__
    other = Runtime.OTHER
    out: list[Frame] = []
    append = out.append
    for name in names:
        f = new(Frame)
        set_fn(f, name)
        set_file(f, "")
        set_line(f, 0)
        set_mod(f, "")
        set_rt(f, other)
        append(f)
    return out


# Marker frames: visible in every view so a truncation is never silent.
TRUNCATED_STACK = Frame("[stack truncated]", runtime=Runtime.OTHER)
FRAMES_OVERFLOW = Frame("[frame table full]", runtime=Runtime.OTHER)
NODES_OVERFLOW = Frame("[node budget exceeded]", runtime=Runtime.OTHER)

_GO_PKG = re.compile(r"^((?:[\w.\-~]+/)*[\w.\-~]+?)\.")


def package_of(function: str, file: str, runtime: Runtime) -> str:
    """Best-effort package: Go import path, Python top-level module, else the file's dir."""
    if runtime == Runtime.GO:
        m = _GO_PKG.match(function)
        return m.group(1) if m else ""
    if runtime == Runtime.PYTHON and file:
        path = file.replace("\\", "/")
        for marker in ("site-packages/", "dist-packages/", "/lib/python3"):
            idx = path.find(marker)
            if idx >= 0:
                rest = path[idx + len(marker) :]
                if marker.startswith("/lib/python3"):
                    rest = rest.split("/", 1)[-1] if "/" in rest else rest
                    return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
                return rest.split("/", 1)[0].removesuffix(".py")
        return path.rsplit("/", 1)[-1].removesuffix(".py")
    if file:
        return file.replace("\\", "/").rsplit("/", 1)[0]
    return ""


class FrameTable:
    """Append-only intern table. Ids are dense ints; a cap turns the excess into one marker."""

    def __init__(self, max_frames: int = 1_000_000) -> None:
        self.max_frames = max_frames
        self._frames: list[Frame] = []
        self._ids: dict[Frame, int] = {}
        self._ids_stale = False  # set by a bulk load; the index is rebuilt on next lookup
        self.overflowed = 0  # how many interns were folded into FRAMES_OVERFLOW

    def _index(self) -> dict[Frame, int]:
        if self._ids_stale:
            # reversed: with (unexpected) equal frames, the first id wins, as intern() would
            n = len(self._frames)
            self._ids = dict(zip(reversed(self._frames), range(n - 1, -1, -1), strict=True))
            self._ids_stale = False
        return self._ids

    def load_distinct(self, frames: list[Frame]) -> list[int]:
        """Bulk-intern pairwise distinct frames into an empty table; returns their ids.

        Readers of big files call this with one frame per distinct token (a million
        frames is common in collapsed files): hashing every frame into the id index
        costs as much as parsing them, so the index is built only if a lookup follows.
        Frames past ``max_frames`` fold into the overflow marker, as with ``intern``.
        """
        if self._frames:
            return [self.intern(f) for f in frames]
        keep = min(len(frames), self.max_frames)
        self._frames = frames[:keep]
        self._ids_stale = True
        ids = list(range(keep))
        if keep < len(frames):
            over = len(frames) - keep
            ov = self.intern(FRAMES_OVERFLOW)  # the table is full: this counts one fold
            self.overflowed += over - 1
            ids.extend([ov] * over)
        return ids

    def intern(self, frame: Frame) -> int:
        if self._ids_stale:
            self._index()
        fid = self._ids.get(frame)
        if fid is not None:
            return fid
        if len(self._frames) >= self.max_frames:
            self.overflowed += 1
            frame = FRAMES_OVERFLOW
            fid = self._ids.get(frame)
            if fid is not None:
                return fid
        fid = len(self._frames)
        self._frames.append(frame)
        self._ids[frame] = fid
        return fid

    def __getitem__(self, fid: int) -> Frame:
        return self._frames[fid]

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._frames)

    def find(self, frame: Frame) -> int | None:
        return self._index().get(frame)

    def functions(self) -> list[str]:
        return [f.function for f in self._frames]
