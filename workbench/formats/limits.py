"""Safety limits for reading untrusted profile files, and a gzip reader that honours them.

Profiles come from colleagues, CI artefacts and services we do not control, so every
reader takes a ``ReadLimits``: sizes are checked before work is done (a gzip bomb is
refused after expanding at most one chunk past the limit), and depth and frame caps
become visible truncation markers in the model rather than unbounded memory.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass

import numpy as np

from ..errors import FormatError, LimitExceeded
from ..model import ProfileLimits
from ..model.profile import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES
from ..model.units import format_bytes

MiB = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"

# Decompression proceeds in bounded steps: at most this much output exists beyond the
# limit when a bomb is detected, and input is fed in slices so zlib's unconsumed-tail
# copies stay small.
_OUT_CHUNK = 4 * MiB
_IN_CHUNK = 1 * MiB


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """Caps applied while reading one file.

    ``max_depth`` and ``max_frames`` do not refuse a file: stacks deeper than
    ``max_depth`` are cut with a ``[stack truncated]`` marker and frames past
    ``max_frames`` fold into ``[frame table full]``, so a hostile file costs bounded
    memory but the user still sees what was readable. The byte, line and nesting
    limits refuse the input with ``LimitExceeded``.
    """

    max_compressed_bytes: int = 256 * MiB  # bytes read from disk or the network
    max_decompressed_bytes: int = 512 * MiB  # payload after gunzip (or the file itself); readers need a few x this
    max_depth: int = DEFAULT_MAX_DEPTH  # frames per stack kept
    max_frames: int = 1_000_000  # distinct frames interned
    max_nodes: int = DEFAULT_MAX_NODES  # call-tree nodes
    max_total_frames: int = 64_000_000  # frames over all stacks after inline expansion (8 bytes each)
    max_line_length: int = 16 * MiB  # one collapsed-stack line (a 10k-frame stack is < 1 MiB)
    max_json_nesting: int = 64  # speedscope needs 5 levels; json recursion must never be reached

    def profile_limits(self) -> ProfileLimits:
        return ProfileLimits(max_depth=self.max_depth, max_nodes=self.max_nodes)


def read_file_limited(path: str, limits: ReadLimits) -> bytes:
    """The bytes of ``path``, refusing files over ``max_compressed_bytes`` before reading."""
    try:
        size = os.path.getsize(path)
        if size > limits.max_compressed_bytes:
            raise LimitExceeded(
                f"file is {format_bytes(size)}, over the {format_bytes(limits.max_compressed_bytes)} read limit",
                "raise ReadLimits.max_compressed_bytes if the file is trusted",
                path=path,
            )
        with open(path, "rb") as fh:
            # read the file's size plus one byte (read(n) allocates n up front, so never ask for
            # the whole limit for a small file); more arrived means it grew while we read
            want = min(size, limits.max_compressed_bytes) + 1
            data = fh.read(want)
            if len(data) == want:
                data += fh.read(limits.max_compressed_bytes + 1 - len(data))
    except IsADirectoryError as exc:
        raise FormatError("is a directory, not a profile file", "pass a file", path=path) from exc
    except FileNotFoundError as exc:
        raise FormatError("no such file", "check the path", path=path) from exc
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror}", "check the path and permissions", path=path) from exc
    if len(data) > limits.max_compressed_bytes:
        raise LimitExceeded(
            f"file is over the {format_bytes(limits.max_compressed_bytes)} read limit",
            "raise ReadLimits.max_compressed_bytes if the file is trusted",
            path=path,
        )
    return data


def is_gzip(data: bytes | memoryview) -> bool:
    return bytes(data[:2]) == GZIP_MAGIC


def safe_gunzip(data: bytes, limits: ReadLimits | None = None) -> bytes:
    """Decompress gzip (one or more members) without ever holding more than the limit.

    Raises ``LimitExceeded`` naming the byte count reached when the output would pass
    ``max_decompressed_bytes``, and ``FormatError`` with the input offset for corrupt or
    truncated streams.
    """
    lim = limits or ReadLimits()
    max_out = lim.max_decompressed_bytes
    out = bytearray()
    pos = 0
    n = len(data)
    view = memoryview(data)
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header required
        member_start = pos
        while pos < n and not d.eof:
            end = min(n, pos + _IN_CHUNK)
            tail: bytes | memoryview = view[pos:end]
            try:
                while True:
                    piece = d.decompress(tail, _OUT_CHUNK)
                    out += piece
                    if len(out) > max_out:
                        raise LimitExceeded(
                            f"gzip data expands past {len(out)} bytes (limit {max_out}); refused as a "
                            f"possible decompression bomb after reading {end - len(d.unconsumed_tail)} of {n} compressed bytes",
                            "raise ReadLimits.max_decompressed_bytes if the file is trusted",
                        )
                    tail = d.unconsumed_tail
                    if d.eof or (not tail and len(piece) < _OUT_CHUNK):
                        break
            except zlib.error as exc:
                raise FormatError(
                    f"corrupt gzip data ({exc})",
                    "the file is damaged; fetch or export it again",
                    offset=pos,
                ) from None
            # unused_data is what is left of the slice we fed after this member's end
            pos = end - len(d.unused_data) if d.eof else end
        if not d.eof:
            raise FormatError(
                f"truncated gzip data: the stream ends at byte {n} before its end marker"
                f" (member started at byte {member_start})",
                "the file was cut off; fetch or export it again",
                offset=n,
            )
        rest = view[pos:]
        # more members (concatenated gzip) continue; trailing zero padding is tolerated
        if len(rest) >= 2 and bytes(rest[:2]) == GZIP_MAGIC:
            continue
        if bytes(rest).strip(b"\0"):
            raise FormatError(
                "unexpected data after the end of the gzip stream",
                "the file is damaged; fetch or export it again",
                offset=pos,
            )
        return bytes(out)


def maybe_gunzip(data: bytes, limits: ReadLimits) -> bytes:
    """Gunzip when the magic says so; otherwise check the raw payload size."""
    if is_gzip(data):
        return safe_gunzip(data, limits)
    if len(data) > limits.max_decompressed_bytes:
        raise LimitExceeded(
            f"input is {format_bytes(len(data))}, over the {format_bytes(limits.max_decompressed_bytes)} limit",
            "raise ReadLimits.max_decompressed_bytes if the file is trusted",
        )
    return data


def json_nesting_depth(data: bytes) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text, found without parsing it.

    Python's json module recurses per nesting level, so hostile input like ``[[[[...``
    must be refused before ``json.loads`` sees it. Vectorised: only quote and bracket
    positions are materialised, never a per-byte Python loop.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(arr == 0x22)
    if quotes.size:
        bs = np.flatnonzero(arr == 0x5C)
        if bs.size:
            # start of the backslash run that ends right before each quote
            run_break = np.ones(bs.size, dtype=bool)
            run_break[1:] = np.diff(bs) != 1
            run_start = np.maximum.accumulate(np.where(run_break, np.arange(bs.size), 0))
            k = np.searchsorted(bs, quotes - 1)  # index of bs == quote-1 if present
            k_ok = k < bs.size
            hit = np.zeros(quotes.size, dtype=bool)
            hit[k_ok] = bs[k[k_ok]] == quotes[k_ok] - 1
            run_len = np.zeros(quotes.size, dtype=np.int64)
            kh = k[hit]
            run_len[hit] = kh - run_start[kh] + 1
            quotes = quotes[(run_len % 2) == 0]
    opens = (arr == 0x5B) | (arr == 0x7B)
    closes = (arr == 0x5D) | (arr == 0x7D)
    br = np.flatnonzero(opens | closes)
    if br.size == 0:
        return 0
    inside = (np.searchsorted(quotes, br) % 2) == 1
    br = br[~inside]
    if br.size == 0:
        return 0
    sign = np.where(opens[br], 1, -1)
    return int(np.cumsum(sign).max())


def check_json_nesting(data: bytes, limits: ReadLimits) -> None:
    depth = json_nesting_depth(data)
    if depth > limits.max_json_nesting:
        raise LimitExceeded(
            f"JSON is nested {depth} levels deep (limit {limits.max_json_nesting})",
            "this is not a profile file; check its source",
        )
