"""Chrome DevTools / V8 inspector profiles: ``.cpuprofile``, ``.heapprofile``, ``.heapsnapshot``.

The first two are the JSON the inspector's ``Profiler.stop`` and
``HeapProfiler.getSamplingProfile`` return, so the inspector capture plugin converts its
live results with the same functions (``cpuprofile_stacks``, ``heapprofile_stacks``).

A heap snapshot can be hundreds of megabytes: it is streamed, never loaded whole. Its
``nodes`` array is parsed in chunks into a per-constructor total (self size and count),
the ``edges`` are skipped, and only the ``strings`` array is decoded, so memory is the
strings plus one chunk. Retained sizes (a dominator tree) are not computed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import FormatError, LimitExceeded
from ..model import INUSE_OBJECTS, INUSE_SPACE, SAMPLES, Profile
from ..model.frames import TRUNCATED_STACK, Frame, FrameTable, Runtime
from ..model.heapgraph import bfs_tree
from ..model.profile import WALL_NS, StackSet, stackset_from_lists
from .limits import ReadLimits, json_nesting_depth, maybe_gunzip, read_file_limited

_FIX = "export it again from Chrome DevTools or the Node inspector"
# json's C decoder recurses per nesting level; a heap profile nests two levels per frame
_MAX_HEAP_JSON_NESTING = 800
_CHUNK = 1 << 20
_MAX_HEADER_BYTES = 4 << 20  # the "snapshot" meta object; V8 writes a few KiB
# distinct constructors kept in a snapshot summary; the rest fold into one row
_MAX_CONSTRUCTORS = 50_000
_OTHER_CONSTRUCTORS = "[other constructors]"
# snapshot node types summarised by name (the constructor); the others by their type
_BY_NAME_TYPES = frozenset({"object", "native", "synthetic"})


def _stackset(table: FrameTable, stacks: list[list[int]], values: list[tuple[float, float]]) -> StackSet:
    if not stacks:  # a window with no samples, a heap profile right after sampling began
        return StackSet(table, np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros((0, 2), np.float64))
    return stackset_from_lists(table, stacks, values)


def _bad(msg: str) -> FormatError:
    return FormatError(msg, _FIX)


def call_frame(cf: Any, table: FrameTable) -> int:
    """Intern a CDP ``Runtime.CallFrame`` (0-based line numbers) as a Node frame."""
    if not isinstance(cf, dict):
        raise _bad("a profile node has no callFrame object")
    fn = cf.get("functionName")
    url = cf.get("url")
    line = cf.get("lineNumber", -1)
    if not isinstance(fn, str) or not isinstance(url, str) or not isinstance(line, int) or isinstance(line, bool):
        raise _bad("a callFrame has a non-string functionName/url or a non-integer lineNumber")
    file = url.removeprefix("file://")
    return table.intern(Frame(fn or "(anonymous)", file, max(0, line + 1), "", Runtime.NODE))


def _loads(data: bytes, what: str) -> Any:
    # measured before parsing: how deep json recurses before RecursionError differs between
    # Python versions (3.13 goes far deeper than 3.12), so the limit must not depend on it
    if json_nesting_depth(data) > _MAX_HEAP_JSON_NESTING:
        raise LimitExceeded(
            f"the {what} is nested too deeply to read (over {_MAX_HEAP_JSON_NESTING} JSON levels)",
            "record it with a smaller stack depth",
        )
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON ({exc.msg})", _FIX, line=exc.lineno, offset=exc.pos) from None
    except RecursionError:
        raise LimitExceeded(
            f"the {what} is nested too deeply to read (over {_MAX_HEAP_JSON_NESTING} JSON levels)",
            "record it with a smaller stack depth",
        ) from None
    except UnicodeDecodeError as exc:
        raise FormatError(f"not valid JSON ({type(exc).__name__})", _FIX) from None


# ---------------------------------------------------------------- .cpuprofile


def cpuprofile_stacks(doc: Any, table: FrameTable, limits: ReadLimits | None = None) -> tuple[StackSet, float]:
    """(stacks with [samples, wall ns] per leaf, duration in seconds) of a CDP ``Profile``.

    Time per sample is the gap to the next sample (``timeDeltas``), so idle gaps in a
    sampling profile do not inflate the function that happened to be sampled before them.
    """
    lim = limits or ReadLimits()
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list):
        raise _bad('no "nodes" list: this JSON is not a .cpuprofile')
    nodes: list[Any] = doc["nodes"]
    if len(nodes) > lim.max_nodes:
        raise LimitExceeded(f"{len(nodes)} profile nodes (limit {lim.max_nodes})", "raise ReadLimits.max_nodes")
    index: dict[int, int] = {}
    for i, n in enumerate(nodes):
        nid = n.get("id") if isinstance(n, dict) else None
        if not isinstance(nid, int) or nid in index:
            raise _bad(f"profile node {i} has a missing or repeated id")
        index[nid] = i
    parent = np.full(len(nodes), -1, dtype=np.int64)
    for i, n in enumerate(nodes):
        kids = n.get("children") or []
        if not isinstance(kids, list):
            raise _bad(f"profile node {i} has a non-list children field")
        for c in kids:
            ci = index.get(c) if isinstance(c, int) else None
            if ci is None or parent[ci] >= 0 or ci == i:
                raise _bad(f"profile node {i} names an unknown or already parented child")
            parent[ci] = i
        p = n.get("parent")  # the trace-event form links upwards instead
        if isinstance(p, int) and p in index and parent[i] < 0:
            parent[i] = index[p]
    samples = doc.get("samples")
    deltas = doc.get("timeDeltas")
    counts = np.zeros(len(nodes), dtype=np.float64)
    time_us = np.zeros(len(nodes), dtype=np.float64)
    if isinstance(samples, list) and samples:
        try:
            idx = np.fromiter((index[s] for s in samples), dtype=np.int64, count=len(samples))
        except (KeyError, TypeError):
            raise _bad("a sample names an unknown profile node") from None
        counts = np.bincount(idx, minlength=len(nodes)).astype(np.float64)
        if isinstance(deltas, list) and len(deltas) == len(samples):
            try:
                d = np.asarray(deltas, dtype=np.float64)
            except (TypeError, ValueError):
                raise _bad("timeDeltas holds non-numbers") from None
            d = np.clip(np.nan_to_num(d), 0.0, None)
            w = np.empty_like(d)
            w[:-1] = d[1:]
            w[-1] = float(np.median(d)) if len(d) else 0.0
            time_us = np.bincount(idx, weights=w, minlength=len(nodes))
    else:
        for i, n in enumerate(nodes):
            hc = n.get("hitCount", 0)
            counts[i] = float(hc) if isinstance(hc, int | float) and not isinstance(hc, bool) and hc > 0 else 0.0
    start, end = doc.get("startTime"), doc.get("endTime")
    duration_s = 0.0
    if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
        duration_s = (end - start) / 1e6
    if not time_us.any() and counts.any():
        per = duration_s * 1e6 / counts.sum() if duration_s else 0.0
        time_us = counts * per
    fids = [call_frame(n.get("callFrame"), table) for n in nodes]
    roots = {i for i, n in enumerate(nodes) if parent[i] < 0 and n.get("callFrame", {}).get("functionName") == "(root)"}
    stacks: list[list[int]] = []
    values: list[tuple[float, float]] = []
    total = 0
    for i in np.flatnonzero(counts > 0).tolist():
        path: list[int] = []
        j = i
        while j >= 0 and len(path) <= len(nodes):  # a parent cycle ends at len(nodes)
            if j not in roots:
                path.append(fids[j])
            j = int(parent[j])
        if len(path) > len(nodes):
            raise _bad("the profile's parent links form a cycle")
        path.reverse()
        if len(path) > lim.max_depth:
            path = [*path[: lim.max_depth], table.intern(TRUNCATED_STACK)]
        n_i, ns_i = float(counts[i]), float(time_us[i]) * 1000.0
        ticks = _position_ticks(nodes[i]) if path and len(path) <= lim.max_depth and i not in roots else []
        # V8 names the line a function starts on; its positionTicks say which lines were
        # running: each gets its share of the node's self samples as a frame at that line
        # (callers keep the start line: V8 records no call sites), the rest stays put
        denom = max(float(sum(t for _l, t in ticks)), n_i)
        parts = [(_line_frame(nodes[i], ln, table), t / denom) for ln, t in ticks] if denom > 0 else []
        rest = 1.0 - sum(share for _f, share in parts)
        for fid, share in [*parts, (path[-1] if path else -1, rest)]:
            if share <= 1e-12:
                continue
            total += len(path)
            if total > lim.max_total_frames:
                raise LimitExceeded("the profile's stacks hold too many frames", "raise ReadLimits.max_total_frames")
            stacks.append([*path[:-1], fid] if path else path)
            values.append((n_i * share, ns_i * share))
    return _stackset(table, stacks, values), duration_s


_MAX_TICK_LINES = 1024  # distinct lines per node (a function longer than this is rare)


def _position_ticks(node: Any) -> list[tuple[int, float]]:
    """``[(line, ticks)]`` of a node's valid ``positionTicks`` (1-based lines), capped."""
    raw = node.get("positionTicks") if isinstance(node, dict) else None
    out: list[tuple[int, float]] = []
    if not isinstance(raw, list):
        return out
    for pt in raw[:_MAX_TICK_LINES]:
        if not isinstance(pt, dict):
            continue
        ln, t = pt.get("line"), pt.get("ticks")
        if isinstance(ln, int) and isinstance(t, int) and not isinstance(ln, bool) and ln > 0 and t > 0:
            out.append((ln, float(t)))
    return out


def _line_frame(node: Any, line: int, table: FrameTable) -> int:
    """The node's function as a frame at ``line`` (1-based, as positionTicks number them)."""
    cf = node["callFrame"]
    file = str(cf.get("url", "")).removeprefix("file://")
    return table.intern(Frame(str(cf.get("functionName") or "(anonymous)"), file, line, "", Runtime.NODE))


def read_cpuprofile(data: bytes, limits: ReadLimits | None = None, name: str = "cpuprofile") -> Profile:
    lim = limits or ReadLimits()
    doc = _loads(maybe_gunzip(data, lim), "CPU profile")
    table = FrameTable(lim.max_frames)
    stacks, duration_s = cpuprofile_stacks(doc, table, lim)
    # V8 samples on a wall clock (idle time is the "(idle)" frame): the values are wall time
    prof = Profile((SAMPLES, WALL_NS), name=name, source="devtools", frames=table, limits=lim.profile_limits())
    prof.add_stackset(stacks, 0.0, duration_s)
    return prof


# ---------------------------------------------------------------- .heapprofile


def heapprofile_stacks(doc: Any, table: FrameTable, limits: ReadLimits | None = None) -> StackSet:
    """Stacks with [in-use bytes, sampled objects] of a CDP ``SamplingHeapProfile`` (walked with a loop)."""
    lim = limits or ReadLimits()
    if not isinstance(doc, dict) or not isinstance(doc.get("head"), dict):
        raise _bad('no "head" node: this JSON is not a .heapprofile')
    objects: dict[int, int] = {}
    samples = doc.get("samples")
    if isinstance(samples, list):
        for s in samples:
            nid = s.get("nodeId") if isinstance(s, dict) else None
            if isinstance(nid, int):
                objects[nid] = objects.get(nid, 0) + 1
    stacks: list[list[int]] = []
    values: list[tuple[float, float]] = []
    seen = 0
    total = 0
    # (node, path of its parent) with the root's own frame left out: "(root)" is not code
    todo: list[tuple[dict[str, Any], list[int] | None]] = [(doc["head"], None)]
    while todo:
        node, ppath = todo.pop()
        seen += 1
        if seen > lim.max_nodes:
            raise LimitExceeded(f"over {lim.max_nodes} heap profile nodes", "raise ReadLimits.max_nodes")
        if ppath is None:
            path: list[int] = []
        elif len(ppath) >= lim.max_depth:
            path = ppath  # deeper frames fold into the truncation marker already at the end
        else:
            path = [*ppath, call_frame(node.get("callFrame"), table)]
            if len(path) == lim.max_depth:
                path.append(table.intern(TRUNCATED_STACK))
        size = node.get("selfSize", 0)
        if not isinstance(size, int | float) or isinstance(size, bool) or size < 0:
            raise _bad("a heap profile node has a negative or non-numeric selfSize")
        nid = node.get("id")
        n_obj = objects.get(nid, 0) if isinstance(nid, int) else 0
        if (size > 0 or n_obj > 0) and path:
            total += len(path)
            if total > lim.max_total_frames:
                raise LimitExceeded("the profile's stacks hold too many frames", "raise ReadLimits.max_total_frames")
            stacks.append(path)
            values.append((float(size), float(n_obj)))
        kids = node.get("children") or []
        if not isinstance(kids, list):
            raise _bad("a heap profile node has a non-list children field")
        for k in kids:
            if not isinstance(k, dict):
                raise _bad("a heap profile child is not an object")
            todo.append((k, path))
    return _stackset(table, stacks, values)


def read_heapprofile(data: bytes, limits: ReadLimits | None = None, name: str = "heapprofile") -> Profile:
    lim = limits or ReadLimits()
    doc = _loads(maybe_gunzip(data, lim), "heap profile")
    table = FrameTable(lim.max_frames)
    stacks = heapprofile_stacks(doc, table, lim)
    prof = Profile(
        (INUSE_SPACE, INUSE_OBJECTS), name=name, source="devtools", frames=table, limits=lim.profile_limits()
    )
    prof.add_stackset(stacks)
    return prof


# ---------------------------------------------------------------- .heapsnapshot


def _chunks(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror}", "check the path and permissions", path=path) from exc


class _Stream:
    """A forward-only byte cursor over file chunks, for a format whose layout V8 fixes."""

    def __init__(self, path: str) -> None:
        self._it = _chunks(path)
        self.buf = b""
        self.pos = 0  # absolute offset of buf[0]

    def _more(self) -> bool:
        nxt = next(self._it, None)
        if nxt is None:
            return False
        self.buf += nxt
        return True

    def find(self, token: bytes, keep_max: int = 1 << 16) -> None:
        """Advance to just past ``token``; refuse if not found."""
        while True:
            i = self.buf.find(token)
            if i >= 0:
                self.pos += i + len(token)
                self.buf = self.buf[i + len(token) :]
                return
            cut = max(0, len(self.buf) - len(token))
            self.pos += cut
            self.buf = self.buf[cut:]
            if not self._more():
                raise FormatError(f"no {token.decode()!r} section: not a V8 heap snapshot", _FIX, offset=self.pos)
            if len(self.buf) > keep_max + _CHUNK:
                raise _bad("heap snapshot header is too large")

    def ints_until_bracket(self) -> Iterator[np.ndarray[Any, np.dtype[np.int64]]]:
        """The numbers of a flat JSON int array (the cursor is just past its ``[``), in chunks."""
        while True:
            end = self.buf.find(b"]")
            if end >= 0:
                body, self.buf = self.buf[:end], self.buf[end + 1 :]
                self.pos += end + 1
                if body.strip():
                    yield _parse_ints(body, self.pos)
                return
            cut = self.buf.rfind(b",")
            if cut >= 0:
                body, self.buf = self.buf[:cut], self.buf[cut + 1 :]
                self.pos += cut + 1
                if body.strip():
                    yield _parse_ints(body, self.pos)
            if not self._more():
                raise FormatError("heap snapshot ends inside an array", _FIX, offset=self.pos)

    def rest(self, limit: int) -> bytes:
        """Everything after the cursor (the strings section), refused past ``limit`` bytes."""
        parts = [self.buf]
        n = len(self.buf)
        for chunk in self._it:
            parts.append(chunk)
            n += len(chunk)
            if n > limit:
                raise LimitExceeded(
                    f"heap snapshot strings exceed {limit} bytes", "raise ReadLimits.max_decompressed_bytes"
                )
        self.buf = b""
        return b"".join(parts)


def open_snapshot(path: str, lim: ReadLimits) -> _Stream:
    """A stream over a heap snapshot no larger than the limits allow."""
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > lim.max_decompressed_bytes:
        raise LimitExceeded(
            f"heap snapshot is {size} bytes (limit {lim.max_decompressed_bytes})",
            "raise ReadLimits.max_decompressed_bytes if the file is trusted",
            path=path,
        )
    return _Stream(path)


def snapshot_header(st: _Stream) -> dict[str, Any]:
    """The ``"snapshot"`` header object (with its ``meta``) at the head of a heap snapshot.

    The header is small: it is decoded from what is buffered, reading more until it parses.
    """
    st.find(b'"snapshot"')
    st.find(b":")
    dec = json.JSONDecoder()
    while True:
        try:
            head, _ = dec.raw_decode(st.buf.decode("utf-8", "replace").lstrip())
            break
        except json.JSONDecodeError:
            if len(st.buf) > _MAX_HEADER_BYTES or not st._more():
                raise _bad("heap snapshot header is not valid JSON") from None
    if not isinstance(head, dict) or not isinstance(head.get("meta"), dict):
        raise _bad("heap snapshot header has no meta")
    return head


def _parse_ints(body: bytes, offset: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    try:
        return np.array(body.split(b","), dtype=np.int64)
    except (ValueError, OverflowError):
        raise FormatError("heap snapshot array holds a non-integer or one past 64 bits", _FIX, offset=offset) from None


def summarize_heapsnapshot(path: str, limits: ReadLimits | None = None) -> list[tuple[str, int, int]]:
    """(constructor, self bytes, count) per constructor, largest first, streamed from the file."""
    return scan_heapsnapshot(path, limits)[0]


def _rows(
    arr: np.ndarray[Any, np.dtype[np.int64]], carry: np.ndarray[Any, np.dtype[np.int64]], width: int
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], np.ndarray[Any, np.dtype[np.int64]]]:
    """Whole records of ``width`` ints from a chunk plus what the last chunk left over."""
    arr = np.concatenate([carry, arr]) if carry.size else arr
    whole = (arr.size // width) * width
    return arr[:whole].reshape(-1, width), arr[whole:]


def scan_heapsnapshot(
    path: str, limits: ReadLimits | None = None, retainers: int = 0
) -> tuple[list[tuple[str, int, int]], dict[str, list[str]]]:
    """The per-constructor summary and, for the ``retainers`` largest constructors, the retainer
    path (root first, ``edge: holder`` labels) of the instance nearest to the GC roots.

    The paths need the whole graph in memory (about 14 bytes per node and 9 per edge), so
    they are computed only up to ``MAX_GRAPH_EDGES`` edges; the summary never needs it.
    """
    lim = limits or ReadLimits()
    st = open_snapshot(path, lim)
    head = snapshot_header(st)
    meta = head["meta"]
    fields = meta.get("node_fields")
    types = meta.get("node_types")
    if not isinstance(fields, list) or not isinstance(types, list) or not types or not isinstance(types[0], list):
        raise _bad("heap snapshot meta lacks node_fields/node_types")
    try:
        f_type, f_name, f_size = fields.index("type"), fields.index("name"), fields.index("self_size")
    except ValueError:
        raise _bad("heap snapshot node_fields lack type/name/self_size") from None
    f_edges = fields.index("edge_count") if "edge_count" in fields else -1
    edge_count_total = head.get("edge_count", 0)
    want_graph = (
        retainers > 0 and f_edges >= 0 and isinstance(edge_count_total, int) and 0 < edge_count_total <= MAX_GRAPH_EDGES
    )
    type_names = [str(t) for t in types[0]]
    by_name = np.array([t in _BY_NAME_TYPES for t in type_names], dtype=bool)
    nf = len(fields)
    st.find(b'"nodes"')
    st.find(b"[")
    sizes: dict[int, float] = {}
    counts: dict[int, int] = {}
    carry = np.zeros(0, dtype=np.int64)
    n_types = len(type_names)
    node_keys: list[np.ndarray[Any, np.dtype[np.int32]]] = []
    node_edges: list[np.ndarray[Any, np.dtype[np.int32]]] = []
    for piece in st.ints_until_bracket():
        rows, carry = _rows(piece, carry, nf)
        t = rows[:, f_type]
        if t.size and (t.min() < 0 or t.max() >= n_types):
            raise FormatError("heap snapshot node has an unknown type", _FIX, offset=st.pos)
        # key: the name's string index for by-name types, else -(1 + type)
        key = np.where(by_name[t], rows[:, f_name], -1 - t)
        if want_graph:  # int32 halves the graph; snapshot ids and counts fit (checked)
            ec = rows[:, f_edges]
            if (key.size and (key.max() >= 2**31 or key.min() < -(2**31))) or (ec.size and ec.max() >= 2**31):
                want_graph = False
                node_keys, node_edges = [], []
            else:
                node_keys.append(key.astype(np.int32))
                node_edges.append(ec.astype(np.int32))
        uniq, inv = np.unique(key, return_inverse=True)
        s = np.bincount(inv, weights=rows[:, f_size].astype(np.float64))
        c = np.bincount(inv)
        for u, sv, cv in zip(uniq.tolist(), s.tolist(), c.tolist(), strict=True):
            k = u if u in sizes or len(sizes) < _MAX_CONSTRUCTORS else -(n_types + 1)  # folded
            sizes[k] = sizes.get(k, 0.0) + sv
            counts[k] = counts.get(k, 0) + cv
    if carry.size:
        raise FormatError("heap snapshot nodes array length is not a multiple of node_fields", _FIX)
    graph: _Graph | None = None
    if want_graph:
        graph = _read_edges(st, meta, nf, np.concatenate(node_keys), np.concatenate(node_edges))
    st.find(b'"strings"')
    st.find(b":")
    rest = st.rest(lim.max_decompressed_bytes).rstrip().removesuffix(b"}")
    strings = _loads(rest, "heap snapshot strings")
    if not isinstance(strings, list):
        raise _bad("heap snapshot strings is not a list")

    def label_of(k: int) -> str:
        if k >= 0:
            text = strings[k] if k < len(strings) and isinstance(strings[k], str) else f"[string {k}]"
            return text or "(anonymous)"
        if k == -(n_types + 1):
            return _OTHER_CONSTRUCTORS
        return f"({type_names[-1 - k]})"

    out = sorted(((label_of(k), int(sv), counts[k]) for k, sv in sizes.items()), key=lambda r: -r[1])
    paths: dict[str, list[str]] = {}
    if graph is not None:
        top = sorted(sizes, key=lambda k: -sizes[k])[:retainers]
        for k, chain in graph.retainer_paths([k for k in top if k >= -n_types]).items():
            paths[label_of(k)] = [f"{graph.edge_label(e, strings)}: {label_of(int(graph.keys[n]))}" for n, e in chain]
    return out, paths


MAX_GRAPH_EDGES = 64_000_000
_MAX_PATH = 48  # retainer path frames kept (nearest to the object)
_EDGE_INDEX_TYPES = frozenset({"element", "hidden"})  # their name_or_index is a number


@dataclass(slots=True)
class _Graph:
    keys: np.ndarray[Any, np.dtype[np.int32]]  # constructor key per node
    first: np.ndarray[Any, np.dtype[np.int64]]  # first edge of node i; first[N] = E
    e_type: np.ndarray[Any, np.dtype[np.int32]]
    e_name: np.ndarray[Any, np.dtype[np.int32]]
    e_to: np.ndarray[Any, np.dtype[np.int32]]  # node index
    edge_types: list[str]

    def edge_label(self, e: int, strings: list[Any]) -> str:
        kind = self.edge_types[int(self.e_type[e])] if 0 <= self.e_type[e] < len(self.edge_types) else "?"
        n = int(self.e_name[e])
        if kind in _EDGE_INDEX_TYPES:
            return f"[{n}]"
        return str(strings[n]) if 0 <= n < len(strings) else f"[{n}]"

    def retainer_paths(self, wanted: list[int]) -> dict[int, list[tuple[int, int]]]:
        """For each wanted key, the (node, edge into it) chain of its instance nearest to the
        root, found breadth-first (stopping once every key is found)."""
        left = set(wanted)
        found: dict[int, int] = {}
        if not left:
            return {}

        def level(dst: np.ndarray[Any, np.dtype[np.int64]]) -> bool:
            k = self.keys[dst]
            for key in left & set(np.unique(k).tolist()):
                found[key] = int(dst[np.argmax(k == key)])
            left.difference_update(found)
            return not left

        parent, via = bfs_tree(self.first, self.e_type, self.e_to, self.edge_types, on_level=level)
        out: dict[int, list[tuple[int, int]]] = {}
        for key, start in found.items():
            chain: list[tuple[int, int]] = []
            node = start
            while node > 0 and len(chain) < _MAX_PATH:
                chain.append((node, int(via[node])))
                node = int(parent[node])
            chain.reverse()
            out[key] = chain[:-1]  # the object itself is the leaf frame, named by the caller
        return out


def read_edge_table(
    st: _Stream, ne: int, cols: list[int], nf: int, edge_counts: np.ndarray[Any, np.dtype[Any]]
) -> tuple[np.ndarray[Any, np.dtype[np.int32]], np.ndarray[Any, np.dtype[np.int64]]]:
    """The ``"edges"`` array's (type, name_or_index, to_node) columns, ``cols`` in its rows of
    ``ne`` fields, as int32 with ``to_node`` a node index, and each node's first edge
    (``first[N]`` = E) from the nodes' ``edge_count`` column. Checked as it streams: an edge
    pointing past the nodes, or counts that do not add up, are a FormatError."""
    st.find(b'"edges"')
    st.find(b"[")
    parts: list[np.ndarray[Any, np.dtype[np.int32]]] = []
    carry = np.zeros(0, dtype=np.int64)
    limit = len(edge_counts) * nf
    for piece in st.ints_until_bracket():
        rows, carry = _rows(piece, carry, ne)
        e = rows[:, cols]
        if e.size and (e.min() < 0 or e[:, 2].max() >= limit or e[:, 1].max() >= 2**31):
            raise FormatError("heap snapshot edges do not match its nodes", _FIX, offset=st.pos)
        e[:, 2] //= nf
        parts.append(e.astype(np.int32))
    edges = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int32)
    del parts
    first = np.zeros(len(edge_counts) + 1, dtype=np.int64)
    np.cumsum(np.clip(edge_counts, 0, None), out=first[1:])
    if carry.size or first[-1] != len(edges):
        raise _bad("heap snapshot edges do not match its nodes")
    return edges, first


def _read_edges(
    st: _Stream,
    meta: dict[str, Any],
    nf: int,
    keys: np.ndarray[Any, np.dtype[np.int32]],
    edge_counts: np.ndarray[Any, np.dtype[np.int32]],
) -> _Graph | None:
    ef = meta.get("edge_fields")
    et = meta.get("edge_types")
    if not isinstance(ef, list) or not isinstance(et, list) or not et or not isinstance(et[0], list):
        return None
    try:
        i_type, i_name, i_to = ef.index("type"), ef.index("name_or_index"), ef.index("to_node")
    except ValueError:
        return None
    edges, first = read_edge_table(st, len(ef), [i_type, i_name, i_to], nf, edge_counts)
    return _Graph(keys, first, edges[:, 0], edges[:, 1], edges[:, 2], [str(t) for t in et[0]])


def heapsnapshot_stacks(
    path: str, table: FrameTable, limits: ReadLimits | None = None, retainers: int = 20
) -> StackSet:
    """One stack per constructor with [self bytes, objects]: for the ``retainers`` largest, the
    retainer path of one instance (nearest to the GC roots) above the constructor's frame."""
    rows, paths = scan_heapsnapshot(path, limits, retainers)
    stacks: list[list[int]] = []
    for label, _, _ in rows:
        chain = [table.intern(Frame(p, "", 0, "retainers", Runtime.NODE)) for p in paths.get(label, [])]
        stacks.append([*chain, table.intern(Frame(label, "", 0, "", Runtime.NODE))])
    values = [(float(sz), float(n)) for _, sz, n in rows]
    return _stackset(table, stacks, values)


def read_heapsnapshot(path: str, limits: ReadLimits | None = None, name: str = "heapsnapshot") -> Profile:
    """A one-level profile: one frame per constructor, [self bytes, objects]."""
    lim = limits or ReadLimits()
    table = FrameTable(lim.max_frames)
    stacks = heapsnapshot_stacks(path, table, lim)
    prof = Profile(
        (INUSE_SPACE, INUSE_OBJECTS), name=name, source="devtools", frames=table, limits=lim.profile_limits()
    )
    prof.add_stackset(stacks)
    return prof


def read_devtools(path: str, fmt: str, limits: ReadLimits | None = None, name: str = "") -> Profile:
    """Dispatch for ``formats.read_profiles``: ``fmt`` is cpuprofile, heapprofile or heapsnapshot."""
    lim = limits or ReadLimits()
    label = name or os.path.basename(path)
    try:
        if fmt == "heapsnapshot":
            return read_heapsnapshot(path, lim, label)
        data = read_file_limited(path, lim)
        if fmt == "cpuprofile":
            return read_cpuprofile(data, lim, label)
        return read_heapprofile(data, lim, label)
    except FormatError as exc:
        raise exc.with_path(path) from None  # name the file; keep the error type and position
