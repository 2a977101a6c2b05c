"""Collapsed stacks: flamegraph.pl and py-spy raw, hostile lines, safe writing."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.formats import collapsed_counter
from workbench.errors import FormatError, LimitExceeded
from workbench.formats.collapsed import parse_frame, read_collapsed, write_collapsed
from workbench.formats.limits import ReadLimits
from workbench.model import Runtime

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.mark.parametrize("name", ["pyspy_threads.txt", "pyspy_subprocesses.txt"])
def test_pyspy_raw_reads_and_writes_back_text_exactly(name):
    text = (GOLDEN / name).read_text()
    prof = read_collapsed(text.encode())
    assert prof.source == "py-spy"
    assert prof.totals()[0] == sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines())
    assert sorted(write_collapsed(prof).splitlines()) == sorted(text.splitlines())


def test_pyspy_frame_syntax():
    f = parse_frame("leaf_work (prog.py:5)")
    assert (f.function, f.file, f.line, f.runtime) == ("leaf_work", "prog.py", 5, Runtime.PYTHON)
    f = parse_frame("_find_and_load (<frozen importlib._bootstrap>:1360)")
    assert (f.file, f.line, f.runtime) == ("<frozen importlib._bootstrap>", 1360, Runtime.PYTHON)
    t = parse_frame("thread (11623): worker-1")
    assert (t.function, t.file, t.module) == ("thread (11623): worker-1", "", "thread")
    p = parse_frame('process 11713:"/usr/bin/python parent.py"')
    assert (p.function, p.module) == ('process 11713:"/usr/bin/python parent.py"', "process")
    assert parse_frame("thread (0x7F3A2B1C0740)").module == "thread"
    f = parse_frame("thread (worker.py:10)")  # a Python function named "thread"
    assert (f.function, f.file, f.line, f.module) == ("thread", "worker.py", 10, "")
    assert parse_frame("main.(*Hub).run").function == "main.(*Hub).run"
    assert parse_frame("nolineno (app.py)").file == "app.py"


@pytest.mark.parametrize(
    "token", ["a (b:01)", "a (b:0)", "a (b:\u00b2)", " (x)", "a ((b)", "a (b) (c)", "a (b)c)", "x (:5)"]
)
def test_odd_frame_tokens_render_back_to_the_same_text(token):
    from workbench.formats.collapsed import render_frame

    assert render_frame(parse_frame(token)) == token


def test_flamegraph_counts_ints_floats_blank_lines_crlf():
    prof = read_collapsed(b"a;b;c 3\r\n\r\na;b 1.5\n   \na;d 2\n")
    assert prof.totals()[0] == 6.5
    assert collapsed_counter(write_collapsed(prof)) == {"a;b;c": 3, "a;b": 1.5, "a;d": 2}


@pytest.mark.parametrize(
    ("data", "line", "text"),
    [
        (b"a;b 1\nno_count_here\n", 2, "no sample count"),
        (b"a 1\n\nb;c -4\n", 3, "is negative"),
        (b"a 1\nb x1\n", 2, "is not a number"),
        (b"a nan\n", 1, "not finite"),
    ],
)
def test_bad_lines_name_their_line_number(data, line, text):
    with pytest.raises(FormatError) as exc:
        read_collapsed(data)
    assert exc.value.line == line
    assert text in str(exc.value)
    assert f"line {line}" in str(exc.value)


def test_overlong_line_is_refused_with_its_number():
    data = b"a 1\n" + b"f;" * 1000 + b"g 1\n"
    with pytest.raises(LimitExceeded) as exc:
        read_collapsed(data, ReadLimits(max_line_length=500))
    assert exc.value.line == 2


def test_control_chars_and_markup_are_data():
    data = "<script>alert(1)</script>;a\x00b;\x1b[31mred 2\nbad\xff 1\n".encode("utf-8", "surrogateescape")
    data = data.replace(b"bad\xc3\xbf", b"bad\xff")  # raw invalid UTF-8 byte
    prof = read_collapsed(data)
    names = {f.function for f in prof.frames}
    assert "<script>alert(1)</script>" in names
    assert "a\x00b" in names
    assert "\x1b[31mred" in names
    assert "bad\ufffd" in names  # invalid UTF-8 becomes U+FFFD, never an exception
    assert prof.totals()[0] == 3


def test_deep_stack_is_truncated_with_marker_not_recursion():
    data = (";".join(f"f{i}" for i in range(10_000)) + " 1\n").encode()
    prof = read_collapsed(data)
    assert prof.truncated_stacks == 1
    assert prof.depth.max() == prof.limits.max_depth
    assert "[stack truncated]" in write_collapsed(prof)


def test_separators_in_names_are_made_safe():
    from workbench.model import SAMPLES, Frame, Profile

    p = Profile([SAMPLES])
    p.add_stack([Frame("Lfoo;bar"), Frame("two\nlines\rhere")], [5])
    text = write_collapsed(p)
    assert text == "Lfoo\uff1bbar;two lines here 5\n"
    back = read_collapsed(text.encode())
    assert back.totals()[0] == 5
    assert back.depth.max() == 2


names = st.text(alphabet=st.characters(blacklist_characters=";\n\r", blacklist_categories=("Cs",)), min_size=1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(names, min_size=1, max_size=6), st.integers(1, 10**12)), min_size=1, max_size=20))
def test_round_trip_property(stacks):
    text = "".join(";".join(s) + f" {c}\n" for s, c in stacks)
    # py-spy style "name (file:line)" frames and " (" in names must survive too
    prof = read_collapsed(text.encode())
    assert collapsed_counter(write_collapsed(prof)) == collapsed_counter(text)
