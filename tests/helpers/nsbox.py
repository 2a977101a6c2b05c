"""A target in its own PID, mount and network namespaces: a container without a container runtime.

``unshare --pid --mount --net --fork --mount-proc`` (util-linux, needs root) starts a shell
that is PID 1 of the new PID namespace, like ``tini`` in a container. Inside it:

- loopback up (``ip link set lo up``), nothing else in the network namespace;
- a private tmpfs on ``/tmp`` (the host's ``/tmp`` is not visible);
- the interpreter's prefix bind-mounted at ``/opt/ctr-python`` (on a tmpfs over ``/opt``,
  so the host has no such path) and the host's pyenv tree hidden under a tmpfs, so the
  target's binary and libpython exist only inside the container (``LD_LIBRARY_PATH``
  beats the binary's absolute RUNPATH);
- optional extra bind mounts (e.g. a site-packages directory at ``/opt/ctr-site``).

The target runs as a child of that shell, so it has PID 2 (or so) inside while the host
sees another number. ``NsTarget.pid`` is the host PID, found as a descendant of the
``unshare`` process; everything is stopped by PID (killing the namespace's PID 1 kills
every process in the namespace).

    with run_in_namespaces(SOURCE, ready=b"TARGET_READY") as t:
        ... attach to t.pid ...
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CTR_PREFIX = "/opt/ctr-python"
CTR_SITE = "/opt/ctr-site"
UNSHARE = ("unshare", "--pid", "--mount", "--net", "--fork", "--mount-proc", "--propagation", "private")


@functools.cache
def available() -> str | None:
    """None when namespaced targets can run here, else why not (for a skip reason).

    Root alone is not enough: a container without CAP_SYS_ADMIN refuses the unshare, so
    it is tried once (with the tmpfs and overlay mounts the tests and lldb's shadow need).
    """
    if os.geteuid() != 0:
        return "needs root (unshare of PID, mount and network namespaces)"
    for tool in ("unshare", "ip", "mount", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} missing: apt-get install util-linux iproute2"
    probe = (
        "set -e; ip link set lo up; mount -t tmpfs p /tmp; mkdir /tmp/l /tmp/u /tmp/w /tmp/m; "
        "mount -t overlay p -o lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w /tmp/m"
    )
    try:
        done = subprocess.run([*UNSHARE, "sh", "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed: {exc}"
    if done.returncode != 0:
        return f"unshare of PID/mount/network namespaces refused here: {done.stderr.strip()[-200:]}"
    return None


def python_prefix(exe: str | None = None) -> tuple[Path, str]:
    """(prefix, python name) of a real interpreter (not a venv's symlink): main's venv base by default."""
    real = Path(os.path.realpath(exe or sys.executable))
    return real.parent.parent, real.name


def _pyenv_root(prefix: Path) -> Path | None:
    """The host's pyenv ``versions`` directory holding ``prefix``, hidden inside the box."""
    for parent in prefix.parents:
        if parent.name == "versions" and parent.parent.name.endswith("pyenv"):
            return parent
    return None


@dataclass
class NsTarget:
    """One boxed target; ``pid`` is the host PID of the program (not of unshare or the shell)."""

    unshare: subprocess.Popen[bytes]
    pid: int = 0
    ns_pid: int = 0
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=400))
    _reader: threading.Thread | None = None

    def json_lines(self) -> list[dict[str, object]]:
        out = []
        for line in list(self.lines):
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if isinstance(msg, dict):
                    out.append(msg)
        return out

    def alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as fh:
                return fh.read().rpartition(b")")[2].split()[0] != b"Z"
        except OSError:
            return False


def _descendants(pid: int) -> list[int]:
    """Children of ``pid``, depth first, read from /proc (no psutil needed in helpers)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            kids = []
        out += kids
        todo += kids
    return out


def nspid(pid: int) -> list[int]:
    """The ``NSpid`` line of /proc/PID/status: the PID in each nested namespace, outermost first."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("NSpid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def _box_script(prefix: Path | None, exe: str, binds: dict[str, str], argv: list[str], env: dict[str, str]) -> str:
    """The shell's steps; ``prefix`` None runs ``exe`` as the host has it (Node from /usr/bin)."""
    hide = _pyenv_root(prefix) if prefix is not None else None
    steps = [
        "set -e",
        "ip link set lo up",
        "mount -t tmpfs wbopt /opt",
    ]
    if prefix is not None:
        steps += [f"mkdir -p {CTR_PREFIX}", f"mount --bind {shlex.quote(str(prefix))} {CTR_PREFIX}"]
    for host, inside in binds.items():
        steps += [f"mkdir -p {shlex.quote(inside)}", f"mount --bind {shlex.quote(host)} {shlex.quote(inside)}"]
    # the private /tmp comes after the binds: a checkout (and its .venv) under the host's /tmp,
    # as CI's clean clones are, would otherwise be hidden before it is bound (mount exits 32)
    steps.append("mount -t tmpfs -o mode=1777 wbtmp /tmp")
    if hide is not None:
        steps.append(f"mount -t tmpfs wbhide {shlex.quote(str(hide))}")
    envs = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    cmd = " ".join(shlex.quote(a) for a in argv)
    steps += [
        "cd /tmp",
        # the program is the shell's child (PID 2 or so, as behind tini); the shell waits for it
        f"env -i PATH={CTR_PREFIX}/bin:/usr/bin:/bin LD_LIBRARY_PATH={CTR_PREFIX}/lib {envs} "
        f"{shlex.quote(exe)} {cmd} &",
        "wait $!",
    ]
    return "\n".join(steps)


def start_in_namespaces(
    args: list[str],
    *,
    python: str | None = None,
    binds: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    ready: bytes = b"TARGET_READY",
    timeout: float = 30.0,
    program: str | None = None,
) -> NsTarget:
    """Start ``<boxed python> args...`` (or ``program`` with args, for Node) in its own namespaces.

    Returns once a line containing ``ready`` arrived on its stdout; raises (after stopping
    everything) when it does not come within ``timeout``.
    """
    prefix: Path | None = None
    if program is None:
        prefix, name = python_prefix(python)
        want = f"{CTR_PREFIX}/bin/{name}"
    else:
        want = program
    script = _box_script(prefix, want, binds or {}, args, {"PYTHONUNBUFFERED": "1", **(env or {})})
    proc = subprocess.Popen(
        [*UNSHARE, "sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    box = NsTarget(proc)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while not any(ready in line for line in buf.split(b"\n")[:-1]):  # a whole line
            if proc.poll() is not None or time.monotonic() > deadline:
                alive = proc.poll() is None
                stop(box)  # before reading stderr: a running box never closes it
                err = "(still running at the deadline)" if alive else ""
                raise RuntimeError(f"boxed target not ready (rc={proc.returncode}) {err}: {buf[-2000:]!r}")
            if sel.select(0.1):
                buf += os.read(proc.stdout.fileno(), 65536)
    finally:
        sel.close()
    box.lines.extend(x.decode(errors="replace") for x in buf.splitlines())
    kids = _descendants(proc.pid)  # [shell (PID 1 inside), program, ...]
    for pid in kids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv0 = fh.read().split(b"\0", 1)[0].decode(errors="replace")
        except OSError:
            continue
        if argv0 == want:
            box.pid = pid
            box.ns_pid = nspid(pid)[-1]
            break
    if not box.pid:
        stop(box)
        raise RuntimeError(f"no {want} among the box's processes {kids}")
    box._reader = threading.Thread(target=_pump, args=(box,), daemon=True)
    box._reader.start()
    return box


def _pump(box: NsTarget) -> None:
    out = box.unshare.stdout
    assert out is not None
    with contextlib.suppress(ValueError, OSError):
        for line in out:
            box.lines.append(line.decode(errors="replace").rstrip("\n"))


def stop(box: NsTarget) -> None:
    """SIGKILL the namespace's PID 1 (the kernel then kills every process in it), reap unshare."""
    proc = box.unshare
    for pid in _descendants(proc.pid)[:1]:  # the shell: PID 1 of the namespace
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    if proc.poll() is None:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    if box._reader is not None:
        box._reader.join(5)
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


@contextlib.contextmanager
def run_in_namespaces(args: list[str], **kw: object) -> Iterator[NsTarget]:
    box = start_in_namespaces(args, **kw)  # type: ignore[arg-type]
    try:
        yield box
    finally:
        stop(box)
