"""A V8 heap snapshot as a graph, with the allocation stack of every object allocated while
V8 tracked allocations (``HeapProfiler.startTrackingHeapObjects {trackAllocations: true}``).

The leak engine names a Node container from this: the objects a growing site allocated
during the tracking window that are still alive, and the retainer path that holds them.
Only the columns that needs are kept (int32 arrays, about 17 bytes per node and 9 per
edge); the file is streamed like ``devtools.scan_heapsnapshot``. The nested
``trace_tree`` is read with an explicit stack, never recursion, and refused past
``MAX_TRACE_DEPTH`` levels or ``MAX_TRACE_NODES`` nodes.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import FormatError, LimitExceeded
from ..model.heapgraph import I64, TracedSnapshot
from .devtools import (
    _FIX,
    MAX_GRAPH_EDGES,
    _bad,
    _loads,
    _rows,
    _Stream,
    open_snapshot,
    read_edge_table,
    snapshot_header,
)
from .limits import ReadLimits

MAX_TRACE_DEPTH = 4096  # call depth of one allocation stack in the trace tree
MAX_TRACE_NODES = 2_000_000
MAX_TRACE_BYTES = 256 << 20
_TOKEN = re.compile(rb"\[|\]|-?\d+")


def _ints(st: _Stream, key: bytes) -> I64:
    st.find(key)
    st.find(b"[")
    parts = list(st.ints_until_bracket())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _until(st: _Stream, token: bytes, limit: int) -> bytes:
    """The bytes before ``token`` (the cursor ends just past it), refused past ``limit``."""
    while (i := st.buf.find(token)) < 0:
        if len(st.buf) > limit:
            raise LimitExceeded(f"heap snapshot section exceeds {limit} bytes", "take a smaller snapshot")
        if not st._more():
            raise FormatError(f"no {token.decode()!r} section: not a V8 heap snapshot", _FIX, offset=st.pos)
    body, st.buf = st.buf[:i], st.buf[i + len(token) :]
    st.pos += i + len(token)
    return body


def parse_trace_tree(body: bytes) -> dict[int, tuple[int, int]]:
    """``[id, function_info_index, count, size, [children...], ...]`` nested, read iteratively:
    trace node id -> (function info index, parent id)."""
    out: dict[int, tuple[int, int]] = {}
    parents: list[int] = []  # the parent id of the array we are in, one per open bracket
    pending: list[int] = []
    for m in _TOKEN.finditer(body):
        tok = m.group()
        if tok == b"[":
            if parents and len(pending) == 4:
                nid, fi = pending[0], pending[1]
                out[nid] = (fi, parents[-1])
                if len(out) > MAX_TRACE_NODES:
                    raise LimitExceeded(
                        f"allocation trace tree has over {MAX_TRACE_NODES} nodes", "track for less time"
                    )
                parents.append(nid)
            elif not parents and not pending:
                parents.append(0)
            else:
                raise _bad("allocation trace tree is malformed")
            pending = []
            if len(parents) > MAX_TRACE_DEPTH:
                raise LimitExceeded(
                    f"an allocation stack is over {MAX_TRACE_DEPTH} frames deep", "track a shallower program"
                )
        elif tok == b"]":
            if not parents or pending:
                raise _bad("allocation trace tree is malformed")
            parents.pop()
        else:
            pending.append(int(tok))
            if len(pending) > 4:
                raise _bad("allocation trace tree is malformed")
    if parents:
        raise _bad("allocation trace tree is not closed")
    return out


def read_traced_snapshot(path: str, limits: ReadLimits | None = None) -> TracedSnapshot:
    """The graph and allocation traces of a snapshot written while tracking allocations
    (a snapshot without them reads too: every ``trace_id`` is then 0)."""
    lim = limits or ReadLimits()
    st = open_snapshot(path, lim)
    head = snapshot_header(st)
    meta = head["meta"]
    nf_names, ef_names = meta.get("node_fields"), meta.get("edge_fields")
    ntypes, etypes = meta.get("node_types"), meta.get("edge_types")
    if not all(isinstance(x, list) and x for x in (nf_names, ef_names, ntypes, etypes)):
        raise _bad("heap snapshot meta lacks node or edge fields")
    assert isinstance(nf_names, list) and isinstance(ef_names, list)
    assert isinstance(ntypes, list) and isinstance(etypes, list)
    try:
        cols = [nf_names.index(f) for f in ("type", "name", "id", "edge_count")]
        ecols = [ef_names.index(f) for f in ("type", "name_or_index", "to_node")]
    except ValueError:
        raise _bad("heap snapshot fields lack type/name/id/edge_count/to_node") from None
    f_trace = nf_names.index("trace_node_id") if "trace_node_id" in nf_names else -1
    edge_total = head.get("edge_count", 0)
    if isinstance(edge_total, int) and edge_total > MAX_GRAPH_EDGES:
        raise LimitExceeded(f"heap snapshot has {edge_total} edges (limit {MAX_GRAPH_EDGES})", "take it earlier")
    nf, ne = len(nf_names), len(ef_names)
    st.find(b'"nodes"')
    st.find(b"[")
    parts: list[I64] = []
    carry = np.zeros(0, dtype=np.int64)
    for piece in st.ints_until_bracket():
        rows, carry = _rows(piece, carry, nf)
        keep = rows[:, [*cols, f_trace if f_trace >= 0 else cols[0]]].copy()
        if f_trace < 0:
            keep[:, 4] = 0
        parts.append(keep)
    if carry.size:
        raise _bad("heap snapshot nodes array length is not a multiple of node_fields")
    nodes = np.concatenate(parts) if parts else np.zeros((0, 5), dtype=np.int64)
    del parts
    edges, first = read_edge_table(st, ne, ecols, nf, nodes[:, 3])
    infos = np.zeros(0, dtype=np.int64)
    trace: dict[int, tuple[int, int]] = {}
    fi_fields = meta.get("trace_function_info_fields")
    if f_trace >= 0 and isinstance(fi_fields, list) and fi_fields:
        infos = _ints(st, b'"trace_function_infos"')
        st.find(b'"trace_tree"')
        st.find(b":")
        trace = parse_trace_tree(_until(st, b'"samples"', MAX_TRACE_BYTES))
    st.find(b'"strings"')
    st.find(b":")
    strings = _loads(st.rest(lim.max_decompressed_bytes).rstrip().removesuffix(b"}"), "heap snapshot strings")
    if not isinstance(strings, list):
        raise _bad("heap snapshot strings is not a list")
    functions: list[tuple[str, str, int]] = []
    if infos.size and isinstance(fi_fields, list):
        w = len(fi_fields)
        try:
            i_name, i_script, i_line = fi_fields.index("name"), fi_fields.index("script_name"), fi_fields.index("line")
        except ValueError:
            raise _bad("trace_function_info_fields lack name/script_name/line") from None

        def text(k: int) -> str:
            s = strings[k] if 0 <= k < len(strings) else ""
            return s if isinstance(s, str) else ""

        for row in infos[: (len(infos) // w) * w].reshape(-1, w).tolist():
            # V8's serializer writes these lines 1-based (0 = unknown), as frames elsewhere are
            functions.append((text(row[i_name]), text(row[i_script]), max(0, row[i_line])))
    return TracedSnapshot(
        node_type=nodes[:, 0].astype(np.int32),
        node_name=np.clip(nodes[:, 1], -1, 2**31 - 1).astype(np.int32),
        node_id=nodes[:, 2].astype(np.int64),
        trace_id=np.clip(nodes[:, 4], 0, 2**31 - 1).astype(np.int32),
        first=first,
        e_type=edges[:, 0],
        e_name=edges[:, 1],
        e_to=edges[:, 2],
        node_types=[str(t) for t in ntypes[0]],
        edge_types=[str(t) for t in etypes[0]],
        strings=strings,
        trace_nodes=trace,
        functions=functions,
    )
