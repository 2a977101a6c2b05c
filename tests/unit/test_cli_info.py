"""``workbench info FILE [--json]``: the DESIGN.md JSON contract, text output and bad files."""

import json

import jsonschema

from workbench.cli.main import main
from workbench.formats.wbs import save_session
from workbench.model import CPU_NS, SAMPLES, Finding, FindingsBatch, Frame, Profile, SeriesBatch, SeriesPoint, Session

VALUES = {"type": "object", "additionalProperties": {"type": ["number", "null"]}}
SCHEMA = {
    "type": "object",
    "required": ["profiles", "series", "findings"],
    "additionalProperties": False,
    "properties": {
        "profiles": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "source", "sample_types", "totals", "top"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "source": {"type": "string"},
                    "sample_types": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "unit"],
                            "additionalProperties": False,
                            "properties": {"type": {"type": "string"}, "unit": {"type": "string"}},
                        },
                    },
                    "totals": VALUES,
                    "top": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["function", "file", "self", "total"],
                            "additionalProperties": False,
                            "properties": {
                                "function": {"type": "string"},
                                "file": {"type": "string"},
                                "self": VALUES,
                                "total": VALUES,
                            },
                        },
                    },
                },
            },
        },
        "series": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "unit", "points", "last", "max"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "unit": {"type": "string"},
                    "points": {"type": "integer"},
                    "last": {"type": ["number", "null"]},
                    "max": {"type": ["number", "null"]},
                },
            },
        },
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "name", "where", "growth_per_min", "unit", "confidence", "evidence", "stack"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": ["map", "buffer", "list", "set", "goroutines", "objects", "pool"]},
                    "name": {"type": "string"},
                    "where": {"type": "string"},
                    "growth_per_min": {"type": ["number", "null"]},
                    "unit": {"type": "string"},
                    "confidence": {"type": ["number", "null"]},
                    "evidence": {"type": "string"},
                    "stack": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def run_info(capsys, *args):
    code = main(["info", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _session():
    s = Session()
    p = Profile([CPU_NS, SAMPLES], name="pyspy:1:cpu", source="pyspy")
    p.add_stack([Frame("main", "app.py", 1), Frame("handle", "app.py", 5)], [3e9, 3], t0=1, t1=2)
    p.add_stack([Frame("main", "app.py", 1), Frame("\x1b[31mevil\x07", "<b>.py", 2)], [1e9, 1], t0=2, t1=3)
    p.add_stack([Frame("main", "app.py", 1)], [5e8, 1], t0=2, t1=3)
    s.profiles[p.name] = p
    for i in range(5):
        s.put(SeriesBatch([SeriesPoint("process.rss_bytes", float(i), 1e6 * (i + 1), "bytes")]))
    s.put(FindingsBatch([Finding("map", "Hub.clients", "hub.go:40", 12.5, "entries", 0.9, "grew 5/5")]))
    return s


def test_info_json_contract_for_a_session(tmp_path, capsys):
    path = tmp_path / "s.wbs"
    save_session(_session(), path)
    code, out, err = run_info(capsys, path, "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    (prof,) = doc["profiles"]
    assert prof["name"] == "pyspy:1:cpu" and prof["source"] == "pyspy"
    assert prof["sample_types"] == [{"type": "cpu", "unit": "nanoseconds"}, {"type": "samples", "unit": "count"}]
    assert prof["totals"] == {"cpu": 4_500_000_000, "samples": 5}
    top = {r["function"]: r for r in prof["top"]}
    assert top["handle"]["self"] == {"cpu": 3_000_000_000, "samples": 3}
    assert top["main"]["total"] == {"cpu": 4_500_000_000, "samples": 5}
    assert prof["top"][0]["function"] == "handle"
    assert doc["series"] == [{"name": "process.rss_bytes", "unit": "bytes", "points": 5, "last": 5e6, "max": 5e6}]
    assert doc["findings"][0]["name"] == "Hub.clients"


def test_info_json_for_a_collapsed_file(tmp_path, capsys):
    path = tmp_path / "p.collapsed"
    path.write_text("main;a;b 5\nmain;a 2\nmain;c 1\n")
    code, out, _ = run_info(capsys, path, "--json", "--top", "2")
    assert code == 0
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["series"] == [] and doc["findings"] == []
    (prof,) = doc["profiles"]
    assert prof["totals"] == {"samples": 8}
    assert [r["function"] for r in prof["top"]] == ["b", "a"]


def test_info_text_escapes_names(tmp_path, capsys):
    path = tmp_path / "s.wbs"
    save_session(_session(), path)
    code, out, _ = run_info(capsys, path)
    assert code == 0
    assert "handle" in out and "process.rss_bytes" in out and "Hub.clients" in out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mevil" in out


def test_info_bad_files_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.wbs"
    bad.write_bytes(b"definitely not sqlite")
    junk = tmp_path / "junk.pb.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00garbage")
    for path in (bad, junk, tmp_path / "missing.collapsed"):
        code, out, err = run_info(capsys, path, "--json")
        assert code == 2, (path, err)
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("workbench: error:") and "Traceback" not in err


def test_info_text_prints_values_through_the_unit_formatter(tmp_path, capsys):
    s = _session()
    s.put(FindingsBatch([Finding("mutex", "db.lock", "db.go:9", 19932.02518138193, "waits", 0.8, "e")]))
    path = tmp_path / "s.wbs"
    save_session(s, path)
    code, out, _ = run_info(capsys, path)
    assert code == 0
    assert "+19,932 waits/min" in out and "19932.0" not in out  # rounded for people
    assert "cpu 4.5 s" in out and "last 4.77 MiB" in out
