"""Writing a session file: ``SessionStore`` (live, as data arrives) and ``save_session`` (at once).

Written as data arrives: ``SessionStore.attach(session)`` writes what the session holds,
then every applied batch through a session listener. A background thread owns the
connection and commits at most every ``commit_interval_s`` or ``commit_batches``
batches (WAL, ``synchronous=NORMAL``: a killed process keeps every committed batch).
The layout is in ``schema``, the rows in ``rows``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import tempfile
import threading
import time
from typing import cast

from ...errors import FormatError
from ...model.profile import Profile, ProfileBatch
from ...model.session import Batch, SeriesBatch, Session
from ..atomic import atomic_path
from .rows import FindingsSnapshot, Flush, InfoItem, Item, ProfileSnapshot, RowWriter, SeriesSnapshot
from .schema import (
    APPLICATION_ID,
    SCHEMA_V1,
    SCHEMA_VERSION,
)

_STOP = object()


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
        self._writer = RowWriter(self._conn)
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
            self._queue.put(InfoItem(session.info))
            for key, p in session.profiles.items():
                self._queue.put(ProfileSnapshot(key, p.copy()))
            for s in session.series.values():
                self._queue.put(SeriesSnapshot(s.name, s.unit, s.capacity, s.buckets()))
            self._queue.put(FindingsSnapshot(list(session.findings)))
            for ev in session.events:
                self._queue.put(ev)
            session.add_listener(self._on_batch)

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything queued so far is committed; False on timeout or after an error."""
        if self._closed or self.error is not None:
            return False
        done = threading.Event()
        self._queue.put(Flush(done))
        return done.wait(timeout) and self.error is None

    def close(self) -> None:
        """Write the final state (series snapshots, profile attributes), commit and close the file."""
        if self._closed:
            return
        session = self._session
        if session is not None:
            with session.lock():
                session.remove_listener(self._on_batch)
                self._queue.put(InfoItem(session.info))
                for key, p in session.profiles.items():
                    self._queue.put(ProfileSnapshot(key, p.copy()))
                for s in session.series.values():
                    self._queue.put(SeriesSnapshot(s.name, s.unit, s.capacity, s.buckets()))
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
                self._queue.put(ProfileSnapshot(key, prof.copy()))
                return
            self._batch_counts[key] = n
        self._queue.put(batch)
        if isinstance(batch, SeriesBatch):
            for name in {pt.name for pt in batch.points}:
                n = self._chunk_counts.get(name, 0) + 1
                series = session.series.get(name)
                if n >= self.compact_chunks and series is not None:
                    n = 0
                    self._queue.put(SeriesSnapshot(name, series.unit, series.capacity, series.buckets()))
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
                if isinstance(item, Flush):
                    self._commit()
                    pending, last = 0, time.monotonic()
                    item.done.set()
                    continue
                if item is not None and self.error is None:
                    self._writer.write(cast(Item, item))
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
                if isinstance(item, Flush):
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
