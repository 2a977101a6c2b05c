"""Read limits: gzip bombs, truncated gzip, JSON nesting, file size."""

import gzip
import zlib

import pytest

from workbench.errors import FormatError, LimitExceeded
from workbench.formats.limits import (
    MiB,
    ReadLimits,
    check_json_nesting,
    json_nesting_depth,
    read_file_limited,
    safe_gunzip,
)


def test_gunzip_round_trip_and_multi_member():
    data = b"stack;frames 12\n" * 50_000
    gz = gzip.compress(data)
    assert safe_gunzip(gz) == data
    assert safe_gunzip(gz + gz) == data + data
    assert safe_gunzip(gz + b"\0\0\0") == data  # zero padding after the stream is tolerated


def test_gzip_bomb_is_refused_without_expanding_it():
    # 64 MiB of zeros compress to ~64 KB; with a 4 MiB limit at most one 4 MiB chunk past it is held
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    gz = bomb.compress(b"\0" * (64 * MiB)) + bomb.flush()
    assert len(gz) < 200_000
    with pytest.raises(LimitExceeded) as exc:
        safe_gunzip(gz, ReadLimits(max_decompressed_bytes=4 * MiB))
    msg = str(exc.value)
    assert "decompression bomb" in msg and "limit 4194304" in msg
    assert "\n" not in msg


def test_truncated_gzip_reports_offset():
    gz = gzip.compress(b"x" * 100_000 + bytes(range(256)) * 100)
    cut = gz[: len(gz) // 2]
    with pytest.raises(FormatError) as exc:
        safe_gunzip(cut)
    assert "truncated gzip" in str(exc.value)
    assert exc.value.offset == len(cut)


def test_corrupt_gzip_and_trailing_garbage():
    gz = bytearray(gzip.compress(b"hello world" * 1000))
    gz[15:25] = b"\xff" * 10
    with pytest.raises(FormatError, match="corrupt gzip"):
        safe_gunzip(bytes(gz))
    with pytest.raises(FormatError, match="after the end of the gzip stream"):
        safe_gunzip(gzip.compress(b"abc") + b"junk")


def test_json_nesting_depth_ignores_brackets_in_strings():
    assert json_nesting_depth(b'{"a": [1, {"b": "[[[\\"[["}]}') == 3
    assert json_nesting_depth(b'["\\\\", [[]]]') == 3  # escaped backslash closes the string
    assert json_nesting_depth(b"[" * 100_000) == 100_000
    with pytest.raises(LimitExceeded, match="nested 100000 levels"):
        check_json_nesting(b"[" * 100_000 + b"]" * 100_000, ReadLimits())


def test_file_size_limit(tmp_path):
    f = tmp_path / "big.collapsed"
    f.write_bytes(b"a 1\n" * 1000)
    with pytest.raises(LimitExceeded, match="read limit"):
        read_file_limited(str(f), ReadLimits(max_compressed_bytes=100))
    with pytest.raises(FormatError, match="no such file"):
        read_file_limited(str(tmp_path / "missing"), ReadLimits())
