"""Getting the agent into a running CPython: a debugger for 3.9-3.13, ``sys.remote_exec`` for 3.14+.

The debugger is gdb, or lldb where gdb cannot call functions in a process
(``workbench_builtins.debugger``); ``gdb_script.py`` and ``../lldb_inject.py`` do the same steps.

Both routes make the target run one short bootstrap (``bootstrap_source``) that execs
``in_target/agent.py`` in a fresh namespace and swallows every exception. The agent
binds 127.0.0.1:0 and writes its port to ``<workdir>/port`` (mode 0600) before the
bootstrap returns, so the injection is complete when that file exists.

The work directory (mode 0700) holds the config with the token; the agent deletes the
config as soon as it has read it. A target in its own mount namespace (a container) gets
it in its own ``/tmp``, written through ``/proc/PID/root``; the bootstrap and config name
the path as the target sees it (``Injection.target_dir``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.capture.namespaces import target_tmp
from workbench.capture.targets import detect_runtime, ptrace_verdict
from workbench.errors import CaptureError, PermissionDenied, TargetExited, UnsupportedTarget

from .. import debugger, exe_shadow
from .elf_symbols import resolve as resolve_symbols

HERE = Path(__file__).resolve().parent
AGENT_SOURCE = HERE / "in_target" / "agent.py"
GDB_SCRIPT = HERE / "gdb_script.py"
LLDB_SCRIPT = HERE.parent / "lldb_inject.py"
MIN_VERSION = (3, 9)
REMOTE_EXEC_VERSION = (3, 14)


@dataclass(slots=True)
class Injection:
    """What happened during injection; the timings are what the target felt."""

    pid: int
    version: tuple[int, int]
    method: str  # "gdb" | "lldb" | "remote_exec"
    workdir: Path  # as the workbench reaches it (under /proc/PID/root for a container)
    token: str
    target_dir: Path | None = None  # the same directory as the target names it
    port: int = 0
    stopped_s: float = 0.0  # all threads stopped (attach + breakpoint-to-detach)
    attach_s: float = 0.0
    bootstrap_s: float = 0.0  # the injected thread ran the bootstrap, holding the GIL
    wait_s: float = 0.0  # waiting for a thread to release the GIL (target running)
    total_s: float = 0.0
    thread: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def python_version(pid: int) -> tuple[int, int]:
    info = detect_runtime(pid)
    if info.runtime != "python":
        raise UnsupportedTarget(
            f"PID {pid} ({info.name}) is not a Python process", "pick a CPython process (python3.9 or newer)"
        )
    try:
        major, minor = (int(x) for x in info.version.split(".")[:2])
    except ValueError:
        raise UnsupportedTarget(
            f"cannot tell the Python version of PID {pid} ({info.exe or info.name})",
            "the agent needs a CPython with libpython or a pythonX.Y executable",
        ) from None
    if (major, minor) < MIN_VERSION:
        raise UnsupportedTarget(f"PID {pid} runs Python {major}.{minor}", "the agent supports CPython 3.9 and newer")
    return major, minor


def plan(pid: int, version: tuple[int, int]) -> list[str]:
    """What will run in the target, in words, for consent and preflight."""
    if version >= REMOTE_EXEC_VERSION:
        route = f"`{sys.executable} -c sys.remote_exec(...)` (Python {version[0]}.{version[1]})"
    else:
        # the probe may not have run yet: a consent text does not wait for it
        known = debugger.cached()
        tool = f"{known.name} -p {pid}" if known is not None and known.ok else f"gdb -p {pid} (or lldb -p {pid})"
        route = (
            f"{tool}: stop the process, wait until a thread releases the GIL (or take a thread "
            "idle in a system call), call PyGILState_Ensure/PyRun_SimpleString/PyGILState_Release, detach"
        )
    return [
        f"inject into PID {pid} via {route}",
        f"run {AGENT_SOURCE} (standard library only) in a daemon thread named 'workbench-agent'",
        "listen on 127.0.0.1 (random port, random token); add one gc.callbacks hook",
        "every few seconds read gc stats, walk module globals and the gc heap for large containers "
        "and connection pools (time-budgeted)",
        "when a container grows: turn tracemalloc on for a few seconds (at most 5 times per container) to "
        "see which code allocates its new entries, then turn it off",
        "if the program uses asyncio: 10 times a second read each task's awaiting coroutines (read only, no "
        "call into the event loop; slower when it would cost over 2 % of the time)",
        "on detach or when the workbench stops answering: remove the hook and end the thread",
    ]


def bootstrap_source(workdir: Path | str) -> str:
    """The text the target executes while stopped under the GIL: it only starts a thread.

    Reading, compiling and starting the agent (imports, socket, port file) then happen on
    that thread, sharing the GIL with the target instead of pausing it. The text binds no
    name in __main__ and lets no exception escape into the thread it borrows.
    """
    agent = str(Path(workdir) / "agent.py")
    config = str(Path(workdir) / "config.json")
    ns = f"{{'__name__': '__workbench_agent__', '_wb_config': {config!r}}}"
    return (
        "try:\n"
        "    __import__('threading').Thread(target=lambda: exec(compile(open("
        f"{agent!r}, 'rb').read(), {agent!r}, 'exec'), {ns}), name='workbench-agent-boot', daemon=True).start()\n"
        "except BaseException:\n"
        "    pass\n"
    )


def _workdir(pid: int, cfg: dict[str, Any]) -> tuple[Path, Path]:
    """(our path, the target's path) of a fresh work directory the target can read."""
    outside, inside = target_tmp(pid)
    wd = Path(tempfile.mkdtemp(prefix=f"wb-agent-{pid}-", dir=outside))  # mode 0700
    twd = Path(inside) / wd.name
    cfg = cfg | {"port_file": str(twd / "port")}
    fd = os.open(wd / "config.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(cfg, fh)
    # a private copy: readable by the target's user, and unchanged by a reinstall meanwhile
    shutil.copyfile(AGENT_SOURCE, wd / "agent.py")
    boot = bootstrap_source(twd)
    (wd / "bootstrap.py").write_text(boot)
    # the debugger copies these bytes into the target verbatim: PyRun_SimpleString needs the NUL
    (wd / "bootstrap.bin").write_bytes(boot.encode() + b"\0")
    _share_with_target(pid, wd)
    return wd, twd


def _share_with_target(pid: int, wd: Path) -> None:
    """When we are root and the target is not, the target must still read its config."""
    try:
        st = os.stat(f"/proc/{pid}")
    except OSError:
        return
    if os.geteuid() == 0 and st.st_uid != 0:
        for p in (wd, *wd.iterdir()):
            os.chown(p, st.st_uid, st.st_gid)


def inject(
    pid: int,
    agent_config: dict[str, Any],
    timeout: float = 10.0,
    elf_symbols: bool = True,
    tool: str | None = None,
) -> Injection:
    """Start the agent in ``pid``; returns once it listens. Raises a CaptureError subclass.

    ``elf_symbols``: hand the debugger the function addresses read from the ELF dynamic
    symbol tables (it then loads no symbols: ~4x shorter stop); False lets it look them up.
    ``tool``: gdb, lldb or auto (default: ``$WB_DEBUGGER``, see ``workbench_builtins.debugger``).
    """
    version = python_version(pid)
    choice = None if version >= REMOTE_EXEC_VERSION else debugger.require("inject the agent", tool)
    token = secrets.token_hex(32)
    wd, twd = _workdir(pid, dict(agent_config, token=token))
    inj = Injection(pid, version, "remote_exec" if choice is None else choice.name, wd, token, target_dir=twd)
    t0 = time.perf_counter()
    try:
        if choice is not None:
            _inject_debugger(inj, choice, timeout, use_elf=elf_symbols)
        else:
            _inject_remote_exec(inj, timeout)
        inj.port = _wait_port(inj, timeout)
    except BaseException:
        inj.cleanup()
        raise
    inj.total_s = time.perf_counter() - t0
    return inj


def _debugger_cmd(choice: debugger.Choice) -> list[str]:
    if choice.name == "lldb":
        # lldb runs the script in its own Python; it attaches from there (no -p), like gdb
        return [choice.path, "--batch", "--no-lldbinit", "-o", f"command script import {LLDB_SCRIPT}"]
    cmd = [choice.path, "-nx", "-batch", "-iex", "set auto-load off", "-iex", "set debuginfod enabled off"]
    return [*cmd, "-iex", "set auto-solib-add off", "-x", str(GDB_SCRIPT)]


def _inject_debugger(inj: Injection, choice: debugger.Choice, timeout: float, use_elf: bool = True) -> None:
    """gdb_script.py or lldb_inject.py: both print one ``WB-RESULT`` line read here."""
    name = choice.name
    verdict = ptrace_verdict(inj.pid)
    if not verdict.allowed:
        raise PermissionDenied(f"cannot attach to PID {inj.pid}: {verdict.reason}", verdict.fix)
    env = debugger.run_env(choice.env) if name == "lldb" else dict(os.environ)
    env.update(WB_PID=str(inj.pid), WB_BOOT=str(inj.workdir / "bootstrap.bin"), WB_TIMEOUT=str(timeout))
    addrs = resolve_symbols(inj.pid) if use_elf else None
    env["WB_ADDRS"] = json.dumps(addrs or {})
    before = _state_letter(inj.pid)
    cmd, scratch = _debugger_cmd(choice), None
    if name == "lldb":
        try:
            cmd, scratch = exe_shadow.wrap(inj.pid, cmd)
        except exe_shadow.ShadowError as exc:
            raise UnsupportedTarget(
                str(exc), "run the workbench as root with util-linux, or inside the container (`kubectl debug`)"
            ) from None
    # own session: a Ctrl+C in the workbench must not interrupt the debugger inside an injected call
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout + 60,
            start_new_session=True,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CaptureError(
            f"{name} did not finish injecting into PID {inj.pid} within {timeout + 60:.0f} s",
            "check the target with `py-spy dump`; it may be stopped or traced by another debugger",
        ) from exc
    finally:
        exe_shadow.cleanup(scratch)
        if name == "lldb" and before not in ("T", "t"):
            _resume_if_left_stopped(inj.pid)
    result: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith("WB-RESULT "):
            result = json.loads(line[len("WB-RESULT ") :])
    inj.details = result
    if not result:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise CaptureError(f"{name} failed to inject into PID {inj.pid}: {tail[:300]}", "run `workbench doctor --pid`")
    inj.stopped_s = float(result.get("stopped_s", 0.0))
    inj.attach_s = float(result.get("attach_s", 0.0))
    inj.bootstrap_s = float(result.get("bootstrap_s", 0.0))
    inj.wait_s = float(result.get("wait_s", 0.0))
    inj.thread = int(result.get("thread", 0))
    inj.details["symbols"] = result.get("symbols", "")
    inj.details["route"] = result.get("route", "")
    stage = result.get("stage")
    if stage == "attach":
        err = str(result.get("error", ""))
        # lldb says "Cannot get process architecture" for a PID that is gone
        if "No such process" in err or not os.path.exists(f"/proc/{inj.pid}"):
            raise TargetExited(f"PID {inj.pid} exited before the agent was injected", "start the target again")
        raise PermissionDenied(f"{name} could not attach to PID {inj.pid}: {err[:200]}", "run `workbench doctor --pid`")
    if stage == "breakpoint":
        raise UnsupportedTarget(
            f"PID {inj.pid} has no PyEval_SaveThread symbol {name} can find: {str(result.get('error', ''))[:200]}",
            "use a CPython built with exported symbols (any distribution or pyenv build)",
        )
    if stage == "timeout":
        raise CaptureError(
            f"no thread of PID {inj.pid} released the GIL within {timeout:g} s and none was parked in a "
            "system call without it: one thread holds the GIL in C code or runs a loop that never blocks; "
            "nothing was injected and the target was left running",
            "retry while the target is serving requests, or raise the agent's inject_timeout",
        )
    if stage != "done" or result.get("rc") not in (0, None):
        raise CaptureError(
            f"injection into PID {inj.pid} failed at {stage}: {str(result.get('error', ''))[:200]}",
            "run `workbench doctor --pid` and retry",
        )


def _state_letter(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return ""


def _resume_if_left_stopped(pid: int) -> None:
    """lldb can leave a process group-stopped after it detached (lldb_inject.py checks right
    after its detach and, now and then, before the stop lands: seen in 1 of ~25 injections
    into a containerised target, whose agent then never ran). Checked again once lldb is gone."""
    if _state_letter(pid) == "T":
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)


def _inject_remote_exec(inj: Injection, timeout: float) -> None:
    """3.14+: the target's own interpreter asks the target to run the bootstrap file.

    Not exercised by the tests (no 3.14 on the CI image); it needs the same ptrace rights.
    """
    verdict = ptrace_verdict(inj.pid)
    if not verdict.allowed:
        raise PermissionDenied(f"cannot attach to PID {inj.pid}: {verdict.reason}", verdict.fix)
    # the target's own binary, also when only its container has that path
    exe = f"/proc/{inj.pid}/exe"
    code = "import sys; sys.remote_exec(int(sys.argv[1]), sys.argv[2])"
    boot = (inj.target_dir or inj.workdir) / "bootstrap.py"  # the target opens it
    try:
        proc = subprocess.run(
            [exe, "-I", "-c", code, str(inj.pid), str(boot)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CaptureError(f"sys.remote_exec into PID {inj.pid} failed: {exc}", "run `workbench doctor --pid`") from exc
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.strip().splitlines()[-1:])
        raise CaptureError(f"sys.remote_exec into PID {inj.pid} failed: {tail[:300]}", "run `workbench doctor --pid`")


def _wait_port(inj: Injection, timeout: float) -> int:
    """The bootstrap's thread binds and writes the port file; remote_exec first waits for a safe point."""
    port_file = inj.workdir / "port"
    deadline = time.monotonic() + timeout
    while True:
        if port_file.exists():
            try:
                return int(json.loads(port_file.read_text())["port"])
            except (ValueError, KeyError, OSError):
                pass  # the agent is still writing the port file: read it again
        err = inj.workdir / "boot_error"
        if err.exists():
            raise CaptureError(
                f"the agent failed to start in PID {inj.pid}: {err.read_text()[:300]}", "report this with the message"
            )
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if inj.method == "remote_exec":
        raise CaptureError(
            f"PID {inj.pid} did not run the agent within {timeout:g} s; sys.remote_exec runs at the main thread's "
            "next bytecode, and the main thread is blocked in C",
            "retry while the target is serving requests, or raise the agent's inject_timeout",
        )
    raise CaptureError(
        f"the bootstrap ran in PID {inj.pid} but the agent did not start",
        "check that the target can read " + str(inj.target_dir or inj.workdir),
    )
