"""Reading a session file into a ``Session``: version check, in-memory migration, validated decoding.

Every read is treated as untrusted: frame ids are checked against the frame table,
array sizes against their row's counts (in ``schema.unpack``), and any SQLite or
decoding failure becomes a ``FormatError`` naming the file, with a fix.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import FormatError
from ...model.findings import Finding
from ...model.frames import Frame, FrameTable, Runtime
from ...model.labels import MAX_LABEL_SETS, LabelTable, make_set
from ...model.profile import DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, Profile, ProfileLimits, StackSet
from ...model.series import RingSeries
from ...model.session import MAX_FINDINGS, EventBatch, Session, SessionInfo
from .schema import (
    FIX_CORRUPT,
    MAX_LOAD_DEPTH,
    MAX_LOAD_NODES,
    MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    FloatArray,
    IntArray,
    json_object,
    migrate,
    parse_sample_types,
    text_of,
    unpack,
)


# ------------------------------------------------------------------ reading
def _lenient_text(raw: bytes) -> str:
    """We only ever store valid UTF-8 as TEXT; bytes that are not come from damage."""
    return raw.decode("utf-8", "replace")


def _open_for_read(path: str) -> sqlite3.Connection:
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise FormatError("no such file", "check the path", path=path) from None
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror}", "check the path and permissions", path=path) from None
    if head != SQLITE_MAGIC:
        raise FormatError(
            "not a workbench session (not an SQLite database)",
            "open a .wbs file written by workbench, or give the profile's real format with --from",
            path=path,
        )
    try:
        return _connect(path, uri=False)
    except sqlite3.OperationalError:
        # a WAL database needs a writable directory for its -shm file; a cleanly closed
        # session has everything in the main file, so read it as immutable instead
        try:
            return _connect(f"{Path(path).resolve().as_uri()}?immutable=1", uri=True)
        except (sqlite3.Error, UnicodeError) as exc:
            raise FormatError(f"cannot open session file ({exc})", FIX_CORRUPT, path=path) from None
    except (sqlite3.Error, UnicodeError) as exc:
        # UnicodeError: SQLite's message quotes damaged schema text that is not UTF-8
        raise FormatError(f"cannot open session file ({exc})", FIX_CORRUPT, path=path) from None


def _connect(target: str, uri: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(target, uri=uri)
    try:
        conn.text_factory = _lenient_text
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _schema_version(conn: sqlite3.Connection, path: str) -> int:
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if has_meta else None
    if row is None:
        raise FormatError(
            "an SQLite database but not a workbench session (no schema version)",
            "open a .wbs file written by workbench",
            path=path,
        )
    try:
        version = int(row[0])
    except (TypeError, ValueError):
        raise FormatError(f"bad schema version {row[0]!r}", FIX_CORRUPT, path=path) from None
    if version > SCHEMA_VERSION:
        raise FormatError(
            f"written by a newer workbench (session schema {version}, this version reads up to {SCHEMA_VERSION})",
            "upgrade workbench (pip install -U profiling-workbench) to open it",
            path=path,
        )
    if version < 0 or (version not in MIGRATIONS and version != SCHEMA_VERSION):
        raise FormatError(f"unknown session schema {version}", FIX_CORRUPT, path=path)
    return version


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read a .wbs file into a Session (older schemas are migrated in memory; the file is untouched)."""
    p = os.fspath(path)
    conn = _open_for_read(p)
    try:
        version = _schema_version(conn, p)
        if version < SCHEMA_VERSION:
            mem = sqlite3.connect(":memory:")
            mem.text_factory = _lenient_text
            conn.backup(mem)
            conn.close()
            conn = mem
            migrate(conn, version)
        return _read(conn)
    except FormatError as exc:
        raise exc.with_path(p) from None
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError) as exc:
        raise FormatError(f"corrupt session file ({exc})", FIX_CORRUPT, path=p) from None
    finally:
        conn.close()


def _read(conn: sqlite3.Connection) -> Session:
    session = Session()
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    created = meta.get("created")
    session.info = SessionInfo(
        created=float(created) if created and math.isfinite(float(created)) else time.time(),
        title=text_of(meta.get("title", "")),
        targets=[str(t) for t in json.loads(meta.get("targets", "[]"))],
    )
    frames = _read_frames(conn)
    for row in conn.execute(
        "SELECT id, key, name, source, sample_types, default_sample_type, period, period_type, duration_ns, meta,"
        " max_depth, max_nodes FROM profiles ORDER BY id"
    ).fetchall():
        key = text_of(row[1])
        session.profiles[key] = _read_profile(conn, row, frames)
    for sid, name, unit, capacity, n_buckets, buckets in conn.execute(
        "SELECT id, name, unit, capacity, n_buckets, buckets FROM series ORDER BY id"
    ).fetchall():
        # capacity 0: the writer died before its closing snapshot; use the default
        cap = min(int(capacity), 1 << 20) // 2 * 2 if int(capacity or 0) >= 8 else session.series_capacity
        if buckets is not None:
            data = unpack(buckets, "<f8", 6 * int(n_buckets), f"series {name!r} buckets").reshape(6, -1)
            s = RingSeries.from_buckets(text_of(name), text_of(unit), data.copy(), capacity=cap)
        else:
            s = RingSeries(text_of(name), text_of(unit), capacity=cap)
        for n, tb, vb in conn.execute("SELECT n, t, v FROM series_chunks WHERE series_id = ? ORDER BY id", (sid,)):
            ts = unpack(tb, "<f8", int(n), f"series {name!r} times")
            vs = unpack(vb, "<f8", int(n), f"series {name!r} values")
            s.extend(ts, vs)
        session.series[text_of(name)] = s
    for (data,) in conn.execute("SELECT data FROM findings ORDER BY id").fetchall():
        session.findings.append(Finding.from_dict(json_object(data, "a finding")))
    del session.findings[:-MAX_FINDINGS]
    for t, kind, text, target in conn.execute("SELECT t, kind, text, target FROM events ORDER BY id").fetchall():
        session.events.append(EventBatch(float(t), text_of(kind), text_of(text), text_of(target)))
    del session.events[:-MAX_FINDINGS]
    return session


def _read_frames(conn: sqlite3.Connection) -> list[Frame]:
    out: list[Frame] = []
    for i, (fid, function, file, line, module, runtime) in enumerate(
        conn.execute("SELECT id, function, file, line, module, runtime FROM frames ORDER BY id")
    ):
        if fid != i:
            raise FormatError(f"frame ids are not dense (row {i} has id {fid})", FIX_CORRUPT)
        try:
            rt = Runtime(runtime)
        except ValueError:
            rt = Runtime.OTHER
        out.append(Frame(text_of(function), text_of(file), int(line), text_of(module), rt))
    return out


def _read_profile(conn: sqlite3.Connection, row: tuple[Any, ...], frames: list[Frame]) -> Profile:
    pid, key, name, source, st_text, default_st, period, period_type, duration_ns, meta_text, mdepth, mnodes = row
    types = parse_sample_types(st_text)
    k = len(types)
    decoded: list[tuple[IntArray, IntArray, FloatArray, float | None, float | None, Labels]] = []
    for n_stacks, n_frames, lb, fb, vb, t0, t1, sets_text, ids_blob, only in conn.execute(
        "SELECT n_stacks, n_frames, lengths, frames, vals, t0, t1, label_sets, label_ids, labels_only"
        " FROM batches WHERE profile_id = ? ORDER BY id",
        (pid,),
    ):
        what = f"profile {key!r} batch"
        lengths = unpack(lb, "<u4", int(n_stacks), f"{what} stack lengths").astype(np.int64)
        fids = unpack(fb, "<u4", int(n_frames), f"{what} frames").astype(np.int64)
        vals = unpack(vb, "<f8", int(n_stacks) * k, f"{what} values").reshape(int(n_stacks), k)
        if int(lengths.sum()) != len(fids):
            raise FormatError(f"{what}: stack lengths do not add up to its frames", FIX_CORRUPT)
        if len(fids) and int(fids.max()) >= len(frames):
            raise FormatError(f"{what} refers to a frame that does not exist", FIX_CORRUPT)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        decoded.append((fids, offsets, vals, t0, t1, _labels(sets_text, ids_blob, only, int(n_stacks), what)))
    # each profile gets a frame table of only the frames it uses
    used = np.unique(np.concatenate([d[0] for d in decoded])) if decoded else np.zeros(0, np.int64)
    table = FrameTable()
    for g in used.tolist():
        table.intern(frames[g])
    limits = ProfileLimits(
        max_depth=max(DEFAULT_MAX_DEPTH, min(int(mdepth), MAX_LOAD_DEPTH)),
        max_nodes=max(DEFAULT_MAX_NODES, min(int(mnodes), MAX_LOAD_NODES)),
    )
    prof = Profile(types, name=text_of(name), source=text_of(source), frames=table, limits=limits)
    prof.default_sample_type = int(default_st) if 0 <= int(default_st) < k else 0
    prof.period = float(period)
    prof.period_type = parse_sample_types(period_type)[0] if period_type else None
    prof.duration_ns = int(duration_ns)
    prof.meta = {str(a): str(b) for a, b in json_object(meta_text, f"profile {key!r} metadata").items()}
    for fids, offsets, vals, t0, t1, labels in decoded:
        local = np.searchsorted(used, fids).astype(np.int64)
        lab_ids, lab_table, only = labels
        ss = StackSet(table, local, offsets, np.array(vals, dtype=np.float64), lab_ids, lab_table)
        if only:
            prof.add_labels(ss)
        elif t0 is None:
            prof.add_stackset(ss)
        else:
            prof.add_stackset(ss, float(t0), float(t1 if t1 is not None else t0))
    return prof


Labels = tuple[IntArray | None, LabelTable | None, bool]
MAX_LABEL_SETS_PER_BATCH = MAX_LABEL_SETS  # a writer never stores more (its table is capped)


def _labels(sets_text: object, ids_blob: object, only: object, n_stacks: int, what: str) -> Labels:
    """A batch's label ids and table (schema 2), checked: ids must index the batch's sets."""
    if sets_text is None or ids_blob is None:
        return None, None, bool(only)
    raw = json.loads(text_of(sets_text))
    if not isinstance(raw, list) or len(raw) > MAX_LABEL_SETS_PER_BATCH:
        raise FormatError(f"{what}: bad label sets", FIX_CORRUPT)
    table = LabelTable()
    local: list[int] = []
    for entry in raw:
        if not isinstance(entry, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in entry
        ):
            raise FormatError(f"{what}: bad label set", FIX_CORRUPT)
        local.append(table.intern(make_set((p[0], p[1]) for p in entry)))
    ids = unpack(ids_blob, "<i4", n_stacks, f"{what} label ids").astype(np.int64)
    if len(ids) and (int(ids.max()) >= len(local) or int(ids.min()) < -1):
        raise FormatError(f"{what}: a label id points past its label sets", FIX_CORRUPT)
    remap = np.asarray([*local, -1], dtype=np.int64)  # -1 indexes the trailing "none"
    return remap[ids], table, bool(only)
