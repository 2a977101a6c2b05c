"""Run a debugger where the target's executable path exists: lldb 14 and containers.

lldb-server 14 reads the path ``/proc/PID/exe`` links to and opens it (for the
architecture) when it attaches; a containerised target's path (``/usr/local/bin/python3.12``
in its image, ``/opt/ctr-python/bin/python3.12`` in the tests) often does not exist on
the host, and lldb-server then crashes ("attach failed: lost connection"). Any ELF of
the same architecture at that path satisfies it.

So the debugger runs in a private mount namespace of its own (``unshare --mount``, root
only) in which the nearest existing ancestor directory of that path is overlaid with a
tmpfs, and the target's binary (read through ``/proc/PID/exe``) is copied to the path.
Nothing on the host changes; the namespace and its tmpfs go away with the debugger.
Stdlib only: the memray helper imports it too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile


class ShadowError(RuntimeError):
    """The target's executable cannot be shadowed here; the message says why."""


def missing_exe(pid: int) -> str | None:
    """The target's executable path when the host has no file there (a container's), else None."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return None
    if not exe.startswith("/") or os.path.exists(exe):
        return None
    return exe


def wrap(pid: int, cmd: list[str]) -> tuple[list[str], str | None]:
    """(command to run, a scratch directory to remove afterwards or None).

    Unchanged when the executable path exists here. Raises ShadowError when it cannot be
    made to (no ``unshare``, not root, or no existing ancestor below ``/``).
    """
    exe = missing_exe(pid)
    if exe is None:
        return cmd, None
    anc = os.path.dirname(exe)
    while not os.path.isdir(anc):
        anc = os.path.dirname(anc)
    unshare = shutil.which("unshare")
    if anc == "/" or unshare is None or os.geteuid() != 0:
        raise ShadowError(
            f"the target's executable {exe} exists only inside its container and lldb 14 cannot attach "
            "without that path"
            + (" (its top directory is missing here)" if anc == "/" else " (needs root and util-linux unshare)")
        )
    scratch = tempfile.mkdtemp(prefix=f"wb-shadow-{pid}-")
    q = shlex.quote
    script = "; ".join(
        [
            "set -e",
            f"mount -t tmpfs wbshadow {q(scratch)}",
            f"mkdir {q(scratch)}/u {q(scratch)}/w",
            f"mount -t overlay wbshadow -o lowerdir={q(anc)},upperdir={q(scratch)}/u,workdir={q(scratch)}/w {q(anc)}",
            f"mkdir -p {q(os.path.dirname(exe))}",
            f"cp /proc/{pid}/exe {q(exe)}",
            'exec "$@"',
        ]
    )
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", *cmd], scratch


def cleanup(scratch: str | None) -> None:
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
