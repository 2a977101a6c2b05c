"""The session file (``.wbs``): one SQLite database holding profiles, series, findings and events.

Written as data arrives: ``SessionStore.attach(session)`` writes what the session holds,
then every applied batch through a session listener. A background thread owns the
connection and commits at most every ``commit_interval_s`` or ``commit_batches``
batches (WAL, ``synchronous=NORMAL``: a killed process keeps every committed batch).

Layout (schema version 1):

- ``meta``: key/value text, ``schema_version`` first; session info (created, title, targets).
- ``frames``: one row per distinct frame of the whole session.
- ``profiles``: one row per session key, sample types and metadata as JSON.
- ``batches``: profile deltas exactly as they arrived, with their time range, so a
  reopened session can still be cut by time. Stacks are three zlib-compressed
  little-endian arrays (stack lengths u32, frame ids u32, values f64), never one row
  per sample. A ``replace`` batch deletes the profile's earlier batches.
- ``series`` (with an optional RingSeries bucket snapshot) and ``series_chunks``
  (points appended since the snapshot, as t/value arrays).
- ``findings`` (JSON, with their target) and ``events``.

Every read is treated as untrusted: array sizes are checked against the row's counts
before decompressing (bounded output), frame ids against the frame table, and any
SQLite or decoding failure becomes a ``FormatError`` with a fix.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import sqlite3
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from ..errors import FormatError
from ..model.findings import Finding
from ..model.frames import Frame, FrameTable, Runtime
from ..model.profile import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_NODES,
    Profile,
    ProfileBatch,
    ProfileLimits,
    SampleType,
    StackSet,
)
from ..model.series import RingSeries
from ..model.session import (
    MAX_FINDINGS,
    Batch,
    EventBatch,
    FindingsBatch,
    SeriesBatch,
    Session,
    SessionInfo,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x57425331  # "WBS1": lets `file`-like tools and our sniffing tell a session from other SQLite
SQLITE_MAGIC = b"SQLite format 3\x00"

# Loading caps: a hostile file may claim anything in its counts.
MAX_BLOB_BYTES = 512 * 1024 * 1024
MAX_LOAD_DEPTH = 100_000
MAX_LOAD_NODES = 20_000_000

_FIX_CORRUPT = "the session file is damaged; reopen an earlier copy or re-record the capture"

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY, function TEXT NOT NULL, file TEXT NOT NULL,
    line INTEGER NOT NULL, module TEXT NOT NULL, runtime TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, source TEXT NOT NULL,
    sample_types TEXT NOT NULL, default_sample_type INTEGER NOT NULL DEFAULT 0,
    period REAL NOT NULL DEFAULT 0, period_type TEXT, duration_ns INTEGER NOT NULL DEFAULT 0,
    meta TEXT NOT NULL DEFAULT '{}', max_depth INTEGER NOT NULL DEFAULT 4096,
    max_nodes INTEGER NOT NULL DEFAULT 2000000);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL, t0 REAL, t1 REAL,
    n_stacks INTEGER NOT NULL, n_frames INTEGER NOT NULL,
    lengths BLOB NOT NULL, frames BLOB NOT NULL, vals BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS batches_by_profile ON batches (profile_id, id);
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, unit TEXT NOT NULL,
    capacity INTEGER NOT NULL, n_buckets INTEGER NOT NULL DEFAULT 0, buckets BLOB);
CREATE TABLE IF NOT EXISTS series_chunks (
    id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, n INTEGER NOT NULL, t BLOB NOT NULL, v BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_series ON series_chunks (series_id, id);
CREATE TABLE IF NOT EXISTS findings (id INTEGER PRIMARY KEY, target TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, target TEXT NOT NULL);
"""


# ------------------------------------------------------------------ migrations
def _migrate_0_to_1(conn: sqlite3.Connection) -> None:
    """v0 (pre-release): no events table, profiles without default sample type and limits."""
    conn.execute("ALTER TABLE profiles ADD COLUMN default_sample_type INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE profiles ADD COLUMN max_depth INTEGER NOT NULL DEFAULT 4096")
    conn.execute("ALTER TABLE profiles ADD COLUMN max_nodes INTEGER NOT NULL DEFAULT 2000000")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL,"
        " text TEXT NOT NULL, target TEXT NOT NULL)"
    )


# MIGRATIONS[v] upgrades a database from version v to v + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _migrate_0_to_1}


def migrate(conn: sqlite3.Connection, version: int) -> int:
    """Run each step from ``version`` up to SCHEMA_VERSION in one transaction; returns the new version."""
    with conn:
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    return version


# ------------------------------------------------------------------ encoding
def _pack(arr: npt.NDArray[Any], dtype: str) -> bytes:
    return zlib.compress(np.ascontiguousarray(arr, dtype=dtype).tobytes(), 1)


def _unpack(blob: object, dtype: str, count: int, what: str) -> npt.NDArray[Any]:
    """Decompress exactly ``count`` items, refusing more output than that (a bomb) or less."""
    if not isinstance(blob, bytes):
        raise FormatError(f"{what} is not binary data", _FIX_CORRUPT)
    itemsize = np.dtype(dtype).itemsize
    expected = count * itemsize
    if count < 0 or expected > MAX_BLOB_BYTES:
        raise FormatError(f"{what} claims {count} items, more than the loader accepts", _FIX_CORRUPT)
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob, expected + 1)
    except zlib.error as exc:
        raise FormatError(f"{what} does not decompress ({exc})", _FIX_CORRUPT) from None
    if len(raw) != expected or d.unconsumed_tail:
        raise FormatError(f"{what} holds {len(raw)} bytes, expected {expected}", _FIX_CORRUPT)
    return np.frombuffer(raw, dtype=dtype)


def _t(text: str) -> str | bytes:
    """Text for SQLite. Names from the OS or a target can hold lone surrogates (undecodable
    bytes), which SQLite's UTF-8 cannot store: those go in as a BLOB of their raw bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def _s(value: object) -> str:
    """The inverse of ``_t`` for anything read back."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return str(value)


def _st_json(types: tuple[SampleType, ...]) -> str:
    return json.dumps([[s.type, s.unit] for s in types])


def _st_parse(text: object) -> tuple[SampleType, ...]:
    try:
        data = json.loads(str(text))
        types = tuple(SampleType(str(t), str(u)) for t, u in data)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"bad sample types {str(text)[:80]!r} ({exc})", _FIX_CORRUPT) from None
    if not types:
        raise FormatError("a profile has no sample types", _FIX_CORRUPT)
    return types


def _json_obj(text: object, what: str) -> dict[str, Any]:
    try:
        data = json.loads(str(text))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise FormatError(f"{what} is not a JSON object", _FIX_CORRUPT)
    return data


# ------------------------------------------------------------------ writing
@dataclass(slots=True)
class _ProfileSnapshot:
    """A profile that existed before the store attached (or one being saved whole)."""

    key: str
    profile: Profile


@dataclass(slots=True)
class _ProfileHeader:
    """Final attributes of a profile (period, meta...) that batches do not carry."""

    key: str
    name: str
    source: str
    sample_types: tuple[SampleType, ...]
    default_sample_type: int
    period: float
    period_type: SampleType | None
    duration_ns: int
    meta: dict[str, str]
    limits: ProfileLimits


@dataclass(slots=True)
class _SeriesSnapshot:
    name: str
    unit: str
    capacity: int
    buckets: FloatArray


@dataclass(slots=True)
class _InfoItem:
    info: SessionInfo


@dataclass(slots=True)
class _FindingsSnapshot:
    findings: list[Finding]


@dataclass(slots=True)
class _Flush:
    done: threading.Event


_Item = Batch | _ProfileSnapshot | _ProfileHeader | _SeriesSnapshot | _InfoItem | _FindingsSnapshot | _Flush
_STOP = object()


def _header_of(key: str, p: Profile) -> _ProfileHeader:
    return _ProfileHeader(
        key,
        p.name,
        p.source,
        p.sample_types,
        p.default_sample_type,
        p.period,
        p.period_type,
        p.duration_ns,
        dict(p.meta),
        p.limits,
    )


def profile_batches(p: Profile) -> Iterator[tuple[StackSet, float | None, float | None]]:
    """A whole profile as batches: one per time slice, plus the samples no slice covers."""
    covered = np.zeros_like(p.self_values)
    for s in sorted(p.slices, key=lambda s: (s.t0, s.t1)):
        np.add.at(covered, s.nodes, s.values)
        ss = p.paths(s.nodes)
        yield StackSet(ss.table, ss.frames, ss.offsets, s.values), s.t0, s.t1
    sv = p.self_values
    rest = sv - covered
    # where slices cover a value, their float sum may differ from it in the last bits:
    # that difference is rounding, not samples (untouched values pass through exactly)
    # (at most max_slices additions of float64: well under 1e-12 relative)
    rest[(covered != 0) & (np.abs(rest) <= 1e-12 * np.abs(sv))] = 0.0
    nodes = np.flatnonzero(np.any(rest != 0, axis=1)).astype(np.int64)
    if len(nodes):
        ss = p.paths(nodes)
        yield StackSet(ss.table, ss.frames, ss.offsets, rest[nodes]), None, None


class _Writer:
    """Turns items into rows. Only the store's writer thread touches it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.frame_ids: dict[Frame, int] = {}
        # per capture frame table: its ids -> our ids (-1 = not yet written)
        self.remaps: weakref.WeakKeyDictionary[FrameTable, IntArray] = weakref.WeakKeyDictionary()
        self.profiles: dict[str, tuple[int, tuple[SampleType, ...], dict[str, str]]] = {}
        self.series: dict[str, int] = {}

    def write(self, item: _Item) -> None:
        if isinstance(item, ProfileBatch):
            self._profile_batch(item)
        elif isinstance(item, SeriesBatch):
            self._series_points(item)
        elif isinstance(item, FindingsBatch):
            if item.replace_target is not None:
                self.conn.execute("DELETE FROM findings WHERE target = ?", (_t(item.replace_target),))
            self._insert_findings(item.findings)
        elif isinstance(item, EventBatch):
            self.conn.execute(
                "INSERT INTO events (t, kind, text, target) VALUES (?, ?, ?, ?)",
                (item.t, _t(item.kind), _t(item.text), _t(item.target)),
            )
            self.conn.execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (MAX_FINDINGS,),
            )
        elif isinstance(item, _ProfileSnapshot):
            h = _header_of(item.key, item.profile)
            self._profile_row(h, replace=True)
            for ss, t0, t1 in profile_batches(item.profile):
                self._stacks(self.profiles[item.key][0], ss, t0, t1)
        elif isinstance(item, _ProfileHeader):
            self._profile_row(item, replace=False)
        elif isinstance(item, _SeriesSnapshot):
            sid = self._series_id(item.name, item.unit, item.capacity)
            self.conn.execute("DELETE FROM series_chunks WHERE series_id = ?", (sid,))
            self.conn.execute(
                "UPDATE series SET n_buckets = ?, buckets = ?, capacity = ? WHERE id = ?",
                (int(item.buckets.shape[1]), _pack(item.buckets, "<f8"), item.capacity, sid),
            )
        elif isinstance(item, _InfoItem):
            info = item.info
            rows = [("created", repr(info.created)), ("title", _t(info.title)), ("targets", json.dumps(info.targets))]
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        elif isinstance(item, _FindingsSnapshot):
            self.conn.execute("DELETE FROM findings")
            self._insert_findings(item.findings)

    # -- profiles
    def _profile_row(self, h: _ProfileHeader, replace: bool) -> int:
        known = self.profiles.get(h.key)
        cols = (
            _t(h.name),
            _t(h.source),
            _st_json(h.sample_types),
            h.default_sample_type,
            h.period,
            _st_json((h.period_type,)) if h.period_type is not None else None,
            h.duration_ns,
            json.dumps(h.meta),
            h.limits.max_depth,
            h.limits.max_nodes,
        )
        if known is None:
            cur = self.conn.execute(
                "INSERT INTO profiles (name, source, sample_types, default_sample_type, period, period_type,"
                " duration_ns, meta, max_depth, max_nodes, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*cols, _t(h.key)),
            )
            pid = int(cur.lastrowid or 0)
        else:
            pid = known[0]
            self.conn.execute(
                "UPDATE profiles SET name = ?, source = ?, sample_types = ?, default_sample_type = ?, period = ?,"
                " period_type = ?, duration_ns = ?, meta = ?, max_depth = ?, max_nodes = ? WHERE id = ?",
                (*cols, pid),
            )
            if replace:
                self.conn.execute("DELETE FROM batches WHERE profile_id = ?", (pid,))
        self.profiles[h.key] = (pid, h.sample_types, dict(h.meta))
        return pid

    def _profile_batch(self, b: ProfileBatch) -> None:
        key = b.key.text  # stored as text; loading parses it back (ProfileKey.parse)
        known = self.profiles.get(key)
        # the session starts the profile afresh on replace or new sample types; mirror that
        fresh = known is None or b.replace or known[1] != b.sample_types
        meta = {} if fresh or known is None else dict(known[2])
        meta.update(b.meta)
        if fresh:
            # what the session does too: a new Profile named by the key, default attributes
            h = _ProfileHeader(key, key, b.source, b.sample_types, 0, 0.0, None, 0, meta, ProfileLimits())
            self._profile_row(h, replace=True)
        elif known is not None and meta != known[2]:
            # only the metadata changed; keep attributes written by a snapshot (period, limits...)
            self.conn.execute("UPDATE profiles SET meta = ? WHERE id = ?", (json.dumps(meta), known[0]))
            self.profiles[key] = (known[0], known[1], meta)
        self._stacks(self.profiles[key][0], b.stacks, b.t0, b.t1)

    def _global_ids(self, table: FrameTable, fids: IntArray) -> IntArray:
        remap = self.remaps.get(table)
        if remap is None or len(remap) < len(table):
            grown = np.full(len(table), -1, dtype=np.int64)
            if remap is not None:
                grown[: len(remap)] = remap
            remap = grown
            self.remaps[table] = remap
        used = np.unique(fids)
        missing = used[remap[used] < 0]
        new_rows = []
        for fid in missing.tolist():
            fr = table[fid]
            gid = self.frame_ids.get(fr)
            if gid is None:
                gid = len(self.frame_ids)
                self.frame_ids[fr] = gid
                new_rows.append((gid, _t(fr.function), _t(fr.file), int(fr.line), _t(fr.module), str(fr.runtime)))
            remap[fid] = gid
        if new_rows:
            self.conn.executemany(
                "INSERT INTO frames (id, function, file, line, module, runtime) VALUES (?, ?, ?, ?, ?, ?)", new_rows
            )
        return remap[fids]

    def _stacks(self, pid: int, ss: StackSet, t0: float | None, t1: float | None) -> None:
        n = len(ss)
        if n == 0:
            return
        frames = self._global_ids(ss.table, ss.frames) if len(ss.frames) else ss.frames
        self.conn.execute(
            "INSERT INTO batches (profile_id, t0, t1, n_stacks, n_frames, lengths, frames, vals)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                t0,
                t1,
                n,
                len(frames),
                _pack(np.diff(ss.offsets), "<u4"),
                _pack(frames, "<u4"),
                _pack(ss.values, "<f8"),
            ),
        )

    # -- series, findings
    def _series_id(self, name: str, unit: str, capacity: int) -> int:
        sid = self.series.get(name)
        if sid is None:
            cur = self.conn.execute(
                "INSERT INTO series (name, unit, capacity) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET unit = excluded.unit RETURNING id",
                (_t(name), _t(unit), capacity),
            )
            sid = int(cur.fetchone()[0])
            self.series[name] = sid
        return sid

    def _series_points(self, b: SeriesBatch) -> None:
        by_name: dict[str, tuple[str, list[float], list[float]]] = {}
        for pt in b.points:
            entry = by_name.setdefault(pt.name, (pt.unit, [], []))
            entry[1].append(pt.t)
            entry[2].append(pt.value)
        for name, (unit, ts, vs) in by_name.items():
            sid = self._series_id(name, unit, 0)
            self.conn.execute(
                "INSERT INTO series_chunks (series_id, n, t, v) VALUES (?, ?, ?, ?)",
                (sid, len(ts), _pack(np.asarray(ts), "<f8"), _pack(np.asarray(vs), "<f8")),
            )

    def _insert_findings(self, findings: list[Finding]) -> None:
        self.conn.executemany(
            "INSERT INTO findings (target, data) VALUES (?, ?)",
            [(_t(f.target), json.dumps(f.to_dict(), allow_nan=True)) for f in findings],
        )
        self.conn.execute(
            "DELETE FROM findings WHERE id <= (SELECT id FROM findings ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (MAX_FINDINGS,),
        )


def _remove_db(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path + suffix)


def _create(path: str) -> sqlite3.Connection:
    if os.path.isdir(path):
        raise FormatError("is a directory, not a session file", "give a file name ending in .wbs", path=path)
    try:
        _remove_db(path)
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.executescript(_SCHEMA_V1)
        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.commit()
    except (OSError, sqlite3.Error) as exc:
        msg = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise FormatError(
            f"cannot create session file: {msg}", "check the directory exists and is writable", path=path
        ) from None
    return conn


class SessionStore:
    """Writes a Session to a .wbs file as it changes. ``attach`` once, ``close`` at the end.

    The session's listener only enqueues (it runs on capture threads, under the session
    lock); one writer thread encodes, inserts and commits. The queue is bounded: if the
    disk cannot keep up, capture threads wait rather than the queue growing without end.

    Compaction keeps the file and its load time bounded over hours: every
    ``compact_batches`` batches of one profile, the listener enqueues a snapshot of the
    whole profile (its time slices, themselves bounded) instead of the batch, which
    replaces the earlier rows; every ``compact_chunks`` point chunks of a series, a
    bucket snapshot replaces them. The listener runs right after the session applied
    the batch, under its lock, so the snapshot holds exactly what was written before
    plus this batch. ``close`` compacts everything once more.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        commit_interval_s: float = 0.5,
        commit_batches: int = 64,
        max_queue: int = 4096,
        compact_batches: int = 1024,
        compact_chunks: int = 2048,
    ) -> None:
        self.path = os.fspath(path)
        self.compact_batches = max(compact_batches, 1)
        self.compact_chunks = max(compact_chunks, 1)
        self._batch_counts: dict[str, int] = {}
        self._chunk_counts: dict[str, int] = {}
        self.commit_interval_s = commit_interval_s
        self.commit_batches = commit_batches
        self.commits = 0
        self.error: FormatError | None = None
        self._conn = _create(self.path)
        self._writer = _Writer(self._conn)
        self._queue: queue.Queue[object] = queue.Queue(max_queue)
        self._session: Session | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="wbs-writer", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- public
    def attach(self, session: Session) -> None:
        """Write everything ``session`` holds, then every batch it applies from now on."""
        if self._session is not None:
            raise RuntimeError("a SessionStore attaches to one session")
        with session.lock():
            self._session = session
            self._queue.put(_InfoItem(session.info))
            for key, p in session.profiles.items():
                self._queue.put(_ProfileSnapshot(key, p.copy()))
            for s in session.series.values():
                self._queue.put(_SeriesSnapshot(s.name, s.unit, s.capacity, s.buckets()))
            self._queue.put(_FindingsSnapshot(list(session.findings)))
            for ev in session.events:
                self._queue.put(ev)
            session.add_listener(self._on_batch)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything queued so far is committed; False on timeout or after an error."""
        if self._closed or self.error is not None:
            return False
        done = threading.Event()
        self._queue.put(_Flush(done))
        return done.wait(timeout) and self.error is None

    def close(self) -> None:
        """Write the final state (series snapshots, profile attributes), commit and close the file."""
        if self._closed:
            return
        session = self._session
        if session is not None:
            with session.lock():
                session.remove_listener(self._on_batch)
                self._queue.put(_InfoItem(session.info))
                for key, p in session.profiles.items():
                    self._queue.put(_ProfileSnapshot(key, p.copy()))
                for s in session.series.values():
                    self._queue.put(_SeriesSnapshot(s.name, s.unit, s.capacity, s.buckets()))
        self._queue.put(_STOP)
        self._thread.join()
        self._closed = True
        try:
            if self.error is None:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the data is committed in the WAL; the checkpoint only tidies
        finally:
            self._conn.close()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- internals
    def _on_batch(self, batch: Batch) -> None:
        if self.error is not None or self._session is None:
            return
        session = self._session
        if isinstance(batch, ProfileBatch):
            key = batch.key.text
            n = self._batch_counts.get(key, 0) + 1
            prof = session.profiles.get(key)
            if n >= self.compact_batches and prof is not None:
                self._batch_counts[key] = 0
                self._queue.put(_ProfileSnapshot(key, prof.copy()))
                return
            self._batch_counts[key] = n
        self._queue.put(batch)
        if isinstance(batch, SeriesBatch):
            for name in {pt.name for pt in batch.points}:
                n = self._chunk_counts.get(name, 0) + 1
                series = session.series.get(name)
                if n >= self.compact_chunks and series is not None:
                    n = 0
                    self._queue.put(_SeriesSnapshot(name, series.unit, series.capacity, series.buckets()))
                self._chunk_counts[name] = n

    def _commit(self) -> None:
        self._conn.commit()
        self.commits += 1

    def _run(self) -> None:
        pending = 0
        last = time.monotonic()
        while True:
            timeout = max(0.0, last + self.commit_interval_s - time.monotonic()) if pending else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            try:
                if item is _STOP:
                    self._commit()
                    return
                if isinstance(item, _Flush):
                    self._commit()
                    pending, last = 0, time.monotonic()
                    item.done.set()
                    continue
                if item is not None and self.error is None:
                    self._writer.write(cast(_Item, item))
                    pending += 1
                if pending and (pending >= self.commit_batches or time.monotonic() - last >= self.commit_interval_s):
                    self._commit()
                    pending, last = 0, time.monotonic()
            except Exception as exc:
                # any failure (disk full, a bug) stops writing but keeps draining so capture threads never block on a dead writer
                self.error = FormatError(
                    f"cannot write session file: {exc}", "check free disk space and permissions", path=self.path
                )
                with contextlib.suppress(sqlite3.Error):
                    self._conn.rollback()
                if isinstance(item, _Flush):
                    item.done.set()


def save_session(session: Session, path: str | os.PathLike[str]) -> None:
    """Write the whole session to ``path`` at once (through a temp file, then a rename)."""
    p = os.fspath(path)
    tmp = f"{p}.tmp{os.getpid()}"
    store = SessionStore(tmp, commit_batches=1 << 30)
    try:
        store.attach(session)
        store.close()
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(Exception):
            store.close()
        _remove_db(tmp)
        raise
    finally:
        _remove_db(tmp)


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
            raise FormatError(f"cannot open session file ({exc})", _FIX_CORRUPT, path=path) from None
    except (sqlite3.Error, UnicodeError) as exc:
        # UnicodeError: SQLite's message quotes damaged schema text that is not UTF-8
        raise FormatError(f"cannot open session file ({exc})", _FIX_CORRUPT, path=path) from None


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
        raise FormatError(f"bad schema version {row[0]!r}", _FIX_CORRUPT, path=path) from None
    if version > SCHEMA_VERSION:
        raise FormatError(
            f"written by a newer workbench (session schema {version}, this version reads up to {SCHEMA_VERSION})",
            "upgrade workbench (pip install -U profiling-workbench) to open it",
            path=path,
        )
    if version < 0 or (version not in MIGRATIONS and version != SCHEMA_VERSION):
        raise FormatError(f"unknown session schema {version}", _FIX_CORRUPT, path=path)
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
        if exc.path is None:
            raise FormatError(exc.message, exc.fix, path=p) from None
        raise
    except (sqlite3.Error, ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError) as exc:
        raise FormatError(f"corrupt session file ({exc})", _FIX_CORRUPT, path=p) from None
    finally:
        conn.close()


def _read(conn: sqlite3.Connection) -> Session:
    session = Session()
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    created = meta.get("created")
    session.info = SessionInfo(
        created=float(created) if created and math.isfinite(float(created)) else time.time(),
        title=_s(meta.get("title", "")),
        targets=[str(t) for t in json.loads(meta.get("targets", "[]"))],
    )
    frames = _read_frames(conn)
    for row in conn.execute(
        "SELECT id, key, name, source, sample_types, default_sample_type, period, period_type, duration_ns, meta,"
        " max_depth, max_nodes FROM profiles ORDER BY id"
    ).fetchall():
        key = _s(row[1])
        session.profiles[key] = _read_profile(conn, row, frames)
    for sid, name, unit, capacity, n_buckets, buckets in conn.execute(
        "SELECT id, name, unit, capacity, n_buckets, buckets FROM series ORDER BY id"
    ).fetchall():
        # capacity 0: the writer died before its closing snapshot; use the default
        cap = min(int(capacity), 1 << 20) // 2 * 2 if int(capacity or 0) >= 8 else session.series_capacity
        if buckets is not None:
            data = _unpack(buckets, "<f8", 6 * int(n_buckets), f"series {name!r} buckets").reshape(6, -1)
            s = RingSeries.from_buckets(_s(name), _s(unit), data.copy(), capacity=cap)
        else:
            s = RingSeries(_s(name), _s(unit), capacity=cap)
        for n, tb, vb in conn.execute("SELECT n, t, v FROM series_chunks WHERE series_id = ? ORDER BY id", (sid,)):
            ts = _unpack(tb, "<f8", int(n), f"series {name!r} times")
            vs = _unpack(vb, "<f8", int(n), f"series {name!r} values")
            s.extend(ts, vs)
        session.series[_s(name)] = s
    for (data,) in conn.execute("SELECT data FROM findings ORDER BY id").fetchall():
        session.findings.append(Finding.from_dict(_json_obj(data, "a finding")))
    del session.findings[:-MAX_FINDINGS]
    for t, kind, text, target in conn.execute("SELECT t, kind, text, target FROM events ORDER BY id").fetchall():
        session.events.append(EventBatch(float(t), _s(kind), _s(text), _s(target)))
    del session.events[:-MAX_FINDINGS]
    return session


def _read_frames(conn: sqlite3.Connection) -> list[Frame]:
    out: list[Frame] = []
    for i, (fid, function, file, line, module, runtime) in enumerate(
        conn.execute("SELECT id, function, file, line, module, runtime FROM frames ORDER BY id")
    ):
        if fid != i:
            raise FormatError(f"frame ids are not dense (row {i} has id {fid})", _FIX_CORRUPT)
        try:
            rt = Runtime(runtime)
        except ValueError:
            rt = Runtime.OTHER
        out.append(Frame(_s(function), _s(file), int(line), _s(module), rt))
    return out


def _read_profile(conn: sqlite3.Connection, row: tuple[Any, ...], frames: list[Frame]) -> Profile:
    pid, key, name, source, st_text, default_st, period, period_type, duration_ns, meta_text, mdepth, mnodes = row
    types = _st_parse(st_text)
    k = len(types)
    decoded: list[tuple[IntArray, IntArray, FloatArray, float | None, float | None]] = []
    for n_stacks, n_frames, lb, fb, vb, t0, t1 in conn.execute(
        "SELECT n_stacks, n_frames, lengths, frames, vals, t0, t1 FROM batches WHERE profile_id = ? ORDER BY id",
        (pid,),
    ):
        what = f"profile {key!r} batch"
        lengths = _unpack(lb, "<u4", int(n_stacks), f"{what} stack lengths").astype(np.int64)
        fids = _unpack(fb, "<u4", int(n_frames), f"{what} frames").astype(np.int64)
        vals = _unpack(vb, "<f8", int(n_stacks) * k, f"{what} values").reshape(int(n_stacks), k)
        if int(lengths.sum()) != len(fids):
            raise FormatError(f"{what}: stack lengths do not add up to its frames", _FIX_CORRUPT)
        if len(fids) and int(fids.max()) >= len(frames):
            raise FormatError(f"{what} refers to a frame that does not exist", _FIX_CORRUPT)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        decoded.append((fids, offsets, vals, t0, t1))
    # each profile gets a frame table of only the frames it uses
    used = np.unique(np.concatenate([d[0] for d in decoded])) if decoded else np.zeros(0, np.int64)
    table = FrameTable()
    for g in used.tolist():
        table.intern(frames[g])
    limits = ProfileLimits(
        max_depth=max(DEFAULT_MAX_DEPTH, min(int(mdepth), MAX_LOAD_DEPTH)),
        max_nodes=max(DEFAULT_MAX_NODES, min(int(mnodes), MAX_LOAD_NODES)),
    )
    prof = Profile(types, name=_s(name), source=_s(source), frames=table, limits=limits)
    prof.default_sample_type = int(default_st) if 0 <= int(default_st) < k else 0
    prof.period = float(period)
    prof.period_type = _st_parse(period_type)[0] if period_type else None
    prof.duration_ns = int(duration_ns)
    prof.meta = {str(a): str(b) for a, b in _json_obj(meta_text, f"profile {key!r} metadata").items()}
    for fids, offsets, vals, t0, t1 in decoded:
        local = np.searchsorted(used, fids).astype(np.int64)
        ss = StackSet(table, local, offsets, np.array(vals, dtype=np.float64))
        if t0 is None:
            prof.add_stackset(ss)
        else:
            prof.add_stackset(ss, float(t0), float(t1 if t1 is not None else t0))
    return prof
