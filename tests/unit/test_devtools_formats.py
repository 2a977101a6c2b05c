"""DevTools / V8 inspector files: .cpuprofile, .heapprofile, .heapsnapshot (built here, no node needed)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.analysis.top import self_and_total
from workbench.errors import FormatError, LimitExceeded
from workbench.formats import ReadLimits, detect_format, devtools, read_profiles, write_profile
from workbench.formats.devtools import read_cpuprofile, read_heapprofile, summarize_heapsnapshot
from workbench.model import Profile, Runtime


def _cf(name: str, url: str = "file:///srv/app.js", line: int = 9) -> dict[str, Any]:
    return {"functionName": name, "scriptId": "1", "url": url, "lineNumber": line, "columnNumber": 0}


def _cpu_doc() -> dict[str, Any]:
    # (root) -> main -> hot ; (root) -> (idle)
    nodes = [
        {"id": 1, "callFrame": _cf("(root)", ""), "children": [2, 4]},
        {"id": 2, "callFrame": _cf("main"), "children": [3]},
        {"id": 3, "callFrame": _cf("hot", line=19)},
        {"id": 4, "callFrame": _cf("(idle)", "")},
    ]
    samples = [3, 3, 3, 2, 4, 3]
    deltas = [0, 1000, 1000, 1000, 5000, 1000]  # us since the previous sample
    return {"nodes": nodes, "startTime": 0, "endTime": 10_000, "samples": samples, "timeDeltas": deltas}


def _fn_totals(prof: Profile, col: int) -> dict[str, float]:
    _, total = self_and_total(prof, "function")
    return {fr.function: float(total[i, col]) for i, fr in enumerate(prof.frames) if total[i, col]}


def test_cpuprofile_samples_and_time_from_deltas() -> None:
    prof = read_cpuprofile(json.dumps(_cpu_doc()).encode())
    assert [s.type for s in prof.sample_types] == ["samples", "wall"]
    assert prof.totals()[0] == 6
    samples = _fn_totals(prof, 0)
    assert samples == {"main": 5.0, "hot": 4.0, "(idle)": 1.0}  # (root) is not a frame
    cpu = _fn_totals(prof, 1)
    # a sample lasts until the next one: main's sample is followed by a 5 ms gap; the last
    # sample (hot) gets the median gap
    assert cpu["hot"] == pytest.approx(4 * 1000 * 1000)
    assert cpu["main"] - cpu["hot"] == pytest.approx(5000 * 1000)
    assert cpu["(idle)"] == pytest.approx(1000 * 1000)
    hot = next(f for f in prof.frames if f.function == "hot")
    assert hot.file == "/srv/app.js" and hot.line == 20 and hot.runtime is Runtime.NODE


def test_cpuprofile_hitcounts_without_samples() -> None:
    doc = _cpu_doc()
    del doc["samples"], doc["timeDeltas"]
    doc["nodes"][2]["hitCount"] = 7
    doc["nodes"][3]["hitCount"] = 3
    prof = read_cpuprofile(json.dumps(doc).encode())
    assert _fn_totals(prof, 0) == {"main": 7.0, "hot": 7.0, "(idle)": 3.0}
    assert prof.totals()[1] == pytest.approx(10_000_000)  # the profile's duration spread over the hits


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["nodes"][1].update(children=[1]), "cycle"),
        (lambda d: d["nodes"][1].update(children=[99]), "child"),
        (lambda d: d["samples"].append(42), "unknown profile node"),
        (lambda d: d["nodes"][1].update(id=1), "repeated id"),
        (lambda d: d["nodes"][1].update(callFrame={"functionName": 3, "url": ""}), "callFrame"),
        (lambda d: d.update(nodes="x"), "not a .cpuprofile"),
    ],
)
def test_cpuprofile_bad_input_is_a_format_error(mutate: Any, message: str) -> None:
    doc = _cpu_doc()
    mutate(doc)
    with pytest.raises(FormatError, match=message):
        read_cpuprofile(json.dumps(doc).encode())


def test_cpuprofile_parent_cycle_is_refused() -> None:
    doc = {
        "nodes": [
            {"id": 1, "callFrame": _cf("a"), "children": [2]},
            {"id": 2, "callFrame": _cf("b"), "children": [1]},
        ],
        "samples": [1],
        "timeDeltas": [0],
    }
    with pytest.raises(FormatError):
        read_cpuprofile(json.dumps(doc).encode())


def test_cpuprofile_deep_stack_is_truncated_not_recursed() -> None:
    depth = 10_000
    nodes = [
        {"id": i + 1, "callFrame": _cf(f"f{i % 7}"), "children": [i + 2] if i + 1 < depth else []} for i in range(depth)
    ]
    doc = {"nodes": nodes, "samples": [depth], "timeDeltas": [0]}
    prof = read_cpuprofile(json.dumps(doc).encode(), ReadLimits(max_depth=200))
    assert prof.totals()[0] == 1
    assert any(f.function == "[stack truncated]" for f in prof.frames)
    assert int(prof.depth.max()) <= 202


def test_cpuprofile_hostile_names_stay_data() -> None:
    doc = _cpu_doc()
    doc["nodes"][2]["callFrame"]["functionName"] = "<script>alert(1)</script>\n;x"
    prof = read_cpuprofile(json.dumps(doc).encode())
    assert any(f.function == "<script>alert(1)</script>\n;x" for f in prof.frames)


def _heap_doc() -> dict[str, Any]:
    return {
        "head": {
            "callFrame": _cf("(root)", ""),
            "selfSize": 0,
            "id": 1,
            "children": [
                {
                    "callFrame": _cf("registerClient", line=27),
                    "selfSize": 4096,
                    "id": 2,
                    "children": [{"callFrame": _cf("(anonymous)"), "selfSize": 1024, "id": 3, "children": []}],
                },
                {"callFrame": _cf("cacheResult"), "selfSize": 2048, "id": 4, "children": []},
            ],
        },
        "samples": [{"size": 100, "nodeId": 2, "ordinal": 1}, {"size": 100, "nodeId": 2, "ordinal": 2}],
    }


def test_heapprofile_inuse_bytes_per_site() -> None:
    prof = read_heapprofile(json.dumps(_heap_doc()).encode())
    assert [s.type for s in prof.sample_types] == ["inuse_space", "inuse_objects"]
    assert prof.totals().tolist() == [7168.0, 2.0]
    space = _fn_totals(prof, 0)
    assert space == {"registerClient": 5120.0, "(anonymous)": 1024.0, "cacheResult": 2048.0}


def test_heapprofile_too_deep_json_is_a_limit_not_a_crash() -> None:
    node: dict[str, Any] = {"callFrame": _cf("leaf"), "selfSize": 1, "id": 0, "children": []}
    text = json.dumps(node)
    for i in range(1, 2000):
        text = f'{{"callFrame": {json.dumps(_cf(f"f{i}"))}, "selfSize": 0, "id": {i}, "children": [{text}]}}'
    with pytest.raises(LimitExceeded):
        read_heapprofile(f'{{"head": {text}}}'.encode())


def test_heapprofile_negative_size_refused() -> None:
    doc = _heap_doc()
    doc["head"]["children"][1]["selfSize"] = -5
    with pytest.raises(FormatError, match="selfSize"):
        read_heapprofile(json.dumps(doc).encode())


def _snapshot(path: Path, n_clients: int = 300) -> Path:
    """A minimal V8 heap snapshot: fields and layout as Node writes them."""
    fields = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
    types = [["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native"], "string"]
    strings = ["", "Client", "Map", "hello", "(GC roots)", 'evil "name" <b>']
    nodes: list[int] = []
    nid = 1
    for _ in range(n_clients):
        nodes += [3, 1, nid, 64, 0, 0, 0]  # object Client, 64 bytes
        nid += 2
    nodes += [3, 2, nid, 1000, 0, 0, 0]  # one Map
    nodes += [2, 3, nid + 2, 24, 0, 0, 0, 2, 5, nid + 4, 40, 0, 0, 0]  # two strings: grouped as (string)
    nodes += [3, 5, nid + 6, 8, 0, 0, 0]
    meta = {"node_fields": fields, "node_types": types, "edge_fields": ["type", "name_or_index", "to_node"]}
    head = {"meta": meta, "node_count": len(nodes) // 7, "edge_count": 0}
    body = ",\n".join(str(v) for v in nodes)
    text = (
        '{"snapshot":' + json.dumps(head) + ',\n"nodes":[' + body + '],\n"edges":[1,2,3\n,4,5,6],\n'
        '"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[],\n"strings":['
        + ",\n".join(json.dumps(s) for s in strings)
        + "]}"
    )
    path.write_text(text)
    return path


def _graph_snapshot(path: Path, n_clients: int = 50) -> Path:
    """root -> (GC roots) -> clients: Map -> table: (array) -> [i]: Client, plus a weak shortcut to one Client."""
    fields = ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"]
    ntypes = [["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic"]]
    etypes = [["context", "element", "property", "internal", "hidden", "shortcut", "weak"]]
    strings = ["", "(GC roots)", "Map", "clients", "table", "Client", "cache"]
    nodes = [9, 0, 1, 0, 2, 0, 0, 9, 1, 3, 0, 1, 0, 0, 3, 2, 5, 32, 1, 0, 0, 1, 0, 7, 800, n_clients, 0, 0]
    edges = [1, 0, 7, 6, 6, 7 * 4, 2, 3, 14, 3, 4, 21]  # root->(GC roots), root-weak->Client 0, roots->Map, Map->table
    for i in range(n_clients):
        nodes += [3, 5, 100 + i, 40, 0, 0, 0]
        edges += [1, i, 7 * (4 + i)]
    meta = {
        "node_fields": fields,
        "node_types": ntypes,
        "edge_fields": ["type", "name_or_index", "to_node"],
        "edge_types": etypes,
    }
    head = {"meta": meta, "node_count": len(nodes) // 7, "edge_count": len(edges) // 3}
    text = (
        '{"snapshot":' + json.dumps(head) + ',\n"nodes":[' + ",".join(map(str, nodes)) + "],\n"
        '"edges":[' + ",".join(map(str, edges)) + '],\n"strings":[' + ",".join(json.dumps(x) for x in strings) + "]}"
    )
    path.write_text(text)
    return path


def test_heapsnapshot_retainer_path_of_the_largest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devtools, "_CHUNK", 53)
    snap = _graph_snapshot(tmp_path / "g.heapsnapshot")
    rows, paths = devtools.scan_heapsnapshot(str(snap), retainers=5)
    assert dict((n, c) for n, _, c in rows)["Client"] == 50
    # the weak edge from the root is not a retainer: the path goes through the Map
    assert paths["Client"] == ["[0]: (GC roots)", "clients: Map", "table: (array)"]
    (prof,) = read_profiles(snap)
    stacks = prof.to_stackset()
    leaf_paths = [
        [prof.frames[int(f)].function for f in stacks.frames[stacks.offsets[i] : stacks.offsets[i + 1]]]
        for i in range(len(stacks.offsets) - 1)
    ]
    assert ["[0]: (GC roots)", "clients: Map", "table: (array)", "Client"] in leaf_paths


def test_heapsnapshot_edges_not_matching_nodes(tmp_path: Path) -> None:
    snap = _graph_snapshot(tmp_path / "g.heapsnapshot", n_clients=3)
    snap.write_text(snap.read_text().replace('"edges":[1,0,7,', '"edges":[1,0,7000,', 1))
    with pytest.raises(FormatError, match="edges do not match"):
        read_profiles(snap)


def test_heapsnapshot_summary_by_constructor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devtools, "_CHUNK", 37)  # numbers and tokens split across chunk edges
    snap = _snapshot(tmp_path / "x.heapsnapshot")
    rows = {name: (size, count) for name, size, count in summarize_heapsnapshot(str(snap))}
    assert rows["Client"] == (300 * 64, 300)
    assert rows["Map"] == (1000, 1)
    assert rows["(string)"] == (64, 2)
    assert rows['evil "name" <b>'] == (8, 1)


def test_heapsnapshot_through_formats_api(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "x.heapsnapshot")
    assert detect_format(snap) == "heapsnapshot"
    (prof,) = read_profiles(snap)
    assert prof.totals().tolist() == [300 * 64 + 1000 + 64 + 8, 304.0]
    out = tmp_path / "x.collapsed"
    write_profile(prof, out)
    assert "Client 19200" in out.read_text()


@pytest.mark.parametrize("cut", [30, 200, -20])
def test_heapsnapshot_truncated_is_a_format_error(tmp_path: Path, cut: int) -> None:
    snap = _snapshot(tmp_path / "x.heapsnapshot")
    data = snap.read_bytes()
    snap.write_bytes(data[:cut])
    with pytest.raises(FormatError) as err:
        read_profiles(snap)
    assert str(snap) in str(err.value)


def test_heapsnapshot_bad_type_index(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "x.heapsnapshot", n_clients=1)
    snap.write_text(snap.read_text().replace('"nodes":[3,', '"nodes":[99,', 1))
    with pytest.raises(FormatError, match="unknown type"):
        read_profiles(snap)


def test_heapsnapshot_huge_number(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "x.heapsnapshot", n_clients=1)
    snap.write_text(
        snap.read_text().replace('"nodes":[3,\n1,\n1,\n64', '"nodes":[3,\n1,\n1,\n99999999999999999999999', 1)
    )
    with pytest.raises(FormatError, match="64 bits"):
        read_profiles(snap)


def test_heapsnapshot_size_cap(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path / "x.heapsnapshot")
    with pytest.raises(LimitExceeded):
        summarize_heapsnapshot(str(snap), ReadLimits(max_decompressed_bytes=100))


def test_detection_by_extension_and_content(tmp_path: Path) -> None:
    cpu = tmp_path / "a.json"
    cpu.write_text(json.dumps(_cpu_doc()))
    heap = tmp_path / "b.json"
    heap.write_text(json.dumps(_heap_doc()))
    assert detect_format(cpu) == "cpuprofile"
    assert detect_format(heap) == "heapprofile"
    assert detect_format(tmp_path / "c.cpuprofile") == "cpuprofile"
    assert detect_format(tmp_path / "c.heapprofile") == "heapprofile"
    (prof,) = read_profiles(cpu)
    assert prof.name == "a.json" and prof.totals()[0] == 6


def test_convert_cpuprofile_to_speedscope_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "a.cpuprofile"
    src.write_text(json.dumps(_cpu_doc()))
    (prof,) = read_profiles(src)
    out = tmp_path / "a.speedscope.json"
    write_profile(prof, out)
    back = read_profiles(out)
    assert any(np.isclose(b.totals()[0], prof.totals()[1]) or np.isclose(b.totals()[0], 6) for b in back)


@pytest.mark.parametrize("kind", ["cpuprofile", "heapprofile", "heapsnapshot", "graph"])
def test_mutated_files_fail_only_as_format_errors(tmp_path: Path, kind: str) -> None:
    """Seeded byte flips, cuts and splices: a reader returns a profile or raises FormatError, nothing else."""
    if kind == "graph":
        data, kind = _graph_snapshot(tmp_path / "seed.heapsnapshot", n_clients=5).read_bytes(), "heapsnapshot"
    elif kind == "heapsnapshot":
        data = _snapshot(tmp_path / "seed.heapsnapshot", n_clients=5).read_bytes()
    else:
        data = json.dumps(_cpu_doc() if kind == "cpuprofile" else _heap_doc()).encode()
    rng = np.random.default_rng(12)
    alphabet = b'0123456789-,[]{}":.e truenullfalse\\'
    for i in range(150):
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(buf)))
            op = int(rng.integers(0, 3))
            if op == 0:
                buf[pos] = alphabet[int(rng.integers(0, len(alphabet)))]
            elif op == 1:
                del buf[pos : pos + int(rng.integers(1, 8))]
            else:
                buf[pos:pos] = buf[int(rng.integers(0, len(buf))) :][:6]
        path = tmp_path / f"m{i}.{kind}"
        path.write_bytes(bytes(buf))
        with contextlib.suppress(FormatError):
            read_profiles(path, kind)
