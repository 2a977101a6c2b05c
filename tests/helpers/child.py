"""A test service as a child process: started, read until its ready line, always reaped."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


@contextmanager
def ready_child(
    argv: Sequence[str], ready: str, what: str, *, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start ``argv``; its first stdout line must start with ``ready`` (the service is serving
    then), else RuntimeError naming ``what``. SIGTERM on the way out, SIGKILL if it lingers."""
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(ready):
            raise RuntimeError(f"{what} did not start: {line!r}")
        yield proc
    finally:
        stop_child(proc)


def stop_child(proc: subprocess.Popen[Any], grace_s: float = 5.0) -> None:
    """SIGTERM, SIGKILL after ``grace_s``; reaped either way, its stdout pipe closed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    if proc.stdout is not None:
        proc.stdout.close()
