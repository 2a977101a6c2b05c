"""The session file (``.wbs``): one SQLite database holding profiles, series, findings and events.

``schema`` holds the layout, migrations and value codecs; ``rows`` turns session data
into rows; ``store`` writes (live through ``SessionStore``, or whole with
``save_session``); ``load`` reads (``load_session``).
The names below are the package's public surface: import them from here.
"""

from __future__ import annotations

from .load import load_session
from .rows import profile_batches
from .schema import (
    APPLICATION_ID,
    MAX_BLOB_BYTES,
    MAX_LOAD_DEPTH,
    MAX_LOAD_NODES,
    MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    migrate,
)
from .store import SessionStore, profile_bytes, save_session, session_bytes

__all__ = [
    "APPLICATION_ID",
    "MAX_BLOB_BYTES",
    "MAX_LOAD_DEPTH",
    "MAX_LOAD_NODES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "SessionStore",
    "load_session",
    "migrate",
    "profile_batches",
    "profile_bytes",
    "save_session",
    "session_bytes",
]
