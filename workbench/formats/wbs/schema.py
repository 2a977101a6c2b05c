"""The session file's layout (``.wbs``, one SQLite database), its migrations and its value codecs.

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

Schema 2 adds sample labels to ``batches``: ``label_sets`` (JSON list of label sets, each
a list of ``[key, value]``) and ``label_ids`` (i32 per stack, an index into that list, -1
for none). A batch with ``labels_only = 1`` adds no values: it says which values of the
batches before it carry which labels (a snapshot writes its time slices unlabelled, then
one such batch).

The decoders here treat every value as untrusted: array sizes are checked against the
row's counts before decompressing (bounded output), and bad values become a
``FormatError`` with a fix.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from ...errors import FormatError
from ...model.profile import SampleType

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SCHEMA_VERSION = 2
APPLICATION_ID = 0x57425331  # "WBS1": lets `file`-like tools and our sniffing tell a session from other SQLite
SQLITE_MAGIC = b"SQLite format 3\x00"

# Loading caps: a hostile file may claim anything in its counts.
MAX_BLOB_BYTES = 512 * 1024 * 1024
MAX_LOAD_DEPTH = 100_000
MAX_LOAD_NODES = 20_000_000

FIX_CORRUPT = "the session file is damaged; reopen an earlier copy or re-record the capture"

SCHEMA_V1 = """
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
    lengths BLOB NOT NULL, frames BLOB NOT NULL, vals BLOB NOT NULL,
    label_sets TEXT, label_ids BLOB, labels_only INTEGER NOT NULL DEFAULT 0);
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


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """v1: batches without sample labels."""
    conn.execute("ALTER TABLE batches ADD COLUMN label_sets TEXT")
    conn.execute("ALTER TABLE batches ADD COLUMN label_ids BLOB")
    conn.execute("ALTER TABLE batches ADD COLUMN labels_only INTEGER NOT NULL DEFAULT 0")


# MIGRATIONS[v] upgrades a database from version v to v + 1.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {0: _migrate_0_to_1, 1: _migrate_1_to_2}


def migrate(conn: sqlite3.Connection, version: int) -> int:
    """Run each step from ``version`` up to SCHEMA_VERSION in one transaction; returns the new version."""
    with conn:
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](conn)
            version += 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))
    return version


# ------------------------------------------------------------------ encoding
def pack(arr: npt.NDArray[Any], dtype: str) -> bytes:
    return zlib.compress(np.ascontiguousarray(arr, dtype=dtype).tobytes(), 1)


def unpack(blob: object, dtype: str, count: int, what: str) -> npt.NDArray[Any]:
    """Decompress exactly ``count`` items, refusing more output than that (a bomb) or less."""
    if not isinstance(blob, bytes):
        raise FormatError(f"{what} is not binary data", FIX_CORRUPT)
    itemsize = np.dtype(dtype).itemsize
    expected = count * itemsize
    if count < 0 or expected > MAX_BLOB_BYTES:
        raise FormatError(f"{what} claims {count} items, more than the loader accepts", FIX_CORRUPT)
    d = zlib.decompressobj()
    try:
        raw = d.decompress(blob, expected + 1)
    except zlib.error as exc:
        raise FormatError(f"{what} does not decompress ({exc})", FIX_CORRUPT) from None
    if len(raw) != expected or d.unconsumed_tail:
        raise FormatError(f"{what} holds {len(raw)} bytes, expected {expected}", FIX_CORRUPT)
    return np.frombuffer(raw, dtype=dtype)


def sql_text(text: str) -> str | bytes:
    """Text for SQLite. Names from the OS or a target can hold lone surrogates (undecodable
    bytes), which SQLite's UTF-8 cannot store: those go in as a BLOB of their raw bytes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def text_of(value: object) -> str:
    """The inverse of ``sql_text`` for anything read back."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogatepass")
    return str(value)


def sample_types_json(types: tuple[SampleType, ...]) -> str:
    return json.dumps([[s.type, s.unit] for s in types])


def parse_sample_types(text: object) -> tuple[SampleType, ...]:
    try:
        data = json.loads(str(text))
        types = tuple(SampleType(str(t), str(u)) for t, u in data)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"bad sample types {str(text)[:80]!r} ({exc})", FIX_CORRUPT) from None
    if not types:
        raise FormatError("a profile has no sample types", FIX_CORRUPT)
    return types


def json_object(text: object, what: str) -> dict[str, Any]:
    try:
        data = json.loads(str(text))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise FormatError(f"{what} is not a JSON object", FIX_CORRUPT)
    return data
