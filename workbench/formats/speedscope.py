"""speedscope JSON (https://www.speedscope.app/file-format-schema.json): read and write.

Reading accepts every profile in a file: ``sampled`` ones (stacks of shared-frame
indices, root first, with weights) go straight into a StackSet; ``evented`` ones
(open/close events on a timeline) become weighted stacks: the time between two events
is charged to the stack open during it, walked with an explicit stack (no recursion).

Writing produces one ``sampled`` profile per (profile, sample type), sharing one frame
table; the output validates against speedscope's published schema (tests check it).
Units: ``nanoseconds``/``bytes`` map directly, counts are ``none``; other time units
are read as nanoseconds.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import __version__
from ..errors import FormatError
from ..model import SAMPLES, WALL_NS, Frame, FrameTable, Profile, SampleType, StackSet
from . import resolve_sample_index
from .collapsed import _runtime_of
from .limits import ReadLimits, check_json_nesting, maybe_gunzip

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"
_FIX = "the file is not a valid speedscope profile; export it again"

# speedscope unit -> (sample type, factor to our unit)
_UNITS: dict[str, tuple[SampleType, float]] = {
    "none": (SAMPLES, 1.0),
    "bytes": (SampleType("space", "bytes"), 1.0),
    "nanoseconds": (WALL_NS, 1.0),
    "microseconds": (WALL_NS, 1e3),
    "milliseconds": (WALL_NS, 1e6),
    "seconds": (WALL_NS, 1e9),
}


def _unit_of(st: SampleType) -> str:
    if st.unit in ("nanoseconds", "bytes", "microseconds", "milliseconds", "seconds"):
        return st.unit
    return "none"


def _bad(message: str) -> FormatError:
    return FormatError(message, _FIX)


def _frames(shared: Any, limits: ReadLimits) -> tuple[FrameTable, npt.NDArray[np.int64]]:
    if not isinstance(shared, dict) or not isinstance(shared.get("frames"), list):
        raise _bad('missing "shared": {"frames": [...]}')
    table = FrameTable(max_frames=limits.max_frames)
    ids = np.empty(len(shared["frames"]), dtype=np.int64)
    for i, fr in enumerate(shared["frames"]):
        if not isinstance(fr, dict) or not isinstance(fr.get("name"), str):
            raise _bad(f"shared frame {i} has no name")
        file = fr.get("file") or ""
        line = fr.get("line") or 0
        # line numbers end up in int64/int32 fields (pprof, the model): finite and in range only
        if not isinstance(file, str) or not isinstance(line, int | float) or not 0 <= line < 2**31:
            raise _bad(f"shared frame {i} has a malformed file or line")
        ids[i] = table.intern(Frame(fr["name"], file, int(line), runtime=_runtime_of(file, bool(line))))
    return table, ids


def read_speedscope(data: bytes, limits: ReadLimits | None = None) -> list[Profile]:
    """Every profile of a speedscope file (gzip accepted)."""
    lim = limits or ReadLimits()
    data = maybe_gunzip(data, lim)
    check_json_nesting(data, lim)
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(f"not valid JSON ({exc.msg})", _FIX, line=exc.lineno, offset=exc.pos) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise FormatError(f"not valid JSON ({type(exc).__name__})", _FIX) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), list):
        raise _bad('no "profiles" list: this JSON is not a speedscope file')
    table, fmap = _frames(doc.get("shared"), lim)
    out: list[Profile] = []
    for pi, prof in enumerate(doc["profiles"]):
        if not isinstance(prof, dict):
            raise _bad(f"profile {pi} is not an object")
        unit = prof.get("unit", "none")
        if not isinstance(unit, str) or unit not in _UNITS:
            raise _bad(f"profile {pi} has unknown unit {str(unit)[:40]!r}")
        st, factor = _UNITS[unit]
        kind = prof.get("type")
        if kind == "sampled":
            stacks = _sampled(prof, pi, fmap, table, factor)
        elif kind == "evented":
            stacks = _evented(prof, pi, fmap, table, factor)
        else:
            raise _bad(f"profile {pi} has unknown type {str(kind)[:40]!r}")
        name = prof.get("name")
        p = Profile(
            [st], name=name if isinstance(name, str) else f"profile {pi}", frames=table, limits=lim.profile_limits()
        )
        p.meta["format"] = "speedscope"
        exporter = doc.get("exporter")
        if isinstance(exporter, str):
            p.meta["exporter"] = exporter[:200]
        p.add_stackset(stacks)
        out.append(p)
    return out


def _sampled(prof: dict[str, Any], pi: int, fmap: npt.NDArray[np.int64], table: FrameTable, factor: float) -> StackSet:
    samples = prof.get("samples")
    weights = prof.get("weights")
    if not isinstance(samples, list) or not isinstance(weights, list):
        raise _bad(f"sampled profile {pi} needs 'samples' and 'weights' lists")
    if len(samples) != len(weights):
        raise _bad(f"sampled profile {pi} has {len(samples)} samples but {len(weights)} weights")
    try:
        lengths = np.fromiter(map(len, samples), dtype=np.int64, count=len(samples))
        flat = np.fromiter(itertools.chain.from_iterable(samples), dtype=np.int64, count=int(lengths.sum()))
        w = np.array(weights, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise _bad(f"sampled profile {pi} has a sample or weight that is not a number list") from None
    if w.ndim != 1 or not np.isfinite(w).all() or (w < 0).any():
        raise _bad(f"sampled profile {pi} has a negative or non-finite weight")
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= fmap.size):
        bad = int(flat[(flat < 0) | (flat >= fmap.size)][0])
        raise _bad(f"sampled profile {pi} refers to frame {bad}, but there are {fmap.size} shared frames")
    offsets = np.zeros(len(samples) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return StackSet(table, fmap[flat] if flat.size else flat, offsets, (w * factor).reshape(-1, 1))


def _evented(prof: dict[str, Any], pi: int, fmap: npt.NDArray[np.int64], table: FrameTable, factor: float) -> StackSet:
    events = prof.get("events")
    if not isinstance(events, list):
        raise _bad(f"evented profile {pi} needs an 'events' list")
    start = prof.get("startValue", 0)
    end = prof.get("endValue", 0)
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        raise _bad(f"evented profile {pi} has a non-numeric startValue or endValue")
    nf = fmap.size
    # a local trie: node -> (parent, frame); weight per node; node 0 is the root
    node_parent: list[int] = [-1]
    node_frame: list[int] = [-1]
    weight: list[float] = [0.0]
    child: dict[tuple[int, int], int] = {}
    open_nodes: list[int] = [0]
    open_frames: list[int] = []
    last = float(start)
    for ei, ev in enumerate(events):
        if not isinstance(ev, dict):
            raise _bad(f"evented profile {pi}: event {ei} is not an object")
        at, typ, fr = ev.get("at"), ev.get("type"), ev.get("frame")
        if not isinstance(at, int | float) or not isinstance(fr, int) or not 0 <= fr < nf:
            raise _bad(f"evented profile {pi}: event {ei} has a bad time or frame index")
        if at < last:
            raise _bad(f"evented profile {pi}: event {ei} goes back in time ({at} < {last})")
        if len(open_nodes) > 1:
            weight[open_nodes[-1]] += at - last
        last = float(at)
        if typ == "O":
            parent = open_nodes[-1]
            key = (parent, fr)
            node = child.get(key)
            if node is None:
                node = child[key] = len(node_parent)
                node_parent.append(parent)
                node_frame.append(fr)
                weight.append(0.0)
            open_nodes.append(node)
            open_frames.append(fr)
        elif typ == "C":
            if not open_frames or open_frames[-1] != fr:
                raise _bad(f"evented profile {pi}: event {ei} closes frame {fr}, which is not the innermost open frame")
            open_nodes.pop()
            open_frames.pop()
        else:
            raise _bad(f"evented profile {pi}: event {ei} has unknown type {str(typ)[:10]!r}")
    if len(open_nodes) > 1 and end > last:
        weight[open_nodes[-1]] += end - last  # still-open frames run to endValue
    return _trie_stacks(np.array(node_parent), np.array(node_frame), np.array(weight) * factor, fmap, table)


def _trie_stacks(
    parent: npt.NDArray[np.int64],
    frame: npt.NDArray[np.int64],
    weight: npt.NDArray[np.float64],
    fmap: npt.NDArray[np.int64],
    table: FrameTable,
) -> StackSet:
    """Root-first stacks of the weighted trie nodes, walking parents level by level."""
    nodes = np.flatnonzero(weight > 0)
    depth = np.zeros(parent.size, dtype=np.int64)
    for i in range(1, parent.size):  # parents precede children: one forward pass
        depth[i] = depth[parent[i]] + 1
    d = depth[nodes]
    offsets = np.zeros(nodes.size + 1, dtype=np.int64)
    np.cumsum(d, out=offsets[1:])
    flat = np.zeros(int(offsets[-1]), dtype=np.int64)
    cur = nodes.copy()
    pos = offsets[1:] - 1
    alive = d > 0
    while alive.any():
        idx = np.flatnonzero(alive)
        flat[pos[idx]] = fmap[frame[cur[idx]]]
        pos[idx] -= 1
        cur[idx] = parent[cur[idx]]
        alive[idx] = cur[idx] > 0
    return StackSet(table, flat, offsets, weight[nodes].reshape(-1, 1))


def write_speedscope(
    profiles: Sequence[Profile], sample_index: int | str | None = None, name: str | None = None
) -> bytes:
    """A speedscope file: one sampled profile per sample type (or just ``sample_index``)."""
    frame_ids: dict[Frame, int] = {}
    nonce = secrets.token_hex(16)
    splices: dict[str, str] = {}
    shared: list[dict[str, Any]] = []
    out_profiles: list[dict[str, Any]] = []
    active = 0
    for prof in profiles:
        cols = (
            [resolve_sample_index(prof, sample_index)]
            if sample_index is not None
            else list(range(len(prof.sample_types)))
        )
        ss = prof.to_stackset()
        # this profile's frame ids -> shared indices
        used = np.unique(ss.frames) if ss.frames.size else np.zeros(0, dtype=np.int64)
        remap = np.zeros(len(prof.frames), dtype=np.int64)
        for fid in used.tolist():
            fr = prof.frames[fid]
            idx = frame_ids.get(fr)
            if idx is None:
                idx = frame_ids[fr] = len(shared)
                entry: dict[str, Any] = {"name": fr.function}
                if fr.file:
                    entry["file"] = fr.file
                if fr.line:
                    entry["line"] = fr.line
                shared.append(entry)
            remap[fid] = idx
        flat = remap[ss.frames].tolist() if ss.frames.size else []
        off = ss.offsets.tolist()
        # stacks are the same for every sample type: JSON-encode them once per set of rows
        # and splice the text in below (placeholders carry a random nonce, so no frame
        # name can collide with one)
        samples_json: dict[bytes, str] = {}
        for col in cols:
            vals = ss.values[:, col]
            keep_mask = (vals != 0) & np.isfinite(vals)
            keep = np.flatnonzero(keep_mask)
            st = prof.sample_types[col]
            if col == prof.default_sample_type and prof is profiles[0]:
                active = len(out_profiles)
            kept = vals[keep]
            key = np.packbits(keep_mask).tobytes()
            text = samples_json.get(key)
            if text is None:
                text = samples_json[key] = json.dumps(
                    [flat[off[i] : off[i + 1]] for i in keep.tolist()], separators=(",", ":")
                )
            holder = f"@samples-{nonce}-{len(splices)}@"
            splices[json.dumps(holder)] = text
            integral = bool(np.all(np.floor(kept) == kept)) and (kept.size == 0 or float(np.abs(kept).max()) < 2**53)
            out_profiles.append(
                {
                    "type": "sampled",
                    "name": prof.name if len(cols) == 1 else f"{prof.name} ({st.type})",
                    "unit": _unit_of(st),
                    "startValue": 0,
                    "endValue": float(kept.sum()),
                    "samples": holder,
                    "weights": kept.astype(np.int64).tolist() if integral else kept.tolist(),
                }
            )
    doc = {
        "$schema": SCHEMA_URL,
        "shared": {"frames": shared},
        "profiles": out_profiles,
        "name": name or (profiles[0].name if profiles else "profile"),
        "activeProfileIndex": active,
        "exporter": f"profiling-workbench {__version__}",
    }
    # names are data: json escapes quotes and control characters; invalid UTF-8 cannot occur
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    for holder, samples in splices.items():
        text = text.replace(holder, samples, 1)
    return text.encode("utf-8", errors="replace")
