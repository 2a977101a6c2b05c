"""Which Python a PID runs, and whether memray can be imported there.

memray's attach payload runs ``import memray`` inside the target, so the target's
own environment must have memray, at the version our reader speaks. ``/proc/PID/exe``
is the resolved binary, which for a virtualenv is the base interpreter without the
venv's packages; argv[0] usually still names the venv's ``bin/python``, so it wins
whenever it resolves to the same binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from importlib.metadata import version

from workbench.capture.namespaces import host_path, in_own_mount_ns

CHECK_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class MemrayInTarget:
    interpreter: str
    ok: bool
    version: str  # memray's version in the target, "" if not importable
    detail: str  # why not, in one line
    package_dir: str = ""  # memray's package directory as the target names it


def our_memray_version() -> str:
    return version("memray")


def _read_proc(pid: int, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as fh:
        return fh.read(1 << 20)


def _target_env(pid: int) -> dict[str, str]:
    """The target's PATH and Python search-path variables, where we may read them."""
    keep = ("PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "VIRTUAL_ENV", "LD_LIBRARY_PATH")
    out: dict[str, str] = {}
    try:
        raw = _read_proc(pid, "environ")
    except OSError:
        return out
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        name = k.decode("utf-8", "replace")
        if sep and name in keep:
            out[name] = v.decode("utf-8", "surrogateescape")
    return out


def target_interpreter(pid: int) -> str:
    """Path of the target's Python, preferring argv[0] when it is the same binary (venvs).

    For a target in its own mount namespace (a container) the path is the one the
    target uses, looked up in its own filesystem (through /proc/PID/root).
    """
    exe = os.readlink(f"/proc/{pid}/exe")
    exe = exe.removesuffix(" (deleted)")
    if in_own_mount_ns(pid):
        return _target_interpreter_inside(pid, exe)
    try:
        argv0 = _read_proc(pid, "cmdline").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    except OSError:
        return exe
    candidates: list[str] = []
    if argv0.startswith("/"):
        candidates.append(argv0)
    elif "/" in argv0:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            candidates.append(os.path.join(cwd, argv0))
        except OSError:
            pass
    elif argv0:
        for d in _target_env(pid).get("PATH", "").split(":"):
            if d:
                candidates.append(os.path.join(d, argv0))
    for cand in candidates:
        try:
            if os.path.realpath(cand) == os.path.realpath(exe) and os.access(cand, os.X_OK):
                return os.path.normpath(cand)
        except OSError:
            continue
    return exe


def _target_interpreter_inside(pid: int, exe: str) -> str:
    """argv[0] when it names the same binary in the container's filesystem, else the exe path."""
    try:
        argv0 = _read_proc(pid, "cmdline").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    except OSError:
        return exe
    if argv0.startswith("/"):
        a, b = host_path(pid, argv0), host_path(pid, exe)
        try:
            if os.path.samefile(a, b) and os.access(a, os.X_OK):
                return os.path.normpath(argv0)
        except OSError:
            pass
    return exe


def _in_target_mounts(pid: int, argv: list[str]) -> list[str]:
    """``argv`` run in the target's mount namespace (its filesystem) when it has its own."""
    if not in_own_mount_ns(pid):
        return argv
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise FileNotFoundError("nsenter (util-linux) is needed to look into the target's container")
    return [nsenter, f"--target={pid}", "--mount", "--", *argv]


def check_memray(pid: int) -> MemrayInTarget:
    """Run ``<target-python> -c 'import memray'`` with the target's search path; never touches the target."""
    interp = target_interpreter(pid)
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE"):
        env.pop(k, None)
    tenv = _target_env(pid)
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE"):
        if k in tenv:
            env[k] = tenv[k]
    if in_own_mount_ns(pid):
        # the container's interpreter with the container's library path, not ours
        env.pop("LD_LIBRARY_PATH", None)
        if "LD_LIBRARY_PATH" in tenv:
            env["LD_LIBRARY_PATH"] = tenv["LD_LIBRARY_PATH"]
    code = "import importlib.metadata as m, os, memray; print(m.version('memray')); print(os.path.dirname(memray.__file__))"
    try:
        proc = subprocess.run(
            _in_target_mounts(pid, [interp, "-c", code]),
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHECK_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return MemrayInTarget(interp, False, "", f"could not run {interp}: {exc}")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["import failed"])[-1]
        return MemrayInTarget(interp, False, "", last)
    out = proc.stdout.strip().splitlines()
    return MemrayInTarget(interp, True, out[0] if out else "", "", out[1] if len(out) > 1 else "")
