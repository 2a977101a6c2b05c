"""Crashes and defects the fuzzers found, each kept as a test, plus a replay of the whole corpus.

Found so far:
- ``read_profiles`` of a 2-byte file allocated the whole 256 MiB read limit up front
  (``fh.read(limit + 1)``), seen by the memory bound of the dispatch property test.
- Errors re-raised with the file name repeated their position (``x.collapsed, line 2: line 2: ...``).
- ``make fuzz`` reported an out-of-memory on pprof after ~300k inputs: atheris' instrumentation
  grows the process (~25 KB per input), the reader alone stays flat; run.py now works in rounds.
"""

from __future__ import annotations

import contextlib
import tracemalloc
from pathlib import Path

import pytest

from workbench.cli.main import main
from workbench.errors import FormatError
from workbench.formats import ReadLimits, read_profiles
from workbench.formats.collapsed import read_collapsed
from workbench.formats.pprof import read_pprof

CORPUS = Path(__file__).parent / "corpus"
LIMITS = ReadLimits(max_decompressed_bytes=16 << 20, max_frames=50_000, max_nodes=200_000, max_total_frames=2_000_000)


@pytest.mark.parametrize("kind", ["pprof", "collapsed"])
def test_corpus_replay(kind: str) -> None:
    read = read_pprof if kind == "pprof" else read_collapsed
    files = sorted(p for p in (CORPUS / kind).iterdir() if p.is_file())
    assert files
    for p in files:
        with contextlib.suppress(FormatError):
            read(p.read_bytes(), limits=LIMITS)


def test_small_file_does_not_allocate_the_read_limit(tmp_path: Path) -> None:
    path = tmp_path / "tiny"
    path.write_bytes(b"\n\x00")
    tracemalloc.start()
    try:
        with contextlib.suppress(FormatError):
            read_profiles(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


def test_file_that_grows_while_read_is_read_whole(tmp_path: Path) -> None:
    from workbench.formats.limits import read_file_limited

    path = tmp_path / "x.collapsed"
    path.write_bytes(b"a;b 1\n")
    assert read_file_limited(str(path), ReadLimits()) == b"a;b 1\n"


def test_position_is_not_repeated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "x.collapsed"
    path.write_bytes(b"a;b 1\nc;d\n")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("line 2") == 1, err
