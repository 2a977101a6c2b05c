"""Node containers named from a heap snapshot's retainer paths: the traced-snapshot reader
(allocation trace tree read iteratively, bounded), the naming hints, and the folding of every
site one container holds into one leak candidate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.analysis.leak_watch import LeakWatch
from workbench.analysis.leaks import Candidate
from workbench.analysis.node_containers import name_node_candidates
from workbench.analysis.node_retainers import retainer_hints
from workbench.errors import FormatError, LimitExceeded
from workbench.formats.heapsnapshot_trace import MAX_TRACE_DEPTH, parse_trace_tree, read_traced_snapshot
from workbench.model.findings import RETAINER_SOURCE
from workbench.model.session import FindingsBatch

SVC = "/srv/svc.js"
NODE_TYPES = ["hidden", "array", "string", "object", "code", "closure", "regexp", "number", "native", "synthetic"]
EDGE_TYPES = ["context", "element", "property", "internal", "hidden", "shortcut", "weak"]


def _snapshot(tmp_path: Path, traced: bool = True, console: bool = False) -> Path:
    strings = ["", "(GC roots)", "system / Context", "sockets", "history", "Map", "table", "Object", "socket",
               "Socket", "Array", "listOnTimeout", "node:internal/timers", "addSubscriber", SVC, "openSocket",
               "appendHistory", "1 / DevTools console"]  # fmt: skip
    s = {text: i for i, text in enumerate(strings)}
    t = {name: i for i, name in enumerate(NODE_TYPES)}
    e = {name: i for i, name in enumerate(EDGE_TYPES)}
    # (type, name, id, self_size, edge_count, trace_node_id, detachedness)
    nodes = [
        (t["synthetic"], s[""], 1, 0, 1, 0, 0),  # 0 root
        (t["synthetic"], s["(GC roots)"], 3, 0, 2 if console else 1, 0, 0),  # 1
        (t["object"], s["system / Context"], 5, 40, 2, 0, 0),  # 2 the module's scope
        (t["object"], s["Map"], 7, 32, 1, 0, 0),  # 3 sockets
        (t["array"], s[""], 9, 400, 1, 0, 0),  # 4 its table
        (t["object"], s["Object"], 11, 40, 1, 3, 0),  # 5 an entry, from addSubscriber
        (t["object"], s["Array"], 13, 32, 1, 0, 0),  # 6 history
        (t["object"], s["Socket"], 15, 48, 0, 5, 0),  # 7 the entry's socket, from openSocket > Socket
        (t["object"], s["Object"], 17, 40, 0, 6, 0),  # 8 a history entry, from appendHistory
    ]
    edges = [
        (e["element"], 1, 1),
        (e["element"], 1, 2),
        # the inspector's handle on the Map (getObjectByHeapObjectId): a shorter path, not the code's
        *([(e["property"], s["1 / DevTools console"], 3)] if console else []),
        (e["context"], s["sockets"], 3),
        (e["context"], s["history"], 6),
        (e["internal"], s["table"], 4),
        (e["element"], 0, 5),
        (e["property"], s["socket"], 7),
        (e["element"], 0, 8),
    ]
    nf = 7
    flat_nodes = [v for n in nodes for v in n] if traced else [v for n in nodes for v in (*n[:5], 0, 0)]
    flat_edges = [v for typ, name, to in edges for v in (typ, name, to * nf)]
    # (function_id, name, script_name, script_id, line (1-based), column)
    infos = [(0, 0, 0, 0, 0, 0), (1, s["listOnTimeout"], s["node:internal/timers"], 1, 500, 1),
             (2, s["addSubscriber"], s[SVC], 2, 27, 23), (3, s["openSocket"], s[SVC], 2, 20, 20),
             (4, s["Socket"], s[SVC], 2, 13, 14), (5, s["appendHistory"], s[SVC], 2, 34, 23)]  # fmt: skip
    tree = [1, 0, 0, 0, [2, 1, 3, 120, [3, 2, 1, 40, [4, 3, 1, 48, [5, 4, 1, 48, []]], 6, 5, 1, 40, []]]]
    doc = {
        "snapshot": {
            "meta": {
                "node_fields": ["type", "name", "id", "self_size", "edge_count", "trace_node_id", "detachedness"],
                "node_types": [NODE_TYPES, "string", "number", "number", "number", "number", "number"],
                "edge_fields": ["type", "name_or_index", "to_node"],
                "edge_types": [EDGE_TYPES, "string_or_number", "node"],
                "trace_function_info_fields": ["function_id", "name", "script_name", "script_id", "line", "column"],
                "trace_node_fields": ["id", "function_info_index", "count", "size", "children"],
            },
            "node_count": len(nodes),
            "edge_count": len(edges),
        },
        "nodes": flat_nodes,
        "edges": flat_edges,
        "trace_function_infos": [v for row in infos for v in row] if traced else [],
        "trace_tree": tree if traced else [],
        "samples": [],
        "locations": [],
        "strings": strings,
    }
    path = tmp_path / "t.heapsnapshot"
    path.write_text(json.dumps(doc))
    return path


def test_reader_keeps_the_graph_and_allocation_stacks(tmp_path: Path) -> None:
    snap = read_traced_snapshot(str(_snapshot(tmp_path)))
    assert len(snap.node_type) == 9 and int(snap.first[-1]) == 8
    assert snap.trace_nodes[5] == (4, 4)  # Socket, called from openSocket's trace node
    frames = snap.stack(5)
    assert [f.function for f in frames] == ["listOnTimeout", "addSubscriber", "openSocket", "Socket"]
    assert (frames[1].file, frames[1].line) == (SVC, 27)


def test_hints_name_each_site_by_the_container_holding_its_objects(tmp_path: Path) -> None:
    snap = read_traced_snapshot(str(_snapshot(tmp_path)))
    hints = {h.where: h for h in retainer_hints(snap, target="inspector:1:retainers")}
    assert hints[f"addSubscriber ({SVC}:27)"].name == "sockets Map"
    # a constructor's objects are its caller's site (node_site), held by the same Map
    assert hints[f"openSocket ({SVC}:20)"].name == "sockets Map"
    hist = hints[f"appendHistory ({SVC}:34)"]
    assert (hist.name, hist.kind, hist.source) == ("history array", "list", RETAINER_SOURCE)
    assert "context: system / Context > history: Array" in hist.evidence or "history: Array" in hist.evidence
    assert hist.stack[-1] == f"appendHistory ({SVC}:34)" and not hist.suspect


def test_the_inspectors_own_handle_is_not_a_retainer_path(tmp_path: Path) -> None:
    snap = read_traced_snapshot(str(_snapshot(tmp_path, console=True)))
    found: dict[str, int] = {}
    hints = {h.where: h for h in retainer_hints(snap, containers=found)}
    sockets = hints[f"addSubscriber ({SVC}:27)"]
    assert sockets.name == "sockets Map" and "DevTools" not in sockets.evidence
    assert found == {"sockets Map": 7, "history array": 13}  # V8 heap object ids, for size reads


def test_a_snapshot_without_allocation_traces_names_nothing(tmp_path: Path) -> None:
    snap = read_traced_snapshot(str(_snapshot(tmp_path, traced=False)))
    assert retainer_hints(snap) == []


def _cand(name: str, where: str, stack: list[str], values: list[float], first: int = 0) -> Candidate:
    times = (first + np.arange(len(values), dtype=np.float64)) * 2.0
    return Candidate("objects", name, where, "bytes", times, np.array(values, dtype=np.float64), stack=stack)


def test_sites_one_container_holds_fold_into_one_candidate_named_for_it(tmp_path: Path) -> None:
    watch = LeakWatch()
    watch.on_batch(FindingsBatch(retainer_hints(read_traced_snapshot(str(_snapshot(tmp_path))), "x"), "x"))
    fill = f"addSubscriber ({SVC}:27)"
    build = f"openSocket ({SVC}:20)"
    cands = [
        _cand("addSubscriber", fill, ["listOnTimeout (node:internal/timers:500)", fill], [1.0, 2.0, 3.0], first=1),
        _cand("Socket objects from openSocket", build, [fill, build, f"Socket ({SVC}:13)"], [0.0, 10.0, 20.0, 30.0]),
        _cand("cacheRow", f"cacheRow ({SVC}:52)", [], [5.0, 5.0]),
    ]
    out = {c.name: c for c in name_node_candidates(cands, watch.node_containers)}
    assert set(out) == {"sockets Map", "cacheRow"}
    sockets = out["sockets Map"]
    assert (sockets.where, sockets.kind, sockets.stack[-1]) == (fill, "map", fill)  # the filler, not openSocket
    assert sockets.values.tolist() == [0.0, 11.0, 22.0, 33.0]  # summed per snapshot time
    assert "folded in: Socket objects from openSocket" in sockets.note and "sockets: Map" in sockets.note


def test_trace_tree_is_read_without_recursion_and_bounded() -> None:
    assert parse_trace_tree(b"[1,0,0,0,[2,1,1,8,[]]]") == {1: (0, 0), 2: (1, 1)}
    deep = b"[" + b"".join(b"%d,0,1,8,[" % i for i in range(1, MAX_TRACE_DEPTH + 2))
    deep += b"]" * (MAX_TRACE_DEPTH + 2)
    with pytest.raises(LimitExceeded):
        parse_trace_tree(deep)
    for bad in (b"[1,0,0,0,[", b"[1,0,0,0,0,0]", b"[1,0,[]]"):
        with pytest.raises(FormatError):
            parse_trace_tree(bad)
