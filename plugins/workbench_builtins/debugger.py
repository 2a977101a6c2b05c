"""Which debugger calls functions inside a target: gdb, or lldb where gdb cannot.

The agent and memray's live attach both make a debugger call functions in a running
process. gdb 13 cannot do that on some machines (an Intel CPU with AMX on a recent
kernel: "Couldn't write extended state status: Bad address", after which the target's
interrupted system calls fail with "Unknown error 514/516"), and a distribution may have
no newer gdb. So each debugger is probed once per workbench process: it starts a
throwaway ``sleep`` under itself, stops it inside its sleep and calls ``getpid()`` there.
``WB_DEBUGGER=gdb|lldb|auto`` forces one; auto takes gdb when its probe passes, else lldb.

A forced debugger whose probe fails is refused, not used: a failed call leaves the
target broken, which is worse than no capture.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field

from workbench.capture import Check
from workbench.errors import CaptureError

ENV = "WB_DEBUGGER"
MODES = ("auto", "gdb", "lldb")
PROBE_TIMEOUT_S = 30.0
FIX_NONE = "apt-get install lldb (Debian/Ubuntu), or install gdb >= 14"
# lines of a failed call that say why, in the probe's report (gdb's and lldb's wordings)
_WHY = re.compile(r"Couldn't|[Ee]rror|[Ff]ailed|cannot|not permitted|No symbol", re.ASCII)


@dataclass(frozen=True, slots=True)
class Probe:
    """One debugger's verdict on this machine."""

    tool: str
    path: str | None
    usable: bool
    detail: str
    env: dict[str, str] = field(default_factory=dict)  # what its runs need (lldb: its Python bindings)


@dataclass(frozen=True, slots=True)
class Choice:
    """The debugger that will inject, or ``name == ""`` when none can (then ``fix`` says what to do)."""

    name: str
    path: str
    reason: str
    fix: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.name)


_lock = threading.Lock()
# by tool and the path it has now: another PATH, or a debugger installed meanwhile, probes again
_probes: dict[tuple[str, str | None], Probe] = {}


def mode(value: str | None = None) -> str:
    """``value``, else ``$WB_DEBUGGER``, else auto; anything else is a user error."""
    raw = (value if value is not None else os.environ.get(ENV, "")).strip().lower() or "auto"
    if raw not in MODES:
        raise CaptureError(f"{ENV}={raw!r} is not a debugger the workbench knows", f"set {ENV} to gdb, lldb or auto")
    return raw


def lldb_python_env(lldb: str) -> dict[str, str] | None:
    """PYTHONPATH for lldb's embedded Python (None: lldb has no working Python bindings).

    Debian's lldb 14 reports a directory that does not exist (``lldb -P``) and its
    scripting fails until PYTHONPATH names the real one, next to the lldb binary.
    The workbench's own Python paths are left out: lldb embeds another Python version.
    """
    candidates: list[str] = []
    try:
        out = subprocess.run([lldb, "-P"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
        candidates += [ln.strip() for ln in out.stdout.splitlines()[:1] if ln.strip()]
    except (OSError, subprocess.TimeoutExpired):
        pass
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(lldb)))  # .../llvm-14/bin/lldb -> .../llvm-14
    candidates += sorted(glob.glob(os.path.join(prefix, "lib", "python3*", "*-packages")), reverse=True)
    for cand in candidates:
        if os.path.isfile(os.path.join(cand, "lldb", "embedded_interpreter.py")):
            return {"PYTHONPATH": cand}
    return None


def run_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a debugger run: ours, minus our Python's paths, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(extra)
    return env


def _sleep_cmd() -> list[str]:
    return [shutil.which("sleep") or "/bin/sleep", "30"]


def _probe_gdb() -> Probe:
    gdb = shutil.which("gdb")
    if gdb is None:
        return Probe("gdb", None, False, "gdb is not installed")
    # stopped at the entry of its sleep system call: the case injection meets in an idle target
    cmd = [gdb, "-nx", "-batch", "-iex", "set auto-load off", "-iex", "set debuginfod enabled off"]
    cmd += ["-ex", "set confirm off", "-ex", "catch syscall clock_nanosleep nanosleep", "-ex", "run"]
    cmd += ["-ex", "call (int)getpid()", "-ex", "kill", "--args", *_sleep_cmd()]
    failure = _run_probe("gdb", cmd, {}, r"^\$1 = \d+\s*$")
    return Probe("gdb", gdb, not failure, failure or "gdb called a function in a test process")


def _probe_lldb() -> Probe:
    lldb = shutil.which("lldb")
    if lldb is None:
        return Probe("lldb", None, False, "lldb is not installed")
    env = lldb_python_env(lldb)
    if env is None:
        return Probe("lldb", lldb, False, "lldb has no Python scripting (install python3-lldb)")
    # the agent's injector is an lldb Python script: the probe runs one line of Python too
    cmd = [lldb, "--batch", "--no-lldbinit", "-o", "breakpoint set -n clock_nanosleep -n nanosleep", "-o", "run"]
    cmd += ["-o", "expr (int)getpid()", "-o", "script print('WB-LLDB-' + 'PYTHON')"]
    cmd += ["-o", "kill", "--", *_sleep_cmd()]
    failure = _run_probe("lldb", cmd, env, r"^\(int\) \$0 = \d+\s*$", also=r"^WB-LLDB-PYTHON\s*$")
    return Probe("lldb", lldb, not failure, failure or "lldb called a function in a test process", env)


def _run_probe(tool: str, cmd: list[str], env: dict[str, str], ok: str, also: str = "") -> str:
    """'' when the debugger's output shows the call's result (and ``also``), else why not."""
    try:
        proc = subprocess.run(
            cmd,
            env=run_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=PROBE_TIMEOUT_S,
            start_new_session=True,  # a Ctrl+C in the workbench is not the debugger's
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{tool} did not finish a test call within {PROBE_TIMEOUT_S:.0f} s"
    except OSError as exc:
        return f"{tool} could not run: {exc}"
    text = proc.stdout + "\n" + proc.stderr
    why = [ln.strip() for ln in text.splitlines() if _WHY.search(ln) and "No such file or directory" not in ln]
    called = re.search(ok, text, re.MULTILINE)
    if called and also and not re.search(also, proc.stdout, re.MULTILINE):
        return f"{tool}'s Python scripting does not work (install python3-{tool})"
    if called and not why:
        return ""
    reason = "; ".join(why[:2]) or " ".join(text.split()[-12:])
    return f"{tool} cannot call functions in a process here: {reason[:300]}"


_PROBERS = {"gdb": _probe_gdb, "lldb": _probe_lldb}


def probe(tool: str) -> Probe:
    """``tool``'s verdict, probed once per process (a second caller waits for the first)."""
    key = (tool, shutil.which(tool))
    with _lock:
        found = _probes.get(key)
        if found is None:
            found = _probes[key] = _PROBERS[tool]()
        return found


def forget() -> None:
    """Drop the cached verdicts (tests; a debugger installed while the workbench runs)."""
    with _lock:
        _probes.clear()


def cached(value: str | None = None) -> Choice | None:
    """The choice if it is known without probing (a consent text must not wait for a probe)."""
    m = mode(value)
    keys = {t: (t, shutil.which(t)) for t in ("gdb", "lldb")}
    with _lock:
        known = {t for t, k in keys.items() if k in _probes}
        gdb_ok = "gdb" in known and _probes[keys["gdb"]].usable
    needed = {m} if m != "auto" else ({"gdb"} if gdb_ok else {"gdb", "lldb"})
    return choose(m) if needed <= known else None


def choose(value: str | None = None) -> Choice:
    """The debugger to use: forced by ``value`` or ``$WB_DEBUGGER``, else gdb if it works, else lldb."""
    m = mode(value)
    if m != "auto":
        p = probe(m)
        if p.usable:
            return Choice(m, p.path or m, f"{ENV}={m}: {p.detail}", env=p.env)
        other = "lldb" if m == "gdb" else "gdb"
        return Choice(
            "", "", f"{ENV}={m} forces {m}, but {p.detail}", f"unset {ENV} (auto tries {other}), or {FIX_NONE}"
        )
    gdb = probe("gdb")
    if gdb.usable:
        return Choice("gdb", gdb.path or "gdb", gdb.detail, env=gdb.env)
    lldb = probe("lldb")
    if lldb.usable:
        return Choice("lldb", lldb.path or "lldb", f"{gdb.detail}; {lldb.detail}", env=lldb.env)
    return Choice("", "", f"neither debugger can inject: {gdb.detail}; {lldb.detail}", FIX_NONE)


def require(purpose: str, value: str | None = None) -> Choice:
    """``choose``, or a CaptureError naming both debuggers and the fix."""
    choice = choose(value)
    if not choice.ok:
        raise CaptureError(f"cannot {purpose}: {choice.reason}", choice.fix)
    return choice


def check(value: str | None = None) -> Check:
    """The preflight line ``doctor`` shows: which debugger will inject, and why."""
    try:
        choice = choose(value)
    except CaptureError as exc:
        return Check("debugger", False, exc.message, exc.fix)
    if not choice.ok:
        return Check("debugger", False, choice.reason, choice.fix)
    return Check("debugger", True, f"{choice.name} ({choice.path}): {choice.reason}")
