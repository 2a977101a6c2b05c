"""pprof: the vectorised reader against a message-by-message reference, validation, writing."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.formats import collapsed_counter, reference_pprof_stacks
from workbench.errors import FormatError, LimitExceeded
from workbench.formats._pprof_schema import (
    FunctionMsg,
    LabelMsg,
    LineMsg,
    LocationMsg,
    ProfileMsg,
    SampleMsg,
    ValueTypeMsg,
)
from workbench.formats._protowire import packed_varints
from workbench.formats.collapsed import read_collapsed, write_collapsed
from workbench.formats.limits import MiB, ReadLimits
from workbench.formats.pprof import read_pprof, write_pprof
from workbench.model import CPU_NS, SAMPLES, Frame, Profile

GOLDEN = Path(__file__).parents[1] / "golden"


def _same_as_reference(data: bytes, prof: Profile) -> None:
    for col in range(len(prof.sample_types)):
        ref = {k: v for k, v in reference_pprof_stacks(data, col).items() if v}
        assert collapsed_counter(write_collapsed(prof, col)) == ref


@pytest.mark.parametrize("name", ["go_cpu.pb.gz", "go_heap.pb.gz"])
def test_real_go_profiles_match_the_reference_decoder(name):
    data = (GOLDEN / name).read_bytes()
    prof = read_pprof(data)
    _same_as_reference(data, prof)


def test_go_heap_metadata_and_inline_frames():
    data = (GOLDEN / "go_heap.pb.gz").read_bytes()
    prof = read_pprof(data)
    assert [str(s) for s in prof.sample_types] == [
        "alloc_objects/count",
        "alloc_space/bytes",
        "inuse_objects/count",
        "inuse_space/bytes",
    ]
    assert prof.default_sample_type == 3  # unset default means the last type
    assert prof.source == "go"
    # f8 calls the inlined inl8: both frames appear, caller first
    text = write_collapsed(prof, 0)
    assert "main.f8 (" in text and "main.inl8 (" in text
    for line in text.splitlines():
        if "main.inl8" in line:
            names = [n.split(" (")[0] for n in line.rsplit(" ", 1)[0].split(";")]
            i = names.index("main.inl8")
            assert names[i - 1] == "main.f8"


def test_go_cpu_labels_become_meta_and_optional_root_frames():
    data = (GOLDEN / "go_cpu.pb.gz").read_bytes()
    prof = read_pprof(data)
    assert prof.meta["label_keys"] == "worker"
    assert prof.period_type == CPU_NS and prof.period == 10_000_000
    assert prof.duration_ns > 0
    by_worker = read_pprof(data, label_roots=["worker"])
    roots = {by_worker.frames[int(f)].function for f in by_worker.frame[by_worker.parent == 0]}
    assert roots == {"worker=a", "worker=b"}
    assert np.array_equal(by_worker.totals(), prof.totals())


def _msg(n_samples=3):
    m = ProfileMsg()
    m.string_table.extend(["", "samples", "count", "main", "main.go", "work", "thread", "t1"])
    m.sample_type.append(ValueTypeMsg(type=1, unit=2))
    m.function.append(FunctionMsg(id=1, name=3, filename=4))
    m.function.append(FunctionMsg(id=2, name=5, filename=4))
    m.location.append(LocationMsg(id=1, line=[LineMsg(function_id=1, line=10)]))
    m.location.append(LocationMsg(id=2, line=[LineMsg(function_id=2, line=20)]))
    for i in range(n_samples):
        m.sample.append(SampleMsg(location_id=[2, 1], value=[i + 1], label=[LabelMsg(key=6, str=7)]))
    return m


def test_handmade_profile_reads():
    prof = read_pprof(_msg().SerializeToString())
    assert write_collapsed(prof) == "main (main.go:10);work (main.go:20) 6\n"
    assert prof.meta["label_keys"] == "thread"


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def test_unpacked_and_mixed_location_ids_keep_wire_order():
    m = _msg(0)
    base = m.SerializeToString()
    # sample 1: location ids 2, 1 unpacked (as Go writes lists of <= 2); sample 2: packed [1]
    s1 = b"\x08" + _varint(2) + b"\x08" + _varint(1) + b"\x10" + _varint(300)
    s2 = b"\x0a\x01\x01" + b"\x10" + _varint(7)
    raw = base + b"\x12" + _varint(len(s1)) + s1 + b"\x12" + _varint(len(s2)) + s2
    prof = read_pprof(raw)
    assert collapsed_counter(write_collapsed(prof)) == {
        "main (main.go:10);work (main.go:20)": 300,
        "main (main.go:10)": 7,
    }


def test_packed_varints_multibyte_and_64bit():
    vals = [0, 1, 127, 128, 300, 2**32, 2**63 + 5, 2**64 - 1]
    payload = b"".join(_varint(v) for v in vals)
    buf = np.frombuffer(b"ab" + payload + b"c", dtype=np.uint8)
    got, counts = packed_varints(buf, np.array([2, 0]), np.array([len(payload), 0]), "test")
    assert got.tolist() == vals and counts.tolist() == [len(vals), 0]


@pytest.mark.parametrize(
    ("mutate", "text"),
    [
        (lambda m: setattr(m.function[0], "name", 99), "refers to string 99"),
        (lambda m: setattr(m.sample_type[0], "unit", 42), "refers to string 42"),
        (lambda m: setattr(m.location[0], "id", 0), "location id 0 is reserved"),
        (lambda m: setattr(m.function[1], "id", 0), "function id 0 is reserved"),
        (lambda m: setattr(m.location[1], "id", 1), "location id 1 appears more than once"),
        (lambda m: m.sample[0].location_id.append(77), "location id 77"),
        (lambda m: setattr(m.location[0].line[0], "function_id", 5), "function id 5"),
        (lambda m: m.sample[1].value.__setitem__(0, -3), "negative value"),
        (lambda m: m.sample[2].value.append(4), "sample 2 has 2 values"),
        (lambda m: m.string_table.__setitem__(0, "x"), "string_table[0]"),
        (lambda m: setattr(m.sample[0].label[0], "key", 1000), "label key"),
        (lambda m: m.location[0].__setattr__("mapping_id", 9), "mapping id 9"),
    ],
)
def test_invalid_references_are_format_errors(mutate, text):
    m = _msg()
    mutate(m)
    with pytest.raises(FormatError) as exc:
        read_pprof(m.SerializeToString())
    assert text in str(exc.value)
    assert "fix:" in str(exc.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\x0a\xff\xff\xff\xff\x0f",  # length past the end
        b"\x12\x03\x08\x81",  # sample with a truncated varint
        b"\x0b\x0c",  # group wire types
        b"<html><body>502 Bad Gateway</body></html>",
        bytes(range(256)) * 4,
    ],
)
def test_garbage_is_a_format_error(data):
    with pytest.raises(FormatError):
        read_pprof(data)


def test_truncated_gzip_pprof_and_bomb():
    data = (GOLDEN / "go_heap.pb.gz").read_bytes()
    with pytest.raises(FormatError, match="truncated gzip"):
        read_pprof(data[:-30])
    bomb = gzip.compress(b"\x32\x00" * (8 * MiB), compresslevel=9)
    with pytest.raises(LimitExceeded):
        read_pprof(bomb, ReadLimits(max_decompressed_bytes=MiB))


def test_write_then_read_keeps_everything():
    p = Profile([SAMPLES, CPU_NS], name="x")
    p.add_stack([Frame("main", "m.go", 3), Frame("<b>x</b>", "m.go", 9)], [2, 20_000_000])
    p.add_stack([Frame("main", "m.go", 3)], [1, 10_000_000])
    p.add_stack([Frame("bad\ud800name")], [1, 1])  # lone surrogate: must not break the writer
    p.period, p.period_type, p.duration_ns = 10_000_000, CPU_NS, 3_000_000_000
    p.default_sample_type = 0
    data = write_pprof(p)
    assert data[:2] == b"\x1f\x8b"
    back = read_pprof(data)
    assert back.sample_types == p.sample_types
    assert back.period == p.period and back.period_type == CPU_NS and back.duration_ns == p.duration_ns
    assert back.default_sample_type == 0
    for col in (0, 1):
        got = collapsed_counter(write_collapsed(back, col))
        assert got["main (m.go:3);<b>x</b> (m.go:9)"] == [2, 20_000_000][col]
        assert sum(got.values()) == p.totals()[col]
    _same_as_reference(data, back)


def test_collapsed_to_pprof_to_collapsed_is_exact():
    text = (GOLDEN / "pyspy_subprocesses.txt").read_text()
    back = read_pprof(write_pprof(read_collapsed(text.encode())))
    assert collapsed_counter(write_collapsed(back)) == collapsed_counter(text)


def test_large_sparse_ids_and_multibyte_varints():
    m = ProfileMsg()
    m.string_table.extend(["", "space", "bytes", "f", "g", "x.go"])
    m.sample_type.append(ValueTypeMsg(type=1, unit=2))
    big = 2**40 + 7  # sparse ids take the sorted-search path, 6-byte varints the slow path
    m.function.append(FunctionMsg(id=big, name=3, filename=5))
    m.function.append(FunctionMsg(id=300, name=4, filename=5))
    m.location.append(LocationMsg(id=big + 1, line=[LineMsg(function_id=big, line=70000)]))
    m.location.append(LocationMsg(id=2**62, line=[LineMsg(function_id=300, line=1)]))
    m.sample.append(SampleMsg(location_id=[2**62, big + 1], value=[2**40]))
    m.sample.append(SampleMsg(location_id=[big + 1], value=[5]))
    prof = read_pprof(m.SerializeToString())
    assert collapsed_counter(write_collapsed(prof)) == {"f (x.go:70000);g (x.go:1)": 2**40, "f (x.go:70000)": 5}


def test_function_with_only_a_system_name_keeps_it():
    m = ProfileMsg()
    m.string_table.extend(["", "samples", "count", "_ZN3foo3barEv"])
    m.sample_type.append(ValueTypeMsg(type=1, unit=2))
    m.function.append(FunctionMsg(id=1, system_name=3))
    m.location.append(LocationMsg(id=1, line=[LineMsg(function_id=1)]))
    m.sample.append(SampleMsg(location_id=[1], value=[3]))
    assert write_collapsed(read_pprof(m.SerializeToString())) == "_ZN3foo3barEv 3\n"
