"""The one way files are written: to a temp file beside the target, fsync, then rename over it.

A failed or interrupted export (disk full, a crash, Ctrl+C) must never leave half a file
where the user's last good one was: the old file stays until the new one is complete
and on disk. The temp file sits in the target's directory so the rename is atomic (same
filesystem), and is named after the pid so two processes writing one target do not
share a temp file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from ..errors import FormatError

FIX_WRITE = "check the directory exists and is writable"


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def temp_path_for(path: str) -> str:
    return f"{path}.tmp{os.getpid()}"


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    # the rename itself is durable only once the directory entry is flushed; some
    # filesystems (and every non-POSIX one) refuse to open a directory: best effort
    with contextlib.suppress(OSError):
        _fsync(os.path.dirname(os.path.abspath(path)))


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], what: str = "file", remove: Callable[[str], None] = _unlink
) -> Iterator[str]:
    """Yield a temp path to write; when the block succeeds, fsync it and rename it over ``path``.

    An ``OSError`` in the block, the fsync or the rename becomes a ``FormatError`` naming
    ``path`` ("cannot write <what>"); any failure removes the temp file with ``remove``
    (a writer with side files, like SQLite's ``-wal``, passes its own) and leaves an
    existing ``path`` untouched.
    """
    p = os.fspath(path)
    tmp = temp_path_for(p)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, p)
    except OSError as exc:
        raise FormatError(f"cannot write {what}: {exc.strerror or exc}", FIX_WRITE, path=p) from exc
    finally:
        remove(tmp)  # after the rename there is nothing left to remove but side files
    _fsync_dir(p)


def atomic_write(path: str | os.PathLike[str], data: bytes, what: str = "file") -> None:
    """Write ``data`` to ``path`` through ``atomic_path``."""
    with atomic_path(path, what) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
