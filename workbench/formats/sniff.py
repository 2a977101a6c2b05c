"""Telling a profile format from a file's first bytes: one predicate per format, no parsing.

``formats.table`` asks each format's predicate in table order (magic numbers first,
loose text checks last); the gzip container is opened here because several formats
may be gzipped. Nothing here imports a format module: sniffing must stay cheap.
"""

from __future__ import annotations

import zlib

SNIFF_BYTES = 4096
GZIP_MAGIC = b"\x1f\x8b"
SQLITE_MAGIC = b"SQLite format 3\x00"
MEMRAY_MAGIC = b"memray"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"  # memray compresses its captures with lz4 by default


def gunzip_head(head: bytes) -> bytes:
    """The start of a gzipped head's content (at most SNIFF_BYTES), or b"" if it does not inflate."""
    try:
        return zlib.decompressobj(31).decompress(head, SNIFF_BYTES)
    except zlib.error:
        return b""


def text_of(head: bytes) -> bytes:
    """The head without a UTF-8 BOM and leading white space."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")


def is_wbs(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def is_memray(head: bytes) -> bool:
    return head.startswith(MEMRAY_MAGIC) or head.startswith(LZ4_FRAME_MAGIC)


def is_json(head: bytes) -> bool:
    return text_of(head).startswith(b"{")


def is_speedscope(head: bytes) -> bool:
    return is_json(head) and (b"$schema" in head or b'"shared"' in head)


def is_devtools(head: bytes, first_key: bytes) -> bool:
    """V8 inspector JSON by its first key (DevTools and Node write them in this order)."""
    text = text_of(head)
    return text.startswith(b"{") and not is_speedscope(head) and text[1:64].lstrip().startswith(first_key)


def is_cpuprofile(head: bytes) -> bool:
    return is_devtools(head, b'"nodes"')


def is_heapprofile(head: bytes) -> bool:
    return is_devtools(head, b'"head"')


def is_heapsnapshot(head: bytes) -> bool:
    return is_devtools(head, b'"snapshot"')


def is_svg(head: bytes) -> bool:
    text = text_of(head)
    return text.startswith(b"<svg") or text.startswith(b"<?xml")


def is_collapsed(head: bytes) -> bool:
    """First complete line ends in a number after a space: ``a;b;c 12`` (JSON never is)."""
    if not head or is_json(head):
        return False
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    if b"\n" not in head and len(head) >= SNIFF_BYTES:
        return False
    count = line.rpartition(b" ")[2]
    if not count or b" " not in line:
        return False
    try:
        float(count)
    except ValueError:
        return False
    return True


def is_pprof(head: bytes) -> bool:
    """An uncompressed pprof (gzipped ones are told by the container, in ``table.sniff``)."""
    return bool(head) and not is_json(head) and is_protobuf_profile(head)


# pprof's Profile fields by number -> allowed wire types (2 = length-delimited, 0 = varint)
_PPROF_WIRE = {1: (2,), 2: (2,), 3: (2,), 4: (2,), 5: (2,), 6: (2,), 11: (2,), 13: (0, 2)} | {
    n: (0,) for n in (7, 8, 9, 10, 12, 14, 15)
}


def is_protobuf_profile(head: bytes) -> bool:
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
