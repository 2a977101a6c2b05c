"""memray capture files (real `memray run` output) read into profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.memray import function_totals, memray_run
from workbench.errors import FormatError
from workbench.formats import detect_format, read_profiles
from workbench.formats.limits import ReadLimits
from workbench.formats.memray_file import read_memray
from workbench.model import INUSE_OBJECTS, INUSE_SPACE, TRUNCATED_STACK

PROGRAM = """
keep = []
def big():
    keep.append(bytearray(400_000))
def small():
    keep.append(bytearray(40_000))
for _ in range(50):
    big()
    small()
held = bytearray(3_000_000)
del keep[:25]
"""

DEEP = """
import sys
sys.setrecursionlimit(5000)
keep = []
def down(n):
    if n == 0:
        keep.append(bytearray(1_000_000))
        return
    down(n - 1)
down(300)
"""


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return memray_run(tmp_path_factory.mktemp("memray"), PROGRAM)


def test_peak_and_leaks_views(capture: Path) -> None:
    profiles = read_memray(capture)
    names = [p.name for p in profiles]
    assert names == ["capture.bin (peak)", "capture.bin (leaks)"]
    peak, leaks = profiles
    assert peak.sample_types == (INUSE_SPACE, INUSE_OBJECTS)
    big, small = function_totals(peak, "big"), function_totals(peak, "small")
    # 50 x 400 kB vs 50 x 40 kB at the peak (before the del), 50 objects each
    assert big[0] >= 50 * 400_000 and small[0] >= 50 * 40_000
    assert big[0] > 5 * small[0]
    assert big[1] >= 50 and small[1] >= 50
    assert int(peak.meta["peak_bytes"]) >= big[0] + small[0]
    assert "memray run" in peak.meta["command_line"]
    # at exit: 25 of each were dropped, the 3 MB buffer is still held
    assert function_totals(leaks, "big")[0] >= 25 * 400_000
    assert function_totals(leaks, "<module>")[0] >= 3_000_000
    # memray's own launcher (its CLI, runpy) is not part of the program's stacks
    assert not any("/memray/" in f.file or f.file == "<frozen runpy>" for f in peak.frames)
    leaf_files = {f.file for f in peak.frames if f.function == "big"}
    assert leaf_files == {"prog.py"} or all(f.endswith("prog.py") for f in leaf_files)


def test_dispatch_by_extension(capture: Path) -> None:
    assert detect_format(capture) == "memray"
    profiles = read_profiles(capture)
    assert len(profiles) == 2
    assert profiles[0].totals()[0] > 0


@pytest.mark.parametrize("keep_bytes", [0, 16, 100, 4000])
def test_truncated_file_is_a_format_error(capture: Path, tmp_path: Path, keep_bytes: int) -> None:
    data = capture.read_bytes()
    assert len(data) > keep_bytes + 100
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:keep_bytes])
    with pytest.raises(FormatError) as err:
        read_memray(cut)
    text = str(err.value)
    assert "cut.bin" in text and "fix:" in text and "\n" not in text


def test_other_version_is_a_format_error(tmp_path: Path) -> None:
    raw = memray_run(tmp_path, PROGRAM, compress=False)
    data = bytearray(raw.read_bytes())
    assert data[:6] == b"memray"
    data[7] = (data[7] + 1) % 256  # header format version
    skewed = tmp_path / "skewed.bin"
    skewed.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="incompatible with this version") as err:
        read_memray(skewed)
    assert "memray" in err.value.fix


def test_not_a_memray_file(tmp_path: Path) -> None:
    other = tmp_path / "notes.bin"
    other.write_bytes(b"hello world, not memray\n" * 10)
    with pytest.raises(FormatError, match="not a memray capture"):
        read_memray(other)
    with pytest.raises(FormatError, match="not found"):
        read_memray(tmp_path / "missing.bin")


def test_deep_stacks_are_cut_at_the_root_with_a_marker(tmp_path: Path) -> None:
    path = memray_run(tmp_path, DEEP)
    peak = read_memray(path, limits=ReadLimits(max_depth=50))[0]
    assert int(peak.depth.max()) <= 51
    assert peak.frames.find(TRUNCATED_STACK) is not None
    assert int(peak.meta["truncated_stacks"]) >= 1
    # the allocation site itself (the leaf side) is kept
    assert function_totals(peak, "down")[0] >= 1_000_000
