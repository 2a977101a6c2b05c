"""Preflight for attaching py-spy, and py-spy's own error text mapped onto typed errors.

Each check answers one question a user would ask when attach fails (does the PID
exist, may we ptrace it and why not, is it Python, which version), so the message
can name the cause and the fix instead of echoing py-spy's backtrace.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psutil

from workbench.capture import Check
from workbench.errors import CaptureError, PermissionDenied, TargetNotFound, UnsupportedTarget, WorkbenchError

CAP_SYS_PTRACE = 19
# py-spy 0.4.3 reads CPython 2.3-2.7 and 3.3-3.14 (3.14 via _Py_DebugOffsets).
SUPPORTED_MAX = (3, 14)
SUPPORTED_MIN = (2, 3)

_PY_NAME = re.compile(r"^(?:lib)?python(?P<ver>\d(?:\.\d+)?)?(?:[dmtu]*)(?:\.so.*|\.dylib|\.a|\.exe)?$")


@dataclass(frozen=True, slots=True)
class PtraceFacts:
    euid: int
    cap_eff: int | None  # bitmask from /proc/self/status, None if unknown
    scope: int | None  # kernel.yama.ptrace_scope, None if yama is absent
    target_uid: int | None
    in_container: bool


def read_ptrace_facts(pid: int) -> PtraceFacts:
    cap: int | None = None
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                cap = int(line.split()[1], 16)
    except OSError:
        pass
    scope: int | None = None
    with contextlib.suppress(OSError, ValueError):
        scope = int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip())
    target_uid: int | None = None
    with contextlib.suppress(psutil.Error, AttributeError):
        target_uid = psutil.Process(pid).uids().effective
    return PtraceFacts(os.geteuid() if hasattr(os, "geteuid") else 0, cap, scope, target_uid, _in_container())


def _in_container() -> bool:
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return True
    try:
        cg = Path("/proc/1/cgroup").read_text()
    except OSError:
        return False
    return any(k in cg for k in ("docker", "kubepods", "containerd", "lxc"))


def diagnose_ptrace(f: PtraceFacts) -> tuple[str, str] | None:
    """(why ptrace will be refused, how to fix it), or None if it should be allowed."""
    has_cap = f.cap_eff is not None and bool(f.cap_eff >> CAP_SYS_PTRACE & 1)
    if f.scope == 3:
        return (
            "ptrace is disabled on this machine (kernel.yama.ptrace_scope=3)",
            "scope 3 cannot be lowered until reboot; set kernel.yama.ptrace_scope=1 in /etc/sysctl.d and reboot",
        )
    if has_cap:
        return None
    where = " (this looks like a container)" if f.in_container else ""
    cap_fix = (
        "start the container with --cap-add SYS_PTRACE (Kubernetes: securityContext.capabilities.add: [SYS_PTRACE])"
        if f.in_container
        else "run the workbench with full root privileges (sudo), not a capability-restricted shell"
    )
    if f.scope == 2:
        if f.euid == 0:
            return (
                f"running as root without CAP_SYS_PTRACE, which kernel.yama.ptrace_scope=2 requires{where}",
                cap_fix,
            )
        return (
            "kernel.yama.ptrace_scope=2 lets only CAP_SYS_PTRACE holders attach and we are not root",
            "run the workbench with sudo, or: sudo setcap cap_sys_ptrace+ep <py-spy binary>",
        )
    if f.target_uid is not None and f.target_uid != f.euid:
        if f.euid == 0:
            return (
                f"running as root without CAP_SYS_PTRACE{where}, and the target runs as another user "
                f"(uid {f.target_uid})",
                cap_fix,
            )
        return (
            f"not root, and the target runs as another user (uid {f.target_uid}, we are uid {f.euid})",
            "run the workbench with sudo, or as the target's user",
        )
    if f.scope == 1:
        if f.euid == 0:
            return (
                f"running as root without CAP_SYS_PTRACE{where}, and kernel.yama.ptrace_scope=1 only allows "
                "attaching to child processes",
                cap_fix,
            )
        return (
            "kernel.yama.ptrace_scope=1 only allows attaching to your own child processes and we are not root",
            "run the workbench with sudo, or: sudo sysctl -w kernel.yama.ptrace_scope=0",
        )
    return None


def python_version_of(pid: int) -> tuple[bool, tuple[int, int] | None]:
    """(looks like Python, (major, minor) if the binary or libpython names it).

    Reads the executable and mapped libraries, the same places py-spy searches for
    the interpreter, so a renamed static build is the one case this misses.
    """
    names: list[str] = []
    with contextlib.suppress(OSError):
        names.append(Path(os.readlink(f"/proc/{pid}/exe")).name)
    try:
        with open(f"/proc/{pid}/maps", "rb") as fh:
            for raw in fh:
                path = raw.rsplit(b" ", 1)[-1].strip()
                if b"python" in path:
                    names.append(os.path.basename(path.decode("utf-8", "replace")))
    except OSError:
        pass
    found = False
    for n in names:
        m = _PY_NAME.match(n.removesuffix(" (deleted)"))
        if m is None:
            continue
        found = True
        ver = m.group("ver")
        if ver and "." in ver:
            major, minor = ver.split(".", 1)
            return True, (int(major), int(minor))
    return found, None


def checks(pid: int) -> list[tuple[Check, WorkbenchError | None]]:
    """Every check with the typed error start() raises when it fails."""
    out: list[tuple[Check, WorkbenchError | None]] = []
    err: WorkbenchError
    if not psutil.pid_exists(pid):
        err = TargetNotFound(f"no process with PID {pid}", "check the PID (ps aux | grep python) and try again")
        out.append((Check("process exists", False, err.message, err.fix), err))
        return out
    try:
        name = psutil.Process(pid).name()
    except psutil.Error:
        name = "?"
    out.append((Check("process exists", True, f"PID {pid} ({name})"), None))
    diag = diagnose_ptrace(read_ptrace_facts(pid))
    if diag is not None:
        err = PermissionDenied(f"cannot attach to PID {pid}: {diag[0]}", diag[1])
        out.append((Check("ptrace permitted", False, err.message, err.fix), err))
        return out
    out.append((Check("ptrace permitted", True, "ptrace allowed"), None))
    is_py, ver = python_version_of(pid)
    if not is_py:
        err = UnsupportedTarget(
            f"PID {pid} ({name}) is not a Python process (no python binary or libpython mapped)",
            "pick the PID of the python interpreter itself (not a shell or launcher wrapping it)",
        )
        out.append((Check("python process", False, err.message, err.fix), err))
        return out
    vtext = f"Python {ver[0]}.{ver[1]}" if ver else "Python (version not in the binary name)"
    if ver is not None and not (SUPPORTED_MIN <= ver <= SUPPORTED_MAX):
        err = UnsupportedTarget(
            f"PID {pid} runs Python {ver[0]}.{ver[1]}, which py-spy 0.4.3 cannot read (supports up to 3.14)",
            "profile it with a py-spy release that supports that version, or run the service on Python <= 3.14",
        )
        out.append((Check("python version", False, err.message, err.fix), err))
        return out
    out.append((Check("python version", True, vtext), None))
    return out


_UNSUPPORTED = re.compile(r"Unsupported version of Python: ?(\S*)")


def error_from_pyspy(stderr: str, pid: int, returncode: int | None) -> WorkbenchError:
    """py-spy's stderr (``Error: ...`` plus ``Reason:``/backtrace lines) as a typed error."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    main = next((ln.removeprefix("Error: ") for ln in lines if ln.startswith("Error:")), lines[0] if lines else "")
    text = "\n".join(lines)
    if any(k in text for k in ("Permission Denied", "Permission denied", "Operation not permitted", "os error 1)")):
        diag = diagnose_ptrace(read_ptrace_facts(pid))
        why, fix = diag if diag else ("the OS refused ptrace access", "run the workbench with sudo")
        return PermissionDenied(f"cannot attach to PID {pid}: {why}", fix)
    m = _UNSUPPORTED.search(text)
    if m:
        return UnsupportedTarget(
            f"PID {pid} runs Python {m.group(1) or '(unknown version)'}, which py-spy 0.4.3 cannot read",
            "use a py-spy release that supports that version, or run the service on a supported Python",
        )
    if not psutil.pid_exists(pid) or "Check that the process is running" in text or "No such process" in text:
        return TargetNotFound(f"process {pid} is not running", "check the PID; the process may have exited")
    if "Failed to find python version" in text or "Failed to find a python interpreter" in text:
        return UnsupportedTarget(
            f"PID {pid} does not look like a Python process to py-spy ({main})",
            "pick the PID of the python interpreter itself (not a shell or launcher wrapping it)",
        )
    detail = main[:300] or f"exit code {returncode}"
    return CaptureError(f"py-spy failed on PID {pid}: {detail}", "check the target is a running CPython process")
