"""Profile file formats: one dispatch API over per-format readers and writers.

``detect_format`` picks a format from an explicit name, the file extension, or the
first bytes of the file; ``read_profiles`` and ``write_profile`` dispatch to the
per-format module. Format modules are imported lazily by name, so ``workbench
convert`` of a collapsed file never pays for protobuf, SQLite or the SVG writer,
and modules owned by other areas (svg, wbs, memray_file) are found at call time.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import FormatError, UnknownFormat
from .limits import ReadLimits, read_file_limited

if TYPE_CHECKING:
    from ..model import Profile

FORMATS = ("collapsed", "speedscope", "pprof", "svg", "wbs", "memray", "cpuprofile", "heapprofile", "heapsnapshot")

# Longest suffix first: ".speedscope.json" must win over ".json", ".pb.gz" over ".gz".
_EXTENSIONS: tuple[tuple[str, str | None], ...] = (
    (".speedscope.json", "speedscope"),
    (".collapsed", "collapsed"),
    (".folded", "collapsed"),
    (".txt", "collapsed"),
    (".pb.gz", "pprof"),
    (".pprof", "pprof"),
    (".pb", "pprof"),
    (".svg", "svg"),
    (".wbs", "wbs"),
    (".bin", "memray"),
    (".cpuprofile", "cpuprofile"),
    (".heapprofile", "heapprofile"),
    (".heapsnapshot", "heapsnapshot"),
    (".json", None),  # speedscope or not: decided by content
)
SUPPORTED_EXTENSIONS = tuple(ext for ext, _ in _EXTENSIONS)

# Formats we can read into profiles, and formats we can write one profile to.
_READABLE = ("collapsed", "speedscope", "pprof", "wbs", "memray", "cpuprofile", "heapprofile", "heapsnapshot")
_DEVTOOLS = ("cpuprofile", "heapprofile", "heapsnapshot")
_WRITABLE = ("collapsed", "speedscope", "pprof", "svg", "wbs")

_GZIP_MAGIC = b"\x1f\x8b"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_MEMRAY_MAGIC = b"memray"
_LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"  # memray compresses its captures with lz4 by default
_SNIFF_BYTES = 4096


def _by_extension(path: str) -> str | None:
    name = os.path.basename(path).lower()
    for ext, fmt in _EXTENSIONS:
        if name.endswith(ext):
            return fmt or "?"
    return None


def _sniff(head: bytes) -> str | None:
    """Tell the format from the first bytes of a file (gzip is pprof unless it holds text we know)."""
    if head.startswith(_GZIP_MAGIC):
        # look inside (at most _SNIFF_BYTES of output): gzipped collapsed or speedscope exist too
        try:
            inner = zlib.decompressobj(31).decompress(head, _SNIFF_BYTES)
        except zlib.error:
            inner = b""
        found = _sniff(inner) if inner and not inner.startswith(_GZIP_MAGIC) else None
        return found if found in ("collapsed", "speedscope") else "pprof"
    if head.startswith(_SQLITE_MAGIC):
        return "wbs"
    if head.startswith(_MEMRAY_MAGIC) or head.startswith(_LZ4_FRAME_MAGIC):
        return "memray"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        if b"$schema" in head or b'"shared"' in head:
            return "speedscope"
        return _sniff_devtools(text)
    if text.startswith(b"<svg") or text.startswith(b"<?xml"):
        return "svg"
    if head and _looks_collapsed(head):
        return "collapsed"
    if head and _looks_protobuf(head):
        return "pprof"
    return None


def _sniff_devtools(text: bytes) -> str | None:
    """V8 inspector JSON by its first key (DevTools and Node write them in this order)."""
    first = text[1:64].lstrip()
    for key, fmt in ((b'"nodes"', "cpuprofile"), (b'"head"', "heapprofile"), (b'"snapshot"', "heapsnapshot")):
        if first.startswith(key):
            return fmt
    return None


def _looks_collapsed(head: bytes) -> bool:
    """First complete line ends in a number after a space: ``a;b;c 12``."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if b"\n" not in head and len(head) >= _SNIFF_BYTES:
        return False
    count = line.rpartition(b" ")[2]
    if not count or b" " not in line:
        return False
    try:
        float(count)
    except ValueError:
        return False
    return True


# pprof's Profile fields by number -> allowed wire types (2 = length-delimited, 0 = varint)
_PPROF_WIRE = {1: (2,), 2: (2,), 3: (2,), 4: (2,), 5: (2,), 6: (2,), 11: (2,), 13: (0, 2)} | {
    n: (0,) for n in (7, 8, 9, 10, 12, 14, 15)
}


def _looks_protobuf(head: bytes) -> bool:
    """The first fields parse as pprof Profile fields with the right wire types."""
    pos, seen = 0, 0
    while pos < len(head) and seen < 8:
        key, pos = _varint(head, pos)
        if key is None:
            break
        num, wt = key >> 3, key & 7
        if wt not in _PPROF_WIRE.get(num, ()):
            return False
        value, pos = _varint(head, pos)
        if value is None:
            break
        if wt == 2:
            pos += value
        seen += 1
    return seen > 0


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    value = 0
    for i in range(10):
        if pos + i >= len(data):
            return None, pos
        b = data[pos + i]
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            return value, pos + i + 1
    return None, pos


def resolve_sample_index(profile: Profile, spec: int | str | None) -> int:
    """``--sample-index`` (index, type name or ``type/unit``) -> column, as a FormatError if unknown."""
    try:
        return profile.sample_index(spec)
    except KeyError:
        names = ", ".join(str(s) for s in profile.sample_types)
        raise FormatError(
            f"sample type {spec!r} is not in profile {profile.name!r}",
            f"pass --sample-index with an index or one of: {names}",
        ) from None


def _check_fmt(fmt: str) -> str:
    f = fmt.lower().strip().lstrip(".")
    aliases = {"folded": "collapsed", "txt": "collapsed", "raw": "collapsed", "pb": "pprof", "json": "speedscope"}
    f = aliases.get(f, f)
    if f not in FORMATS:
        raise UnknownFormat(
            f"unknown format {fmt!r}",
            f"use one of {', '.join(FORMATS)}",
        )
    return f


def detect_format(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """The format of ``path``: ``explicit`` if given, else the extension, else the content.

    For a path that does not exist yet (an output), only the extension is used.
    """
    if explicit:
        return _check_fmt(explicit)
    p = os.fspath(path)
    fmt = _by_extension(p)
    if fmt is not None and fmt != "?":
        return fmt
    head = b""
    if os.path.isfile(p):
        try:
            with open(p, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        except OSError as exc:
            raise FormatError(f"cannot read file: {exc.strerror}", "check the path and permissions", path=p) from exc
    sniffed = _sniff(head) if head else None
    if sniffed is not None:
        return sniffed
    raise UnknownFormat(
        f"cannot tell the profile format of {os.path.basename(p)!r}",
        f"use one of the extensions {', '.join(SUPPORTED_EXTENSIONS)} or pass --from/--to with one of "
        f"{', '.join(FORMATS)}",
        path=p,
    )


def _fmt_module(fmt: str) -> Any:
    name = {"svg": "svg", "wbs": "wbs", "memray": "memray_file"}.get(fmt, fmt)
    if fmt in _DEVTOOLS:
        name = "devtools"
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise UnknownFormat(
                f"format {fmt!r} is not available in this build",
                f"use one of {', '.join(f for f in FORMATS if f != fmt)}",
            ) from exc
        raise


def read_profiles(
    path: str | os.PathLike[str], fmt: str | None = None, limits: ReadLimits | None = None
) -> list[Profile]:
    """Every profile in the file at ``path`` (a session yields each of its profiles)."""
    p = os.fspath(path)
    fmt = detect_format(p, fmt)
    lim = limits or ReadLimits()
    if fmt not in _READABLE:
        raise UnknownFormat(
            f"{fmt} files cannot be read as profiles",
            f"read one of {', '.join(_READABLE)}",
            path=p,
        )
    if fmt == "wbs":
        session = _fmt_module("wbs").load_session(p)
        profiles: list[Profile] = [session.profiles[k] for k in session.profile_keys()]
        return profiles
    if fmt == "memray":
        return list(_fmt_module("memray").read_memray(p))
    if fmt in _DEVTOOLS:
        return [_fmt_module(fmt).read_devtools(p, fmt, lim, Path(p).name)]
    data = read_file_limited(p, lim)
    if not data:
        # a cut-off capture or export; each reader would say something less direct
        raise FormatError(
            "the file is empty (0 bytes)", "it was cut off while written; export or record it again", path=p
        )
    try:
        if fmt == "collapsed":
            from .collapsed import read_collapsed

            prof = read_collapsed(data, limits=lim, name=Path(p).name)
            return [prof]
        if fmt == "speedscope":
            from .speedscope import read_speedscope

            found: list[Profile] = read_speedscope(data, limits=lim)
            return found
        from .pprof import read_pprof

        prof = read_pprof(data, limits=lim, name=Path(p).name)
        return [prof]
    except FormatError as exc:
        if exc.path is None:
            # name the file in the message; keep the error type and position
            raise type(exc)(exc.detail, exc.fix, path=p, offset=exc.offset, line=exc.line) from None
        raise


def write_profile(
    profile: Profile, path: str | os.PathLike[str], fmt: str | None = None, sample_index: int | str | None = None
) -> None:
    """Write one profile to ``path`` in ``fmt`` (default: by the extension)."""
    p = os.fspath(path)
    if fmt:
        fmt = _check_fmt(fmt)
    else:
        ext = _by_extension(p)
        if ext is None or ext == "?":
            if ext == "?" and p.lower().endswith(".json"):
                fmt = "speedscope"
            else:
                raise UnknownFormat(
                    f"cannot tell the output format of {os.path.basename(p)!r}",
                    f"use one of the extensions {', '.join(SUPPORTED_EXTENSIONS)} or pass --to",
                    path=p,
                )
        else:
            fmt = ext
    if fmt not in _WRITABLE:
        raise UnknownFormat(f"cannot write {fmt} files", f"write one of {', '.join(_WRITABLE)}", path=p)
    if fmt == "svg":
        _fmt_module("svg").write_svg(profile, p, sample_index=sample_index, title=profile.name)
        return
    if fmt == "wbs":
        from ..model import Session

        session = Session()
        session.profiles[profile.name or "profile"] = profile
        _fmt_module("wbs").save_session(session, p)
        return
    data: bytes
    if fmt == "collapsed":
        from .collapsed import write_collapsed

        data = write_collapsed(profile, sample_index=sample_index).encode("utf-8", "surrogateescape")
    elif fmt == "speedscope":
        from .speedscope import write_speedscope

        data = write_speedscope([profile], sample_index=sample_index)
    else:
        from .pprof import write_pprof

        data = write_pprof(profile)
    _atomic_write(p, data)


def _atomic_write(path: str, data: bytes) -> None:
    """Write through a temp file and rename, so a failed export never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FormatError(
            f"cannot write file: {exc.strerror}", "check the directory exists and is writable", path=path
        ) from exc


__all__ = [
    "FORMATS",
    "SUPPORTED_EXTENSIONS",
    "ReadLimits",
    "detect_format",
    "read_profiles",
    "resolve_sample_index",
    "write_profile",
]
