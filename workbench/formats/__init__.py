"""Profile file formats: one dispatch API over the format table (``formats.table``).

``detect_format`` picks a format from an explicit name, the file extension, or the
first bytes of the file; ``read_profiles`` and ``write_profile`` call the format's
reader or writer from the table. Format modules are imported when first used, so
``workbench convert`` of a collapsed file never pays for protobuf, SQLite or the SVG
writer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import FormatError, UnknownFormat
from .limits import ReadLimits
from .sniff import SNIFF_BYTES
from .table import BY_NAME, JSON_EXTENSION, JSON_WRITE, SPECS, SUPPORTED_EXTENSIONS, by_alias, by_extension, sniff

if TYPE_CHECKING:
    from ..model import Profile


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


FORMATS = tuple(s.name for s in SPECS)
_READABLE = tuple(s.name for s in SPECS if s.read is not None)
_WRITABLE = tuple(s.name for s in SPECS if s.write is not None)


def _check_fmt(fmt: str) -> str:
    f = by_alias(fmt)
    if f is None:
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
    fmt = by_extension(p)
    if fmt is not None and fmt != "?":
        return fmt
    head = b""
    if os.path.isfile(p):
        try:
            with open(p, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
        except OSError as exc:
            raise FormatError(f"cannot read file: {exc.strerror}", "check the path and permissions", path=p) from exc
    sniffed = sniff(head)
    if sniffed is not None:
        return sniffed
    raise UnknownFormat(
        f"cannot tell the profile format of {os.path.basename(p)!r}",
        f"use one of the extensions {', '.join(SUPPORTED_EXTENSIONS)} or pass --from/--to with one of "
        f"{', '.join(FORMATS)}",
        path=p,
    )


def read_profiles(
    path: str | os.PathLike[str], fmt: str | None = None, limits: ReadLimits | None = None
) -> list[Profile]:
    """Every profile in the file at ``path`` (a session yields each of its profiles)."""
    p = os.fspath(path)
    fmt = detect_format(p, fmt)
    read = BY_NAME[fmt].read
    if read is None:
        raise UnknownFormat(
            f"{fmt} files cannot be read as profiles",
            f"read one of {', '.join(_READABLE)}",
            path=p,
        )
    try:
        return read(p, limits or ReadLimits())
    except FormatError as exc:
        # readers of bytes never saw the file name: name it; keep the error type and position
        raise exc.with_path(p) from None


def output_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format to write ``path`` in: ``fmt`` if given, else the extension (``.json`` is speedscope)."""
    p = os.fspath(path)
    if fmt:
        return _check_fmt(fmt)
    ext = by_extension(p)
    if ext == "?" and p.lower().endswith(JSON_EXTENSION):
        return JSON_WRITE
    if ext is None or ext == "?":
        raise UnknownFormat(
            f"cannot tell the output format of {os.path.basename(p)!r}",
            f"use one of the extensions {', '.join(SUPPORTED_EXTENSIONS)} or pass --to",
            path=p,
        )
    return ext


def write_profile(
    profile: Profile, path: str | os.PathLike[str], fmt: str | None = None, sample_index: int | str | None = None
) -> None:
    """Write one profile to ``path`` in ``fmt`` (default: by the extension), atomically."""
    from .atomic import atomic_write

    p = os.fspath(path)
    fmt = output_format(p, fmt)
    write = BY_NAME[fmt].write
    if write is None:
        raise UnknownFormat(f"cannot write {fmt} files", f"write one of {', '.join(_WRITABLE)}", path=p)
    atomic_write(p, write(profile, sample_index))


__all__ = [
    "FORMATS",
    "SUPPORTED_EXTENSIONS",
    "ReadLimits",
    "detect_format",
    "output_format",
    "read_profiles",
    "resolve_sample_index",
    "write_profile",
]
