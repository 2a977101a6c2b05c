"""The format table: every format read back through it by extension and by sniffing; with_path; atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.memray import memray_run
from workbench.errors import FormatError, LimitExceeded, UnknownFormat
from workbench.formats import FORMATS, ReadLimits, detect_format, read_profiles, write_profile
from workbench.formats.atomic import atomic_path, atomic_write
from workbench.formats.table import BY_NAME, SNIFF_ORDER, SPECS, SUPPORTED_EXTENSIONS, by_extension, sniff
from workbench.model import SAMPLES, Frame, Profile, Runtime, SampleType

ALLOC = SampleType("alloc_space", "bytes")


def _profile() -> Profile:
    p = Profile([SAMPLES, ALLOC], name="table")
    main = Frame("main", "app.py", 1, runtime=Runtime.PYTHON)
    p.add_stack([main, Frame("work", "app.py", 5, runtime=Runtime.PYTHON)], [3, 300])
    p.add_stack([main, Frame("idle", "app.py", 9, runtime=Runtime.PYTHON)], [2, 0])
    return p


def _totals(profiles: list[Profile]) -> list[list[float]]:
    return [p.totals().tolist() for p in profiles]


def test_the_table_is_whole() -> None:
    assert tuple(s.name for s in SPECS) == FORMATS
    assert sorted(SNIFF_ORDER) == sorted(FORMATS)  # every format can be sniffed, once
    for spec in SPECS:
        assert spec.read is not None or spec.write is not None, spec.name
        for ext in spec.extensions:
            assert by_extension(f"x{ext.upper()}") == spec.name
            assert ext in SUPPORTED_EXTENSIONS
    assert by_extension("x.json") == "?"  # content decides


@pytest.mark.parametrize("fmt", [s.name for s in SPECS if s.write is not None and s.read is not None])
def test_writable_formats_round_trip_by_extension_and_by_sniffing(tmp_path: Path, fmt: str) -> None:
    prof = _profile()
    out = tmp_path / f"p{BY_NAME[fmt].extensions[0]}"
    write_profile(prof, out)
    by_ext = read_profiles(out)
    assert 5.0 in [t[0] for t in _totals(by_ext)]  # (speedscope holds a profile per sample type)
    bare = tmp_path / "no_extension"
    bare.write_bytes(out.read_bytes())
    assert detect_format(bare) == fmt
    assert _totals(read_profiles(bare)) == _totals(by_ext)
    assert list(tmp_path.glob("*.tmp*")) == []


def test_svg_is_written_and_sniffed_but_not_read(tmp_path: Path) -> None:
    out = tmp_path / "p.svg"
    write_profile(_profile(), out)
    bare = tmp_path / "bare"
    bare.write_bytes(out.read_bytes())
    assert detect_format(bare) == "svg"
    with pytest.raises(UnknownFormat, match="cannot be read as profiles"):
        read_profiles(bare)


def _cpuprofile() -> bytes:
    cf = {"functionName": "main", "scriptId": "1", "url": "file:///a.js", "lineNumber": 1, "columnNumber": 0}
    root = dict(cf, functionName="(root)", url="")
    nodes = [{"id": 1, "callFrame": root, "children": [2]}, {"id": 2, "callFrame": cf}]
    return json.dumps(
        {"nodes": nodes, "startTime": 0, "endTime": 3000, "samples": [2, 2, 2], "timeDeltas": [0, 1000, 1000]}
    ).encode()


def _heapprofile() -> bytes:
    cf = {"functionName": "grow", "scriptId": "1", "url": "file:///a.js", "lineNumber": 3, "columnNumber": 0}
    root = dict(cf, functionName="(root)", url="")
    head = {
        "callFrame": root,
        "selfSize": 0,
        "id": 1,
        "children": [{"callFrame": cf, "selfSize": 4096, "id": 2, "children": []}],
    }
    return json.dumps({"head": head, "samples": []}).encode()


def _heapsnapshot() -> bytes:
    fields = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
    types = [["hidden", "array", "string", "object"], "string"]
    meta = {"node_fields": fields, "node_types": types, "edge_fields": ["type", "name_or_index", "to_node"]}
    nodes = [3, 1, 1, 64, 0, 0, 0, 3, 1, 3, 64, 0, 0, 0]
    head = {"meta": meta, "node_count": 2, "edge_count": 0}
    return (
        '{"snapshot":' + json.dumps(head) + ',\n"nodes":[' + ",".join(map(str, nodes)) + '],\n"edges":[],\n'
        '"strings":["", "Client"]}'
    ).encode()


@pytest.mark.parametrize(
    ("fmt", "make"), [("cpuprofile", _cpuprofile), ("heapprofile", _heapprofile), ("heapsnapshot", _heapsnapshot)]
)
def test_devtools_formats_read_by_extension_and_by_sniffing(tmp_path: Path, fmt: str, make: object) -> None:
    data = make()  # type: ignore[operator]
    (tmp_path / f"x.{fmt}").write_bytes(data)
    (tmp_path / "x.json").write_bytes(data)  # .json: the content decides
    assert sniff(data[:4096]) == fmt
    a = read_profiles(tmp_path / f"x.{fmt}")
    b = read_profiles(tmp_path / "x.json")
    assert len(a) == len(b) == 1 and a[0].totals().tolist() == b[0].totals().tolist()
    assert a[0].totals()[0] > 0


def test_memray_read_by_extension_and_by_sniffing_with_the_limits(tmp_path: Path) -> None:
    cap = memray_run(tmp_path, "keep = [bytearray(100_000) for _ in range(5)]\n")
    bare = tmp_path / "bare"
    bare.write_bytes(cap.read_bytes())
    assert detect_format(cap) == detect_format(bare) == "memray"
    by_ext, sniffed = read_profiles(cap), read_profiles(bare)
    assert [p.totals().tolist() for p in by_ext] == [p.totals().tolist() for p in sniffed]
    # the caller's limits reach the memray reader (they did not before the table)
    [shallow, *_] = read_profiles(cap, limits=ReadLimits(max_depth=2))
    assert int(shallow.depth.max()) <= 3


def test_readers_get_the_limits(tmp_path: Path) -> None:
    small = ReadLimits(max_compressed_bytes=10)
    for fmt in ("collapsed", "speedscope", "pprof", "cpuprofile", "heapprofile"):
        path = tmp_path / f"big{BY_NAME[fmt].extensions[0]}"
        path.write_bytes(b"x" * 100)
        with pytest.raises(LimitExceeded) as err:
            read_profiles(path, limits=small)
        assert err.value.path == os.fspath(path), fmt


def test_errors_from_readers_name_the_file_and_keep_their_type_and_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.collapsed"
    bad.write_bytes(b"main 1\nmain;x notanumber\n")
    with pytest.raises(FormatError) as err:
        read_profiles(bad)
    assert err.value.path == os.fspath(bad) and err.value.line == 2
    assert str(err.value).startswith(f"{bad}, line 2: ")


def test_with_path() -> None:
    e = LimitExceeded("too big", "raise the limit", offset=7, line=3)
    named = e.with_path("/tmp/x.pb")
    assert type(named) is LimitExceeded
    assert (named.path, named.offset, named.line, named.fix, named.detail) == (
        "/tmp/x.pb",
        7,
        3,
        "raise the limit",
        "too big",
    )
    assert named.message == "/tmp/x.pb, line 3, byte 7: too big"
    assert named.with_path("/other") is named  # the innermost file is the one that is wrong
    assert FormatError("plain").with_path(Path("/a/b")).message == "/a/b: plain"


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.collapsed"
    target.write_bytes(b"old\n")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"half a fi")
        raise Boom
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.collapsed"]

    # an OSError (here: the rename onto a directory) becomes a FormatError naming the target
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"keep")
    with pytest.raises(FormatError, match="cannot write file") as err:
        atomic_write(tmp_path / "d", b"new")
    assert err.value.path == os.fspath(tmp_path / "d") and err.value.fix
    assert (tmp_path / "d" / "x").read_bytes() == b"keep"
    assert not list(tmp_path.glob("*.tmp*"))

    atomic_write(target, b"new\n")
    assert target.read_bytes() == b"new\n"


def test_write_profile_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "p.pb.gz"
    write_profile(_profile(), target)
    before = target.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(FormatError, match="No space left"):
        write_profile(_profile(), target, sample_index=0)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.pb.gz"]


def test_convert_imports_only_the_formats_it_uses(tmp_path: Path) -> None:
    src = tmp_path / "a.collapsed"
    src.write_text("main;work 3\n")
    code = (
        "import sys; from workbench.cli.main import main; "
        f"assert main(['convert', {str(src)!r}, {str(tmp_path / 'b.folded')!r}]) == 0; "
        "loaded = [m for m in ('workbench.formats.pprof', 'workbench.formats.svg', 'workbench.formats.wbs', "
        "'workbench.formats.memray_file', 'workbench.formats.devtools', 'workbench.formats.speedscope', 'sqlite3') "
        "if m in sys.modules]; print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
