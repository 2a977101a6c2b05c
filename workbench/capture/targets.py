"""What a PID is: runtime (Python and its version, Go, Node, other) and whether we may trace it.

Used by the attach doctor, plugin preflights and the GUI's target picker. Reads /proc
only; never attaches.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

import psutil

from ..errors import PermissionDenied, TargetNotFound

_PY_LIB = re.compile(r"libpython(\d+)\.(\d+)")
_PY_EXE = re.compile(r"python(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    pid: int
    runtime: str  # python | go | node | other
    version: str  # "3.12" for Python, "go1.22.1" for Go when known, "" otherwise
    exe: str
    name: str
    cmdline: tuple[str, ...]
    username: str


def _go_version(exe: str) -> str | None:
    """Go binaries carry a build-info blob starting with "\\xff Go buildinf:"."""
    try:
        with open(exe, "rb") as fh:
            data = fh.read(32 * 1024 * 1024)
    except OSError:
        return None
    idx = data.find(b"\xff Go buildinf:")
    if idx < 0:
        return "go" if b"runtime.gopark" in data else None
    m = re.search(rb"go1\.\d+(?:\.\d+)?", data[idx : idx + 4096])
    if m:
        return m.group(0).decode()
    m = re.search(rb"go1\.\d+(?:\.\d+)?", data)
    return m.group(0).decode() if m else "go"


def detect_runtime(pid: int) -> RuntimeInfo:
    try:
        proc = psutil.Process(pid)
        name = proc.name()
        cmdline = tuple(proc.cmdline())
        user = proc.username()
    except psutil.NoSuchProcess as exc:
        raise TargetNotFound(
            f"no process with PID {pid}", "check the PID with `ps` or pick it from the process list"
        ) from exc
    except psutil.AccessDenied as exc:
        raise PermissionDenied(f"cannot read process {pid}", "run as the same user as the target or as root") from exc
    try:
        exe = proc.exe()
    except (psutil.AccessDenied, psutil.ZombieProcess, psutil.NoSuchProcess):
        exe = ""
    base = os.path.basename(exe)
    m = _PY_EXE.search(base)
    if m:
        return RuntimeInfo(pid, "python", f"{m.group(1)}.{m.group(2)}", exe, name, cmdline, user)
    try:
        maps = [mm.path for mm in proc.memory_maps(grouped=True)]
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
        maps = []
    for path in maps:
        m = _PY_LIB.search(os.path.basename(path))
        if m:
            return RuntimeInfo(pid, "python", f"{m.group(1)}.{m.group(2)}", exe, name, cmdline, user)
    if base.startswith("python"):
        return RuntimeInfo(pid, "python", "", exe, name, cmdline, user)
    if base in ("node", "nodejs") or base.startswith("node"):
        return RuntimeInfo(pid, "node", "", exe, name, cmdline, user)
    gov = _go_version(exe) if exe else None
    if gov:
        return RuntimeInfo(pid, "go", gov, exe, name, cmdline, user)
    return RuntimeInfo(pid, "other", "", exe, name, cmdline, user)


@dataclass(frozen=True, slots=True)
class PtraceVerdict:
    allowed: bool
    reason: str
    fix: str


def ptrace_verdict(pid: int) -> PtraceVerdict:
    """Whether this process may ptrace ``pid``, and if not, which rule forbids it."""
    caps = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    caps = int(line.split()[1], 16)
    except OSError:
        pass
    has_sys_ptrace = bool(caps & (1 << 19))
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as fh:
            scope = int(fh.read().strip())
    except (OSError, ValueError):
        scope = 0
    try:
        target_uid = psutil.Process(pid).uids().real
    except psutil.Error:
        target_uid = -1
    same_user = target_uid == os.getuid()
    if os.getuid() == 0 and not has_sys_ptrace:
        return PtraceVerdict(
            False,
            "running as root but without CAP_SYS_PTRACE (a container?)",
            "start the container with --cap-add=SYS_PTRACE",
        )
    if has_sys_ptrace:
        return PtraceVerdict(True, "CAP_SYS_PTRACE", "")
    if scope >= 3:
        return PtraceVerdict(
            False,
            "kernel.yama.ptrace_scope=3 forbids all ptrace",
            "reboot with a lower ptrace_scope; 3 cannot be lowered at runtime",
        )
    if scope == 2:
        return PtraceVerdict(
            False,
            "kernel.yama.ptrace_scope=2 allows ptrace only with CAP_SYS_PTRACE",
            "run as root or set kernel.yama.ptrace_scope=0",
        )
    if not same_user:
        return PtraceVerdict(False, "the target belongs to another user", "run as root or as the target's user")
    if scope == 1:
        return PtraceVerdict(
            False,
            "kernel.yama.ptrace_scope=1 allows tracing only of descendants",
            "run as root or set kernel.yama.ptrace_scope=0 (sysctl kernel.yama.ptrace_scope=0)",
        )
    return PtraceVerdict(True, "same user, ptrace_scope=0", "")


def tool_path(name: str) -> str | None:
    return shutil.which(name)
