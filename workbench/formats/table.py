"""Every profile format in one table: its name, extensions, content sniff, reader and writer.

Adding a format is adding one ``FormatSpec`` row. Readers and writers import their
format module when first called, so ``workbench convert`` of a collapsed file never
pays for protobuf, SQLite, memray or the SVG writer. Every reader takes the caller's
``ReadLimits``; every writer returns the file's bytes, which ``write_profile`` writes
atomically (see ``atomic``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FormatError
from . import sniff as sn
from .limits import ReadLimits, read_file_limited

if TYPE_CHECKING:
    from ..model import Profile

Reader = Callable[[str, ReadLimits], "list[Profile]"]
Writer = Callable[["Profile", "int | str | None"], bytes]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One format. ``read(path, limits)`` yields every profile in a file; ``write(profile,
    sample_index)`` returns one profile as the file's bytes; ``None`` where we cannot."""

    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[bytes], bool]
    read: Reader | None
    write: Writer | None
    aliases: tuple[str, ...] = ()  # other names accepted by --from/--to
    gzipped: bool = False  # may come inside a gzip container (told apart by its content)
    keeps_labels: bool = False  # its writer keeps pprof sample labels


# ------------------------------------------------------------------ readers
def _bytes_of(path: str, limits: ReadLimits) -> bytes:
    data = read_file_limited(path, limits)
    if not data:
        # a cut-off capture or export; each reader would say something less direct
        raise FormatError(
            "the file is empty (0 bytes)", "it was cut off while written; export or record it again", path=path
        )
    return data


def _read_collapsed(path: str, limits: ReadLimits) -> list[Profile]:
    from .collapsed import read_collapsed

    return [read_collapsed(_bytes_of(path, limits), limits=limits, name=Path(path).name)]


def _read_speedscope(path: str, limits: ReadLimits) -> list[Profile]:
    from .speedscope import read_speedscope

    return read_speedscope(_bytes_of(path, limits), limits=limits)


def _read_pprof(path: str, limits: ReadLimits) -> list[Profile]:
    from .pprof import read_pprof

    return [read_pprof(_bytes_of(path, limits), limits=limits, name=Path(path).name)]


def _read_wbs(path: str, limits: ReadLimits) -> list[Profile]:
    # a session holds what workbench wrote, capped by its own load limits (wbs.MAX_LOAD_*);
    # the byte limits are not applied: an hours-long recording is rightly larger than them
    from .wbs import load_session

    session = load_session(path)
    return [session.profiles[k] for k in session.profile_keys()]


def _read_memray(path: str, limits: ReadLimits) -> list[Profile]:
    from .memray_file import read_memray

    return read_memray(path, limits)


def _devtools_reader(fmt: str) -> Reader:
    def read(path: str, limits: ReadLimits) -> list[Profile]:
        from .devtools import read_devtools

        return [read_devtools(path, fmt, limits, Path(path).name)]

    return read


# ------------------------------------------------------------------ writers
def _write_collapsed(profile: Profile, sample_index: int | str | None) -> bytes:
    from .collapsed import write_collapsed

    return write_collapsed(profile, sample_index=sample_index).encode("utf-8", "surrogateescape")


def _write_speedscope(profile: Profile, sample_index: int | str | None) -> bytes:
    from .speedscope import write_speedscope

    return write_speedscope([profile], sample_index=sample_index)


def _write_pprof(profile: Profile, sample_index: int | str | None) -> bytes:
    from .pprof import write_pprof

    return write_pprof(profile)  # pprof holds every sample type


def _write_svg(profile: Profile, sample_index: int | str | None) -> bytes:
    from .svg import render_svg

    return render_svg(profile, sample_index=sample_index, title=profile.name).encode("utf-8")


def _write_wbs(profile: Profile, sample_index: int | str | None) -> bytes:
    from .wbs import profile_bytes

    return profile_bytes(profile)


# ------------------------------------------------------------------ the table
# In the order names are listed to users.
SPECS: tuple[FormatSpec, ...] = (
    FormatSpec(
        "collapsed",
        (".collapsed", ".folded", ".txt"),
        sn.is_collapsed,
        _read_collapsed,
        _write_collapsed,
        aliases=("folded", "txt", "raw"),
        gzipped=True,
    ),
    FormatSpec(
        "speedscope",
        (".speedscope.json",),
        sn.is_speedscope,
        _read_speedscope,
        _write_speedscope,
        aliases=("json",),
        gzipped=True,
    ),
    FormatSpec(
        "pprof",
        (".pb.gz", ".pprof", ".pb"),
        sn.is_pprof,
        _read_pprof,
        _write_pprof,
        aliases=("pb",),
        gzipped=True,
        keeps_labels=True,
    ),
    FormatSpec("svg", (".svg",), sn.is_svg, None, _write_svg),
    FormatSpec("wbs", (".wbs",), sn.is_wbs, _read_wbs, _write_wbs, keeps_labels=True),
    FormatSpec("memray", (".bin",), sn.is_memray, _read_memray, None),
    FormatSpec("cpuprofile", (".cpuprofile",), sn.is_cpuprofile, _devtools_reader("cpuprofile"), None),
    FormatSpec("heapprofile", (".heapprofile",), sn.is_heapprofile, _devtools_reader("heapprofile"), None),
    FormatSpec("heapsnapshot", (".heapsnapshot",), sn.is_heapsnapshot, _devtools_reader("heapsnapshot"), None),
)
BY_NAME: dict[str, FormatSpec] = {s.name: s for s in SPECS}

# Sniffing asks the exact magic numbers first and the loose text checks last ("a;b 1" is
# collapsed, and almost any bytes parse as a protobuf field or two).
SNIFF_ORDER = ("wbs", "memray", "speedscope", "cpuprofile", "heapprofile", "heapsnapshot", "svg", "collapsed", "pprof")
GZIP_DEFAULT = "pprof"  # a gzip container whose content no gzipped format claims
JSON_EXTENSION = ".json"  # speedscope or a DevTools file: decided by content; written as speedscope
JSON_WRITE = "speedscope"

# Longest suffix first: ".speedscope.json" must win over ".json", ".pb.gz" over ".gz".
_SUFFIXES: tuple[tuple[str, str | None], ...] = tuple(
    sorted(
        [(ext, s.name) for s in SPECS for ext in s.extensions] + [(JSON_EXTENSION, None)],
        key=lambda e: -len(e[0]),
    )
)
SUPPORTED_EXTENSIONS = (*(ext for s in SPECS for ext in s.extensions), JSON_EXTENSION)


def by_extension(path: str) -> str | None:
    """The format a file name says; ``"?"`` for a name whose content decides (``.json``)."""
    name = os.path.basename(path).lower()
    for ext, fmt in _SUFFIXES:
        if name.endswith(ext):
            return fmt or "?"
    return None


def by_alias(fmt: str) -> str | None:
    """The format an explicit ``--from``/``--to`` name means (``folded``, ``.pb``, ``json``...)."""
    f = fmt.lower().strip().lstrip(".")
    if f in BY_NAME:
        return f
    for s in SPECS:
        if f in s.aliases:
            return s.name
    return None


def _sniff_plain(head: bytes) -> str | None:
    for name in SNIFF_ORDER:
        if BY_NAME[name].sniff(head):
            return name
    return None


def sniff(head: bytes) -> str | None:
    """The format of a file from its first bytes (gzip is pprof unless it holds text we know)."""
    if not head:
        return None
    if head.startswith(sn.GZIP_MAGIC):
        # look inside (at most SNIFF_BYTES of output): gzipped collapsed or speedscope exist too
        inner = sn.gunzip_head(head)
        found = _sniff_plain(inner) if inner and not inner.startswith(sn.GZIP_MAGIC) else None
        return found if found is not None and BY_NAME[found].gzipped else GZIP_DEFAULT
    return _sniff_plain(head)
