"""Bad-input matrix, files: every broken or hostile profile file ends in one clear line and exit 2.

Each case goes through the real CLI entry (``workbench.cli.main.main``, in process so
the matrix stays fast): exit code 2, exactly one line on stderr that names the file,
says what is wrong and how to fix it, and no traceback (anything but a
``WorkbenchError`` would propagate out of ``main`` and fail the test).
"""

from __future__ import annotations

import gzip
import json
import resource
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers.memray import memray_run
from tests.helpers.svg import assert_no_markup_from_names
from tests.reliability import bad_files as B
from workbench.cli.main import main
from workbench.errors import FormatError, LimitExceeded
from workbench.formats import ReadLimits, read_profiles
from workbench.formats.pprof import read_pprof
from workbench.model import SAMPLES, TRUNCATED_STACK, Frame, Profile, Runtime

PPROF_FIX = "fix: the profile is corrupt or not a pprof file; fetch or export it again"
SPEEDSCOPE_FIX = "fix: the file is not a valid speedscope profile; export it again"


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI; assert exit 2 and one stderr line with a fix, no traceback; return the line."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("workbench: error: ") and "; fix: " in err, err
    assert "Traceback" not in err
    return err.strip()


def info_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    line = cli_error(capsys, "info", str(path))
    assert str(path) in line
    return line.removeprefix(f"workbench: error: {path}")


# ------------------------------------------------------------------- gzip / empty / protobuf


def test_gzip_bomb_refused_within_bounded_memory() -> None:
    # 200 MiB of zeros in ~200 KiB; the limit is lowered so the case stays fast
    bomb = B.gzip_bomb(200 << 20)
    assert len(bomb) < 300_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(LimitExceeded, match=r"refused as a possible decompression bomb") as err:
        read_pprof(bomb, limits=ReadLimits(max_decompressed_bytes=32 << 20))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 120  # limit + one 4 MiB chunk + copies, never the 200 MiB payload
    assert "gzip data expands past" in err.value.message
    assert err.value.fix == "raise ReadLimits.max_decompressed_bytes if the file is trusted"


def test_gzip_bomb_via_read_profiles_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pb.gz"
    path.write_bytes(B.gzip_bomb(64 << 20))
    with pytest.raises(LimitExceeded) as err:
        read_profiles(path, limits=ReadLimits(max_decompressed_bytes=8 << 20))
    assert str(err.value).startswith(f"{path}: gzip data expands past")


def test_truncated_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = B.pprof()[:-12]
    line = info_error(tmp_path, capsys, "cut.pb.gz", data)
    assert line == (
        f", byte {len(data)}: truncated gzip data: the stream ends at byte {len(data)} before its end marker "
        "(member started at byte 0); fix: the file was cut off; fetch or export it again"
    )


@pytest.mark.parametrize("name", ["empty.pb.gz", "empty.collapsed", "empty.speedscope.json", "empty.pprof"])
def test_zero_byte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    line = info_error(tmp_path, capsys, name, b"")
    assert line == ": the file is empty (0 bytes); fix: it was cut off while written; export or record it again"


def test_invalid_protobuf(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "junk.pb", b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert line.startswith(": not a valid pprof protobuf (")
    assert line.endswith(PPROF_FIX)


def test_gzip_of_garbage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "junk.pb.gz", gzip.compress(b"\xff" * 64))
    assert line.startswith(": not a valid pprof protobuf (") and line.endswith(PPROF_FIX)


# ------------------------------------------------------------------------------ pprof fields


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            {"functions": [(1, 99, 5), (2, 4, 5)]},
            "a function name refers to string 99, but the string table has 6 entries",
        ),
        (
            {"functions": [(1, 3, 77), (2, 4, 5)]},
            "a function file name refers to string 77, but the string table has 6 entries",
        ),
        ({"sample_types": [(1, 40)]}, "sample_type[0].unit refers to string 40, but the string table has 6 entries"),
        (
            {"functions": [(0, 3, 5), (2, 4, 5)], "locations": [(1, [2]), (2, [2])]},
            "function id 0 is reserved (ids start at 1)",
        ),
        (
            {"locations": [(0, [1]), (2, [2])], "samples": [([2], [1])]},
            "location id 0 is reserved (ids start at 1)",
        ),
        ({"samples": [([7, 1], [5])]}, "a sample refers to location id 7, which is not in the profile"),
        ({"locations": [(1, [1]), (2, [9])]}, "a location line refers to function id 9, which is not in the profile"),
        ({"functions": [(1, 3, 5), (1, 4, 5)]}, "function id 1 appears more than once"),
        ({"sample_types": []}, "the profile declares no sample types"),
        ({"samples": [([2, 1], [5, 6])]}, "sample 0 has 2 values but the profile declares 1 sample types"),
        ({"strings": ["x", "samples", "count", "main", "work", "app.go"]}, "string_table[0] must be the empty string"),
    ],
    ids=[
        "string-index-out-of-range",
        "file-string-out-of-range",
        "sample-type-string-out-of-range",
        "function-id-0",
        "location-id-0",
        "dangling-location-id",
        "dangling-function-id",
        "duplicate-function-id",
        "no-sample-types",
        "value-count-mismatch",
        "string-0-not-empty",
    ],
)
def test_pprof_references(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict, expected: str) -> None:
    line = info_error(tmp_path, capsys, "bad.pb.gz", B.pprof(**case))
    assert line == f": {expected}; {PPROF_FIX}"


def test_pprof_negative_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "diff.pb.gz", B.pprof(samples=[([2, 1], [5]), ([1], [-5])]))
    assert line == (
        ": sample 1 has a negative value; fix: negative values come from diff profiles (pprof -diff_base), "
        "which are not supported; open the two profiles and diff them in the workbench"
    )


def test_pprof_many_unique_functions_fold_past_the_frame_cap() -> None:
    # a million is measured in the report (linear; ~45 s on the loaded CI box): 120k against a 100k cap here
    prof = read_pprof(B.pprof_unique_functions(120_000), limits=ReadLimits(max_frames=100_000))
    assert len(prof.frames) <= 100_001
    assert "[frame table full]" in {f.function for f in prof.frames}
    assert prof.totals()[0] == 120_000  # nothing dropped: the excess folds into the marker frame


def test_pprof_10000_frame_stack_kept_without_recursion() -> None:
    prof = read_pprof(B.pprof_deep_stack(10_000))
    leaf = int(prof.depth.argmax())
    frames = prof.stack_frames(leaf)
    # cut at the depth cap with a visible marker as the last kept level, never a RecursionError
    assert len(frames) == prof.limits.max_depth < 10_000
    assert frames[0].function == "level0"
    assert frames[-1] == TRUNCATED_STACK
    assert prof.truncated_stacks == 1
    assert prof.totals()[0] == 1
    whole = read_pprof(B.pprof_deep_stack(10_000), limits=ReadLimits(max_depth=20_000))
    assert int(whole.depth.max()) == 10_000


def test_pprof_10000_frame_stack_through_svg_and_speedscope(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "deep.pb.gz"
    src.write_bytes(B.pprof_deep_stack(10_000))
    for out in ("deep.svg", "deep.speedscope.json", "deep.collapsed"):
        assert main(["convert", str(src), str(tmp_path / out)]) == 0
    capsys.readouterr()
    ET.parse(tmp_path / "deep.svg")  # well-formed despite the depth


# -------------------------------------------------------------------------------- collapsed


def test_collapsed_line_without_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.collapsed", b"main;work 3\nmain;idle\n")
    assert line == ", line 2: no sample count at the end of the line; fix: lines look like 'a;b;c 12'"


def test_collapsed_count_not_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.collapsed", b"main;work 3\nmain;idle three\n")
    assert line == ", line 2: sample count 'three' is not a number; fix: lines look like 'a;b;c 12'"


def test_collapsed_negative_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.collapsed", b"main;work -3\n")
    assert line == ", line 1: sample count -3 is negative; fix: counts must be >= 0"


def test_collapsed_nan_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.collapsed", b"main;work 1\nmain;x nan\n")
    assert line == ", line 2: sample count nan is not finite; fix: counts must be >= 0"


def test_collapsed_nul_and_ansi_names_are_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "esc.collapsed"
    src.write_bytes(b"main;wo\x00rk;\x1b[31mred\x1b[0m 3\n")
    assert main(["info", str(src), "--json"]) == 0
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    names = {t["function"] for t in doc["profiles"][0]["top"]}
    assert "\x1b[31mred\x1b[0m" in names or "\\x1b[31mred\\x1b[0m" in names
    # the text view must not pass raw escapes to the terminal
    assert main(["info", str(src)]) == 0
    text, _ = capsys.readouterr()
    assert "\x1b" not in text and "\x00" not in text
    assert main(["convert", str(src), str(tmp_path / "esc.svg")]) == 0
    ET.parse(tmp_path / "esc.svg")  # NUL/ESC would make the XML ill-formed


def test_collapsed_one_megabyte_line_is_read(tmp_path: Path) -> None:
    src = tmp_path / "long.collapsed"
    name = "f" * (1 << 20)
    src.write_bytes(f"main;{name} 4\n".encode())
    [prof] = read_profiles(src)
    assert prof.totals()[0] == 4
    assert max(len(f.function) for f in prof.frames) == 1 << 20


def test_collapsed_line_past_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "long.collapsed", b"a" * (17 << 20) + b" 1\n")
    assert line == (
        f", line 1: line is {(17 << 20) + 2} characters long (limit 16777216); "
        "fix: this does not look like collapsed stacks; raise ReadLimits.max_line_length if it is"
    )


# ------------------------------------------------------------------------------- speedscope


def test_speedscope_wrong_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": []}, "profiles": {}}
    line = info_error(tmp_path, capsys, "x.speedscope.json", json.dumps(doc).encode())
    assert line == f': no "profiles" list: this JSON is not a speedscope file; {SPEEDSCOPE_FIX}'


def test_speedscope_missing_shared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.speedscope.json", b'{"$schema": "x", "profiles": []}')
    assert line == f': missing "shared": {{"frames": [...]}}; {SPEEDSCOPE_FIX}'


def test_speedscope_frame_without_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.speedscope.json", B.speedscope([{"file": "a.py"}], [[0]], [1]))
    assert line == f": shared frame 0 has no name; {SPEEDSCOPE_FIX}"


def test_speedscope_deep_nesting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b'{"$schema":"x","shared":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    line = info_error(tmp_path, capsys, "x.speedscope.json", data)
    assert line == ": JSON is nested 100001 levels deep (limit 64); fix: this is not a profile file; check its source"


def test_speedscope_huge_weight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = B.speedscope([{"name": "a"}], [[0]], [1.0]).replace(b'"weights": [1.0]', b'"weights": [1e999]')
    line = info_error(tmp_path, capsys, "x.speedscope.json", data)
    assert line == f": sampled profile 0 has a negative or non-finite weight; {SPEEDSCOPE_FIX}"


def test_speedscope_huge_frame_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.speedscope.json", B.speedscope([{"name": "a"}], [[10**30]], [1]))
    assert line == f": sampled profile 0 has a sample or weight that is not a number list; {SPEEDSCOPE_FIX}"


def test_speedscope_frame_index_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.speedscope.json", B.speedscope([{"name": "a"}], [[5]], [1]))
    assert line == f": sampled profile 0 refers to frame 5, but there are 1 shared frames; {SPEEDSCOPE_FIX}"


def test_speedscope_cut_off_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "x.speedscope.json", b'{"$schema": ')
    assert line == f", line 1, byte 12: not valid JSON (Expecting value); {SPEEDSCOPE_FIX}"


# ----------------------------------------------------------------------------------- memray


@pytest.fixture(scope="module")
def memray_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return memray_run(tmp_path_factory.mktemp("memray"), "x = [bytearray(1000) for _ in range(100)]\n", compress=False)


def test_memray_truncated(tmp_path: Path, capsys: pytest.CaptureFixture[str], memray_capture: Path) -> None:
    line = info_error(tmp_path, capsys, "cut.bin", memray_capture.read_bytes()[:100])
    assert line.startswith(": ")
    assert "fix: the file is truncated or is not a memray capture" in line


def test_memray_other_version(tmp_path: Path, capsys: pytest.CaptureFixture[str], memray_capture: Path) -> None:
    data = bytearray(memray_capture.read_bytes())
    data[7] = (data[7] + 1) % 256  # the header's file format version
    line = info_error(tmp_path, capsys, "skewed.bin", bytes(data))
    assert "incompatible with this version" in line


def test_memray_magic_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = info_error(tmp_path, capsys, "magic.bin", b"memray" + bytes(20))
    assert line.startswith(": cannot read memray capture: ")
    assert line.endswith(
        "fix: the file is truncated or is not a memray capture; re-record it with `memray run -o FILE script.py`"
    )


# ------------------------------------------------------------------------ hostile names


HOSTILE = ["</script>", '"><img src=x onerror=alert(1)>', "]]>", "{{7*7}}"]


def hostile() -> Profile:
    p = Profile([SAMPLES], name="hostile")
    for i, name in enumerate(HOSTILE):
        p.add_stack(
            [Frame("main", "app.py", 1, runtime=Runtime.PYTHON), Frame(name, name, i + 1, runtime=Runtime.PYTHON)], [10]
        )
        p.add_stack([Frame(name)], [5])
    return p


@pytest.fixture
def hostile_src(tmp_path: Path) -> Path:
    from workbench.formats import write_profile

    src = tmp_path / "hostile.pb.gz"
    write_profile(hostile(), src)
    return src


def test_hostile_names_in_svg(tmp_path: Path, hostile_src: Path) -> None:
    out = tmp_path / "h.svg"
    assert main(["convert", str(hostile_src), str(out)]) == 0
    root = ET.parse(out).getroot()
    assert_no_markup_from_names(root)
    text = "".join(root.itertext())
    for name in HOSTILE:
        assert name in text  # kept as text, not dropped and not markup
    raw = out.read_text()
    assert "<img" not in raw and '</script>"' not in raw and "{{7*7}}" in raw  # escaped, templates inert


@pytest.mark.parametrize("ext", [".speedscope.json", ".collapsed", ".pb.gz", ".wbs"])
def test_hostile_names_round_trip_as_data(tmp_path: Path, hostile_src: Path, ext: str) -> None:
    out = tmp_path / f"h{ext}"
    assert main(["convert", str(hostile_src), str(out)]) == 0
    [back] = read_profiles(out)
    names = {f.function for f in back.frames}
    assert set(HOSTILE) <= names
    assert back.totals()[0] == hostile().totals()[0]


def test_hostile_names_in_info_json(hostile_src: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(hostile_src), "--json"]) == 0
    out, _ = capsys.readouterr()
    names = {t["function"] for t in json.loads(out)["profiles"][0]["top"]}
    assert set(HOSTILE) <= names


def test_read_profiles_error_is_typed() -> None:
    assert issubclass(LimitExceeded, FormatError)
