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
from typing import Any

import numpy as np

from ..errors import FormatError, LimitExceeded
from ..model import INUSE_OBJECTS, INUSE_SPACE, SAMPLES, Profile
from ..model.frames import TRUNCATED_STACK, Frame, FrameTable, Runtime
from ..model.profile import CPU_NS, StackSet, stackset_from_lists
from .limits import ReadLimits, maybe_gunzip, read_file_limited

_FIX = "export it again from Chrome DevTools or the Node inspector"
# json's C decoder recurses per nesting level; a heap profile nests two levels per frame
_MAX_HEAP_JSON_NESTING = 800
_CHUNK = 1 << 20
_MAX_HEADER_BYTES = 4 << 20  # the "snapshot" meta object; V8 writes a few KiB
# distinct constructors kept in a snapshot summary; the rest fold into one row
_MAX_CONSTRUCTORS = 50_000
_OTHER_CONSTRUCTORS = "[other constructors]"
# snapshot node types summarised by name (the constructor); the others by their type
_BY_NAME_TYPES = frozenset({"object", "native", "closure", "regexp"})


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
    """(stacks with [samples, cpu ns] per leaf, duration in seconds) of a CDP ``Profile``.

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
    cpu_us = np.zeros(len(nodes), dtype=np.float64)
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
            cpu_us = np.bincount(idx, weights=w, minlength=len(nodes))
    else:
        for i, n in enumerate(nodes):
            hc = n.get("hitCount", 0)
            counts[i] = float(hc) if isinstance(hc, int | float) and not isinstance(hc, bool) and hc > 0 else 0.0
    start, end = doc.get("startTime"), doc.get("endTime")
    duration_s = 0.0
    if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
        duration_s = (end - start) / 1e6
    if not cpu_us.any() and counts.any():
        per = duration_s * 1e6 / counts.sum() if duration_s else 0.0
        cpu_us = counts * per
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
        total += len(path)
        if total > lim.max_total_frames:
            raise LimitExceeded("the profile's stacks hold too many frames", "raise ReadLimits.max_total_frames")
        stacks.append(path)
        values.append((float(counts[i]), float(cpu_us[i]) * 1000.0))
    return _stackset(table, stacks, values), duration_s


def read_cpuprofile(data: bytes, limits: ReadLimits | None = None, name: str = "cpuprofile") -> Profile:
    lim = limits or ReadLimits()
    doc = _loads(maybe_gunzip(data, lim), "CPU profile")
    table = FrameTable(lim.max_frames)
    stacks, duration_s = cpuprofile_stacks(doc, table, lim)
    prof = Profile((SAMPLES, CPU_NS), name=name, source="devtools", frames=table, limits=lim.profile_limits())
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


def _parse_ints(body: bytes, offset: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    try:
        return np.array(body.split(b","), dtype=np.int64)
    except (ValueError, OverflowError):
        raise FormatError("heap snapshot array holds a non-integer or one past 64 bits", _FIX, offset=offset) from None


def summarize_heapsnapshot(path: str, limits: ReadLimits | None = None) -> list[tuple[str, int, int]]:
    """(constructor, self bytes, count) per constructor, largest first, streamed from the file."""
    lim = limits or ReadLimits()
    size = os.path.getsize(path) if os.path.isfile(path) else 0
    if size > lim.max_decompressed_bytes:
        raise LimitExceeded(
            f"heap snapshot is {size} bytes (limit {lim.max_decompressed_bytes})",
            "raise ReadLimits.max_decompressed_bytes if the file is trusted",
            path=path,
        )
    st = _Stream(path)
    st.find(b'"snapshot"')
    st.find(b":")
    # the header object is small; decode it from what is buffered (read more if needed)
    dec = json.JSONDecoder()
    while True:
        try:
            head, _ = dec.raw_decode(st.buf.decode("utf-8", "replace").lstrip())
            break
        except json.JSONDecodeError:
            if len(st.buf) > _MAX_HEADER_BYTES or not st._more():
                raise _bad("heap snapshot header is not valid JSON") from None
    meta = head.get("meta") if isinstance(head, dict) else None
    if not isinstance(meta, dict):
        raise _bad("heap snapshot header has no meta")
    fields = meta.get("node_fields")
    types = meta.get("node_types")
    if not isinstance(fields, list) or not isinstance(types, list) or not types or not isinstance(types[0], list):
        raise _bad("heap snapshot meta lacks node_fields/node_types")
    try:
        f_type, f_name, f_size = fields.index("type"), fields.index("name"), fields.index("self_size")
    except ValueError:
        raise _bad("heap snapshot node_fields lack type/name/self_size") from None
    type_names = [str(t) for t in types[0]]
    by_name = np.array([t in _BY_NAME_TYPES for t in type_names], dtype=bool)
    nf = len(fields)
    st.find(b'"nodes"')
    st.find(b"[")
    sizes: dict[int, float] = {}
    counts: dict[int, int] = {}
    carry = np.zeros(0, dtype=np.int64)
    n_types = len(type_names)
    for piece in st.ints_until_bracket():
        arr = np.concatenate([carry, piece]) if carry.size else piece
        whole = (arr.size // nf) * nf
        carry = arr[whole:]
        rows = arr[:whole].reshape(-1, nf)
        t = rows[:, f_type]
        if t.size and (t.min() < 0 or t.max() >= n_types):
            raise FormatError("heap snapshot node has an unknown type", _FIX, offset=st.pos)
        # key: the name's string index for by-name types, else -(1 + type)
        key = np.where(by_name[t], rows[:, f_name], -1 - t)
        uniq, inv = np.unique(key, return_inverse=True)
        s = np.bincount(inv, weights=rows[:, f_size].astype(np.float64))
        c = np.bincount(inv)
        for u, sv, cv in zip(uniq.tolist(), s.tolist(), c.tolist(), strict=True):
            k = u if u in sizes or len(sizes) < _MAX_CONSTRUCTORS else -(n_types + 1)  # folded
            sizes[k] = sizes.get(k, 0.0) + sv
            counts[k] = counts.get(k, 0) + cv
    if carry.size:
        raise FormatError("heap snapshot nodes array length is not a multiple of node_fields", _FIX)
    st.find(b'"strings"')
    st.find(b":")
    rest = st.rest(lim.max_decompressed_bytes).rstrip().removesuffix(b"}")
    strings = _loads(rest, "heap snapshot strings")
    if not isinstance(strings, list):
        raise _bad("heap snapshot strings is not a list")
    out: list[tuple[str, int, int]] = []
    for k, sv in sizes.items():
        if k >= 0:
            label = strings[k] if k < len(strings) and isinstance(strings[k], str) else f"[string {k}]"
            label = label or "(anonymous)"
        elif k == -(n_types + 1):
            label = _OTHER_CONSTRUCTORS
        else:
            label = f"({type_names[-1 - k]})"
        out.append((label, int(sv), counts[k]))
    out.sort(key=lambda r: -r[1])
    return out


def heapsnapshot_stacks(path: str, table: FrameTable, limits: ReadLimits | None = None) -> StackSet:
    """One single-frame stack per constructor with [self bytes, objects]."""
    rows = summarize_heapsnapshot(path, limits)
    stacks = [[table.intern(Frame(label, "", 0, "", Runtime.NODE))] for label, _, _ in rows]
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
        if exc.path is None:  # name the file; keep the error type and position
            raise type(exc)(exc.detail, exc.fix, path=path, offset=exc.offset, line=exc.line) from None
        raise
