"""speedscope: schema-valid output, sampled and evented input, hostile JSON."""

import json
from pathlib import Path

import jsonschema
import pytest

from tests.helpers.formats import collapsed_counter
from workbench.errors import FormatError, LimitExceeded
from workbench.formats.collapsed import read_collapsed, write_collapsed
from workbench.formats.pprof import read_pprof
from workbench.formats.speedscope import read_speedscope, write_speedscope
from workbench.model import SAMPLES, Frame, Profile

GOLDEN = Path(__file__).parents[1] / "golden"
SCHEMA = json.loads((GOLDEN / "speedscope" / "file-format-schema.json").read_text())


def _validate(data: bytes) -> dict:
    doc = json.loads(data)
    jsonschema.validate(doc, SCHEMA)
    return doc


def test_collapsed_to_speedscope_to_collapsed_is_exact_and_valid():
    text = (GOLDEN / "pyspy_subprocesses.txt").read_text()
    out = write_speedscope([read_collapsed(text.encode())])
    _validate(out)
    [back] = read_speedscope(out)
    assert collapsed_counter(write_collapsed(back)) == collapsed_counter(text)


def test_multi_type_profile_writes_one_speedscope_profile_per_type():
    prof = read_pprof((GOLDEN / "go_heap.pb.gz").read_bytes())
    doc = _validate(write_speedscope([prof]))
    assert [p["unit"] for p in doc["profiles"]] == ["none", "bytes", "none", "bytes"]
    assert doc["activeProfileIndex"] == 3  # the pprof default (inuse_space)
    back = read_speedscope(write_speedscope([prof]))
    for col, b in enumerate(back):
        assert b.totals()[0] == prof.totals()[col]
    only = _validate(write_speedscope([prof], sample_index="alloc_space"))
    assert len(only["profiles"]) == 1 and only["profiles"][0]["unit"] == "bytes"


def test_names_with_markup_and_control_chars_stay_data():
    p = Profile([SAMPLES])
    names = ['<img src=x onerror="alert(1)">', "a\x00b\x1b[0m", 'quote"back\\slash', "\u2028line"]
    p.add_stack([Frame(n) for n in names], [3])
    out = write_speedscope([p])
    doc = _validate(out)
    assert [f["name"] for f in doc["shared"]["frames"]] == names
    assert b"\x00" not in out and b"\x1b" not in out  # escaped by the JSON encoder
    [back] = read_speedscope(out)
    assert [f.function for f in back.frames] == names


def test_evented_profile_becomes_weighted_stacks():
    doc = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": "main", "file": "app.py", "line": 3}, {"name": "work"}]},
        "profiles": [
            {
                "type": "evented",
                "name": "thread 1",
                "unit": "milliseconds",
                "startValue": 0,
                "endValue": 12,
                "events": [
                    {"type": "O", "frame": 0, "at": 0},
                    {"type": "O", "frame": 1, "at": 2},
                    {"type": "C", "frame": 1, "at": 5},
                    {"type": "O", "frame": 1, "at": 6},
                    {"type": "C", "frame": 1, "at": 7},
                    {"type": "C", "frame": 0, "at": 9},
                ],
            },
            {
                "type": "sampled",
                "name": "t2",
                "unit": "none",
                "startValue": 0,
                "endValue": 2,
                "samples": [[0, 1], [0]],
                "weights": [1, 1],
            },
        ],
    }
    jsonschema.validate(doc, SCHEMA)
    ev, sm = read_speedscope(json.dumps(doc).encode())
    assert ev.name == "thread 1" and str(ev.sample_types[0]) == "wall/nanoseconds"
    assert collapsed_counter(write_collapsed(ev)) == {"main (app.py:3)": 5e6, "main (app.py:3);work": 4e6}
    assert collapsed_counter(write_collapsed(sm)) == {"main (app.py:3);work": 1, "main (app.py:3)": 1}


@pytest.mark.parametrize(
    ("doc", "text"),
    [
        ({"profiles": []}, "shared"),
        (
            {
                "shared": {"frames": [{"name": "a"}]},
                "profiles": [{"type": "sampled", "unit": "none", "samples": [[0, 5]], "weights": [1]}],
            },
            "refers to frame 5",
        ),
        (
            {
                "shared": {"frames": [{"name": "a"}]},
                "profiles": [{"type": "sampled", "unit": "none", "samples": [[0]], "weights": [1, 2]}],
            },
            "1 samples but 2 weights",
        ),
        (
            {
                "shared": {"frames": [{"name": "a"}]},
                "profiles": [{"type": "sampled", "unit": "none", "samples": [[0]], "weights": [-1]}],
            },
            "negative",
        ),
        (
            {
                "shared": {"frames": [{"name": "a"}]},
                "profiles": [{"type": "sampled", "unit": "parsecs", "samples": [], "weights": []}],
            },
            "unknown unit",
        ),
        (
            {
                "shared": {"frames": [{"name": "a"}, {"name": "b"}]},
                "profiles": [
                    {
                        "type": "evented",
                        "unit": "none",
                        "startValue": 0,
                        "endValue": 1,
                        "events": [{"type": "O", "frame": 0, "at": 0}, {"type": "C", "frame": 1, "at": 1}],
                    }
                ],
            },
            "not the innermost",
        ),
        (
            {
                "shared": {"frames": [{"name": "a"}]},
                "profiles": [
                    {
                        "type": "evented",
                        "unit": "none",
                        "startValue": 0,
                        "endValue": 1,
                        "events": [{"type": "O", "frame": 0, "at": 5}, {"type": "C", "frame": 0, "at": 1}],
                    }
                ],
            },
            "back in time",
        ),
        ([1, 2], "not a speedscope file"),
    ],
)
def test_malformed_documents_are_format_errors(doc, text):
    with pytest.raises(FormatError, match=text):
        read_speedscope(json.dumps(doc).encode())


def test_bad_json_and_nesting_bomb():
    with pytest.raises(FormatError) as exc:
        read_speedscope(b'{"shared": {"frames": [}\n')
    assert exc.value.line == 1
    with pytest.raises(LimitExceeded):
        read_speedscope(b'{"a":' * 50_000 + b"1" + b"}" * 50_000)
