"""detect_format / read_profiles / write_profile and `workbench convert` (in process and as a command)."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.formats import collapsed_counter
from workbench.cli.main import main
from workbench.errors import UnknownFormat
from workbench.formats import detect_format, read_profiles, write_profile

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.collapsed", "collapsed"),
        ("a.folded", "collapsed"),
        ("a.txt", "collapsed"),
        ("a.speedscope.json", "speedscope"),
        ("a.pb.gz", "pprof"),
        ("a.pprof", "pprof"),
        ("a.pb", "pprof"),
        ("a.svg", "svg"),
        ("a.wbs", "wbs"),
        ("a.bin", "memray"),
    ],
)
def test_by_extension(name, fmt):
    assert detect_format(name) == fmt


def test_by_content_when_the_extension_says_nothing(tmp_path):
    cases = {
        "p1": (GOLDEN / "go_cpu.pb.gz").read_bytes(),
        "p2": gzip.decompress((GOLDEN / "go_cpu.pb.gz").read_bytes()),
        "c": b"a;b;c 3\nmain 1\n",
        "cz": gzip.compress(b"a;b;c 3\nmain 1\n"),
        "s.json": b'{"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {}}',
        "db": b"SQLite format 3\x00" + bytes(100),
        "m": b"memray\x00\x01" + bytes(20),
        "m2": b"\x04\x22\x4d\x18" + bytes(20),  # memray's default lz4-compressed capture
    }
    want = {
        "p1": "pprof",
        "p2": "pprof",
        "c": "collapsed",
        "cz": "collapsed",
        "s.json": "speedscope",
        "db": "wbs",
        "m": "memray",
        "m2": "memray",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert detect_format(tmp_path / name) == want[name], name
    (tmp_path / "x.json").write_bytes(b'{"hello": 1}')
    with pytest.raises(UnknownFormat) as exc:
        detect_format(tmp_path / "x.json")
    assert ".speedscope.json" in str(exc.value) and ".pb.gz" in str(exc.value)
    with pytest.raises(UnknownFormat, match="unknown format 'nope'"):
        detect_format("a.txt", "nope")


def test_read_and_write_every_text_format(tmp_path):
    [prof] = read_profiles(GOLDEN / "pyspy_threads.txt")
    want = collapsed_counter((GOLDEN / "pyspy_threads.txt").read_text())
    for name in ("o.collapsed", "o.pb.gz", "o.speedscope.json", "o.pprof"):
        write_profile(prof, tmp_path / name)
        [back] = read_profiles(tmp_path / name)
        with open(tmp_path / "check.folded", "w") as fh:
            from workbench.formats.collapsed import write_collapsed

            fh.write(write_collapsed(back))
        assert collapsed_counter((tmp_path / "check.folded").read_text()) == want, name


def _cli(capsys, *argv):
    rc = main(["convert", *map(str, argv)])
    err = capsys.readouterr().err
    return rc, err


def test_convert_round_trip_through_the_cli(tmp_path, capsys):
    src = GOLDEN / "pyspy_subprocesses.txt"
    assert _cli(capsys, src, tmp_path / "a.pb.gz")[0] == 0
    assert _cli(capsys, tmp_path / "a.pb.gz", tmp_path / "b.speedscope.json")[0] == 0
    assert _cli(capsys, tmp_path / "b.speedscope.json", tmp_path / "c.collapsed")[0] == 0
    assert collapsed_counter((tmp_path / "c.collapsed").read_text()) == collapsed_counter(src.read_text())
    rc, _ = _cli(capsys, GOLDEN / "go_heap.pb.gz", tmp_path / "d.txt", "--sample-index", "alloc_space")
    assert rc == 0
    total = sum(collapsed_counter((tmp_path / "d.txt").read_text()).values())
    [heap] = read_profiles(GOLDEN / "go_heap.pb.gz")
    assert total == heap.totals()[1]
    rc, _ = _cli(capsys, tmp_path / "a.pb.gz", tmp_path / "noext", "--to", "folded")
    assert rc == 0 and (tmp_path / "noext").read_text().count("\n") > 5


@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda d: (d / "x.pb.gz").write_bytes((GOLDEN / "go_heap.pb.gz").read_bytes()[:-25]), "truncated gzip"),
        (lambda d: (d / "x.pb.gz").write_bytes(b"<html>oops</html>"), "not a valid pprof"),
        (lambda d: (d / "x.collapsed").write_bytes(b"a;b 1\nbroken\n"), "line 2"),
        (lambda d: (d / "x.speedscope.json").write_bytes(b"[" * 100_000), "nested"),
        (lambda d: (d / "x.unknown").write_bytes(b"\x00\x01binary"), "cannot tell the profile format"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys, make, text):
    make(tmp_path)
    src = next(p for p in tmp_path.iterdir() if p.name.startswith("x."))
    rc, err = _cli(capsys, src, tmp_path / "out.collapsed")
    assert rc == 2
    assert err.count("\n") == 1 and text in err and "fix:" in err
    assert not (tmp_path / "out.collapsed").exists()


def test_command_line_error_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.pb.gz"
    bad.write_bytes(gzip.compress(b"\x0a\xff\xff\xff\xff\x0f"))
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", "convert", str(bad), str(tmp_path / "o.svg")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("workbench: error: ") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_convert_refuses_to_overwrite_its_input(tmp_path, capsys):
    f = tmp_path / "same.collapsed"
    f.write_text("a 1\n")
    rc, err = _cli(capsys, f, f)
    assert rc == 2 and "same file" in err
    assert f.read_text() == "a 1\n"


def test_convert_of_collapsed_imports_no_qt_protobuf_or_sqlite(tmp_path):
    """`workbench convert` stays light: heavy modules load only for the formats that need them."""
    code = (
        "import sys\n"
        "from workbench.cli.main import main\n"
        f"rc = main(['convert', {str(GOLDEN / 'pyspy_threads.txt')!r}, {str(tmp_path / 'o.folded')!r}])\n"
        "heavy = ('PySide6', 'pyqtgraph', 'shiboken6', 'google.protobuf', 'sqlite3', 'jsonschema', 'psutil')\n"
        "print(rc, sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr


def _two_profile_speedscope(unit2: str) -> bytes:
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": "main"}, {"name": "work"}]},
        "profiles": [
            {"type": "sampled", "name": "t1", "unit": "none", "startValue": 0, "endValue": 3,
             "samples": [[0, 1], [0]], "weights": [2, 1]},
            {"type": "sampled", "name": "t2", "unit": unit2, "startValue": 0, "endValue": 4,
             "samples": [[0, 1]], "weights": [4]},
        ],
    }  # fmt: skip
    return json.dumps(doc).encode()


def test_convert_merges_profiles_for_single_profile_outputs(tmp_path, capsys):
    src = tmp_path / "threads.speedscope.json"
    src.write_bytes(_two_profile_speedscope("none"))
    rc, _ = _cli(capsys, src, tmp_path / "all.collapsed")
    assert rc == 0
    assert collapsed_counter((tmp_path / "all.collapsed").read_text()) == {"main;work": 6, "main": 1}
    src.write_bytes(_two_profile_speedscope("bytes"))
    rc, err = _cli(capsys, src, tmp_path / "mixed.collapsed")
    assert rc == 2 and "different sample types" in err and ".speedscope.json" in err
