"""Writing a session file: ``SessionStore`` (live, as data arrives) and ``save_session`` (at once).

Written as data arrives: ``SessionStore.attach(session)`` writes what the session holds,
then every applied batch through a session listener. A background thread owns the
connection and commits at most every ``commit_interval_s`` or ``commit_batches``
batches (WAL, ``synchronous=NORMAL``: a killed process keeps every committed batch).
The layout is in ``schema``.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import numpy as np

from ...errors import FormatError
from ...model.findings import Finding
from ...model.frames import Frame, FrameTable
from ...model.profile import Profile, ProfileBatch, ProfileLimits, SampleType, StackSet
from ...model.session import MAX_FINDINGS, Batch, EventBatch, FindingsBatch, SeriesBatch, Session, SessionInfo
from ..atomic import atomic_path
from .schema import (
    APPLICATION_ID,
    SCHEMA_V1,
    SCHEMA_VERSION,
    FloatArray,
    IntArray,
    pack,
    sample_types_json,
    sql_text,
)


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
                self.conn.execute("DELETE FROM findings WHERE target = ?", (sql_text(item.replace_target),))
            self._insert_findings(item.findings)
        elif isinstance(item, EventBatch):
            self.conn.execute(
                "INSERT INTO events (t, kind, text, target) VALUES (?, ?, ?, ?)",
                (item.t, sql_text(item.kind), sql_text(item.text), sql_text(item.target)),
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
                (int(item.buckets.shape[1]), pack(item.buckets, "<f8"), item.capacity, sid),
            )
        elif isinstance(item, _InfoItem):
            info = item.info
            rows = [
                ("created", repr(info.created)),
                ("title", sql_text(info.title)),
                ("targets", json.dumps(info.targets)),
            ]
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        elif isinstance(item, _FindingsSnapshot):
            self.conn.execute("DELETE FROM findings")
            self._insert_findings(item.findings)

    # -- profiles
    def _profile_row(self, h: _ProfileHeader, replace: bool) -> int:
        known = self.profiles.get(h.key)
        cols = (
            sql_text(h.name),
            sql_text(h.source),
            sample_types_json(h.sample_types),
            h.default_sample_type,
            h.period,
            sample_types_json((h.period_type,)) if h.period_type is not None else None,
            h.duration_ns,
            json.dumps(h.meta),
            h.limits.max_depth,
            h.limits.max_nodes,
        )
        if known is None:
            cur = self.conn.execute(
                "INSERT INTO profiles (name, source, sample_types, default_sample_type, period, period_type,"
                " duration_ns, meta, max_depth, max_nodes, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*cols, sql_text(h.key)),
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
        key = b.key.text  # profiles are stored by the key's text, as the session holds them
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
                new_rows.append(
                    (gid, sql_text(fr.function), sql_text(fr.file), int(fr.line), sql_text(fr.module), str(fr.runtime))
                )
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
                pack(np.diff(ss.offsets), "<u4"),
                pack(frames, "<u4"),
                pack(ss.values, "<f8"),
            ),
        )

    # -- series, findings
    def _series_id(self, name: str, unit: str, capacity: int) -> int:
        sid = self.series.get(name)
        if sid is None:
            cur = self.conn.execute(
                "INSERT INTO series (name, unit, capacity) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET unit = excluded.unit RETURNING id",
                (sql_text(name), sql_text(unit), capacity),
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
                (sid, len(ts), pack(np.asarray(ts), "<f8"), pack(np.asarray(vs), "<f8")),
            )

    def _insert_findings(self, findings: list[Finding]) -> None:
        self.conn.executemany(
            "INSERT INTO findings (target, data) VALUES (?, ?)",
            [(sql_text(f.target), json.dumps(f.to_dict(), allow_nan=True)) for f in findings],
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
        conn.executescript(SCHEMA_V1)
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
    with atomic_path(path, "session file", remove=_remove_db) as tmp:
        store = SessionStore(tmp, commit_batches=1 << 30)
        try:
            store.attach(session)
            store.close()
        except BaseException:
            with contextlib.suppress(Exception):
                store.close()
            raise


def session_bytes(session: Session) -> bytes:
    """The bytes of ``session`` as a .wbs file, for writers that take bytes (one profile's export).

    SQLite writes to a path, so the file is built in a private temp directory and read back;
    what ``save_session`` writes for the same session is byte-for-byte the same.
    """
    with tempfile.TemporaryDirectory(prefix="wb-wbs-") as tmp:
        out = os.path.join(tmp, "session.wbs")
        save_session(session, out)
        with open(out, "rb") as fh:
            return fh.read()


def profile_bytes(profile: Profile, sample_index: int | str | None = None) -> bytes:
    """One profile as a session file (``write_profile`` to .wbs): every sample type is kept."""
    session = Session()
    session.profiles[profile.name or "profile"] = profile
    return session_bytes(session)
