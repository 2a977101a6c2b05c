"""The memray reader helper: a child process that attaches memray to a PID and streams snapshots.

Run as ``python .../workbench_builtins/memray/helper.py --pid PID ...`` by the plugin. It
attaches the way ``memray attach`` does in live mode (gdb runs memray's own
``_attach.gdb``, which loads memray's ``_inject`` library into the target; its thread
fetches memray's attach payload from our side channel and runs it; with ``--debugger
lldb``, where gdb cannot call functions in a process, lldb runs the workbench's
``lldb_inject.py``, which makes the same dlopen and ``memray_spawn_client`` calls at a
GIL-held safe point: memray's own ``_attach.lldb`` crashed the target on lldb 14 when two
threads hit its malloc breakpoints together), reads with
``memray.SocketReader``, and writes one JSON object per line to stdout. A snapshot
holds the GIL for as long as it takes to aggregate a large heap, which is why this
runs here and not in the workbench. Imports only the stdlib and memray, and memray
is imported while gdb attaches, so it starts fast.

Messages (``type``): ``attached``, ``snapshot``, ``error`` (``kind``, ``message``,
``fix``), ``ended`` (``reason``, ``detached``, ``detach_error``).

Control: a line ``stop`` on stdin, stdin closing (the workbench went away), SIGINT
or SIGTERM all end the capture: one last snapshot, then memray's own DEACTIVATE
payload (what ``memray detach`` sends), and the target keeps running. During
injection SIGINT/SIGTERM only set a flag: gdb, in our process group, gets the same
signal and detaches itself, removing its breakpoints; killing gdb outright could
leave a breakpoint behind and crash the target. lldb does the same on SIGINT (it halts
the target, its script ends, it detaches).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

# Frames per stack, stacks per snapshot and cached traces are capped: a target with
# unbounded distinct stacks must not make the helper or the workbench grow without end.
OTHER_STACKS = ("[other stacks]", "", 0, False)
TRUNCATED = ("[stack truncated]", "", 0, False)
FRAMES_FULL = ("[frame table full]", "", 0, False)
MAX_FRAMES = 1_000_000
MAX_TRACE_CACHE = 200_000
PY_SUFFIXES = (".py", ".pyw", ".pyx")
DETACH_TIMEOUT_S = 15.0
LLDB_NUDGES = 5  # SIGINTs to a stuck lldb, LLDB_NUDGE_S apart: its script gives up and detaches
LLDB_NUDGE_S = 2.0
# lldb_inject.py waits this long for a safe point; the capture's watchdog (SIGINT) ends it sooner,
# as it ends gdb, which waits without a limit
LLDB_WAIT_S = 86400.0
LLDB_INJECT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lldb_inject.py")
# Run before memray's own payload, in the same namespace. The payload's slow part is
# `import memray` in the target, and in a target whose main thread is busy in Python every
# file the import reads gives the GIL away, to get it back only after the switch interval
# (5 ms): the import took 0.5-1.2 s there, 0.25-0.4 s with the interval at 1 ms. The
# interval goes back as soon as the import ends (unless the target changed it meanwhile);
# an import error is the same ImportError the payload itself would raise.
IMPORT_PREFIX = """\
import sys as _wb_sys
_wb_interval = _wb_sys.getswitchinterval()
_wb_sys.setswitchinterval(min(_wb_interval, 0.001))
_wb_ours = _wb_sys.getswitchinterval()
try:
    import memray
finally:
    if _wb_sys.getswitchinterval() == _wb_ours:
        _wb_sys.setswitchinterval(_wb_interval)
    del _wb_sys, _wb_interval, _wb_ours
"""
FIRST_SNAPSHOT_S = 0.2  # the first snapshot's wait (later ones wait the full interval)
LISTEN_WAIT_S = 10.0
LISTEN_POLL_S = 0.01


class Emitter:
    """Line-at-a-time JSON writer shared by the threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._out = sys.stdout

    def __call__(self, msg: dict[str, Any]) -> None:
        line = json.dumps(msg, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass  # the workbench is gone; the stop path still detaches


class State:
    def __init__(self, debugger: str = "gdb") -> None:
        self.stop = threading.Event()
        self.phase = "start"  # start | inject | connect | read | detach
        self.side_error: str | None = None
        self.debugger = debugger  # gdb | lldb: the plugin chose (workbench_builtins.debugger)
        self.lldb_pythonpath = ""  # where lldb's embedded Python finds its lldb module
        self.proc: subprocess.Popen[str] | None = None  # the debugger while it runs
        self.target_lib = ""  # memray's injector as a containerised target names it
        self.shadow_dir: str | None = None  # exe_shadow's scratch directory while lldb runs


def _install_signals(state: State) -> None:
    def handler(signum: int, frame: object) -> None:
        state.stop.set()
        if state.phase == "connect":
            # memray's SocketReader waits for the target's tracker in a loop that checks
            # for signals; an exception is the only way out of it.
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _watch_stdin(state: State) -> None:
    # A stop while attaching does not abort: once memray's payload runs, its tracker
    # waits for our reader, so we connect, take one snapshot and detach properly.
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    state.stop.set()


class FrameInterner:
    """Frame tuples -> dense ids; new frames go out with the next snapshot."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str, int, bool], int] = {}
        self.pending: list[list[Any]] = []

    def intern(self, frame: tuple[str, str, int, bool]) -> int:
        fid = self.ids.get(frame)
        if fid is not None:
            return fid
        if len(self.ids) >= MAX_FRAMES and frame != FRAMES_FULL:
            # over the cap: everything new folds into one marker (the cap + 1st frame)
            return self.intern(FRAMES_FULL)
        fid = len(self.ids)
        self.ids[frame] = fid
        self.pending.append([frame[0], frame[1], frame[2], frame[3]])
        return fid

    def take_new(self) -> list[list[Any]]:
        out, self.pending = self.pending, []
        return out


def _frame(fn: str, file: str, line: int, hybrid: bool) -> tuple[str, str, int, bool]:
    """Only hybrid (native) traces hold C frames; a Python-only trace is all Python."""
    native = hybrid and not (file.endswith(PY_SUFFIXES) or (file.startswith("<") and file.endswith(">")))
    return (fn, file, int(line), native)


def snapshot(
    reader: Any, frames: FrameInterner, cache: dict[Any, tuple[int, ...]], args: argparse.Namespace
) -> dict[str, Any]:
    """Aggregate one SocketReader snapshot by stack into a compact message."""
    t_start = time.monotonic()
    native = args.native
    by_stack: dict[tuple[int, ...], list[int]] = {}
    n_records = 0
    heap = 0
    objects = 0
    for rec in reader.get_current_snapshot(merge_threads=True):
        n_records += 1
        key = (rec.stack_id, rec.native_stack_id, rec.native_segment_generation) if native else rec.stack_id
        ids = cache.get(key)
        if ids is None:
            trace = (
                rec.hybrid_stack_trace(max_stacks=args.max_depth)
                if native
                else rec.stack_trace(max_stacks=args.max_depth)
            )
            lst = [frames.intern(_frame(fn, file, line, native)) for fn, file, line in reversed(trace)]
            if len(trace) >= args.max_depth:
                lst.insert(0, frames.intern(TRUNCATED))
            ids = tuple(lst)
            if len(cache) >= MAX_TRACE_CACHE:
                cache.clear()
            cache[key] = ids
        size = int(rec.size)
        count = int(rec.n_allocations)
        heap += size
        objects += count
        v = by_stack.get(ids)
        if v is None:
            by_stack[ids] = [size, count]
        else:
            v[0] += size
            v[1] += count
    items = sorted(by_stack.items(), key=lambda kv: -kv[1][0])
    folded = 0
    if len(items) > args.max_stacks:
        rest = items[args.max_stacks :]
        items = items[: args.max_stacks]
        folded = len(rest)
        other = (frames.intern(OTHER_STACKS),)
        items.append((other, [sum(v[0] for _, v in rest), sum(v[1] for _, v in rest)]))
    return {
        "type": "snapshot",
        "t": time.time(),
        "frames": frames.take_new(),
        "stacks": [list(k) for k, _ in items],
        "values": [v for _, v in items],
        "heap_bytes": heap,
        "objects": objects,
        "records": n_records,
        "folded_stacks": folded,
        "latency_s": time.monotonic() - t_start,
    }


def _classify(err: str) -> tuple[str, str]:
    """(kind, fix) for an error text from memray's attach machinery or the payload."""
    if "No module named 'memray'" in err or "No module named memray" in err:
        return "memray_missing", "install memray in the target's environment: <target-python> -m pip install memray"
    if "does not exist" in err:
        return "target_not_found", "check the PID; the process may have exited"
    if "permission" in err.lower() or "different user" in err:
        return (
            "permission",
            "run as root or as the target's user, and allow ptrace (sysctl kernel.yama.ptrace_scope=0)",
        )
    if "gdb not found" in err or "Cannot find a supported" in err:
        return "gdb_missing", "install gdb (Debian/Ubuntu: apt-get install gdb); memray attach needs it"
    if "lldb not found" in err:
        return "lldb_missing", "install lldb (Debian/Ubuntu: apt-get install lldb); memray attach needs it"
    if "Python 3.7" in err:
        return "unsupported", "memray attaches only to CPython 3.7 or newer"
    return "attach_failed", "run `memray attach --verbose PID` (or `--method lldb`) to see the debugger's output"


def _injector_name() -> str:
    """memray's own choice of its injector's ABI tag (``memray.commands.attach.debugger_inject``)."""
    import sysconfig

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return "_inject.abi3t.so" if free_threaded and sys.version_info >= (3, 15) else "_inject.abi3.so"


def _memray_files() -> tuple[str, str] | None:
    """memray's injector library and gdb script, found without importing memray.

    Importing memray (its extension module and attach machinery) then overlaps with
    gdb's attach instead of delaying it. None when they are not where memray's own
    ``debugger_inject`` would look; the caller then imports memray first and asks it.
    """
    import importlib.util

    spec = importlib.util.find_spec("memray")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = next(iter(spec.submodule_search_locations))
    lib = os.path.join(root, _injector_name())
    script = os.path.join(root, "commands", "_attach.gdb")
    return (lib, script) if os.path.isfile(lib) and os.path.isfile(script) else None


def _memray_files_imported() -> tuple[str, str]:
    import memray

    _import_attach_machinery()
    from memray.commands.attach import GDB_SCRIPT

    return os.path.join(os.path.dirname(memray._memray.__file__), _injector_name()), str(GDB_SCRIPT)


def _trimmed_script(script: str, directory: str) -> str:
    """memray's ``_attach.gdb`` without its two diagnostic listings, as a file in ``directory``.

    ``bt`` at the breakpoint (a full backtrace with arguments, read from the debug
    information) and ``info sharedlibrary`` only print; the target is stopped while they
    do (~0.07 s of ~0.5 s). Every other line is memray's, unchanged.
    """
    with open(script, encoding="utf-8") as fh:
        lines = fh.read().splitlines(keepends=True)
    kept = [ln for ln in lines if ln.strip() not in ("bt", "info sharedlibrary")]
    out = os.path.join(directory, "attach.gdb")
    with open(out, "w", encoding="utf-8") as fh:
        fh.writelines(kept)
    return out


def _gdb_command(gdb: str, pid: int, side_port: int, files: tuple[str, str]) -> list[str]:
    """``memray attach``'s gdb command line (memray's ``_attach.gdb``), minus two slow defaults.

    The target's ``pythonX.Y-gdb.py`` is not auto-loaded and debuginfod is not asked
    for symbols: memray's script needs neither, and either can cost a busy second.
    """
    lib, script = files
    return [
        gdb,
        "-batch",
        "-p",
        str(pid),
        "-nx",
        "-nw",
        "-iex=set auto-solib-add off",
        "-iex=set auto-load python-scripts off",
        "-iex=set debuginfod enabled off",
        f"-ex=set $rtld_now={os.RTLD_NOW}",
        f'-ex=set $libpath="{lib}"',
        f"-ex=set $port={side_port}",
        f"-x={script}",
    ]


def _sibling(relpath: str) -> Any:
    """A stdlib-only module of ``workbench_builtins``, loaded by file (the helper imports no package)."""
    import importlib.util

    name = "_wb_" + relpath.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(LLDB_INJECT), relpath))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


def _enter_target_netns(pid: int) -> bool:
    """Join the target's network namespace (a container's) before any socket exists.

    memray's client in the target connects to our control port on *its* loopback, and its
    tracker listens there for our ``SocketReader``: in the target's namespace both just
    work. Only this thread changes namespace; the threads started after it inherit it.
    """
    try:
        if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            return False
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    except OSError:
        return False  # gone or not ours to read: the attach itself reports it
    try:
        os.setns(fd, 0x40000000)  # CLONE_NEWNET
    finally:
        os.close(fd)
    return True


def _lldb_run(lldb: str, pid: int, side_port: int, lib: str, *, state: State, tmp: str) -> subprocess.Popen[str]:
    """lldb running ``lldb_inject.py``: dlopen memray's injector and start its client at a safe point.

    A containerised target: the library path is the container's (``--target-lib``), the
    function addresses come from the ELF files read through /proc/PID/root (lldb cannot
    open them by their paths), and lldb runs where the target's executable path exists
    (``exe_shadow``).
    """
    boot = os.path.join(tmp, "lib.bin")
    with open(boot, "wb") as fh:
        fh.write(lib.encode() + b"\0")  # copied into the target verbatim: dlopen needs the NUL
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if state.lldb_pythonpath:
        env["PYTHONPATH"] = state.lldb_pythonpath
    env.update(
        WB_ACTION="dlopen",
        WB_PID=str(pid),
        WB_BOOT=boot,
        WB_PORT=str(side_port),
        WB_RTLD_NOW=str(os.RTLD_NOW),
        WB_PENDING="1",  # memray's pending call: a main thread that never blocks still stops
        WB_IDLE_FALLBACK="0",  # like gdb: wait for the target to run Python code
        WB_TIMEOUT=str(LLDB_WAIT_S),
    )
    cmd = [lldb, "--batch", "--no-lldbinit", "-o", f"command script import {LLDB_INJECT}"]
    shadow = _sibling("exe_shadow.py")
    if shadow.missing_exe(pid) is not None:
        elf = _sibling("agent/elf_symbols.py")
        addrs = elf.resolve(pid, ("PyEval_SaveThread", "Py_AddPendingCall", "PyCallable_Check"), ("dlopen", "dlsym"))
        env["WB_ADDRS"] = json.dumps(addrs or {})
        try:
            cmd, state.shadow_dir = shadow.wrap(pid, cmd)
        except shadow.ShadowError as exc:
            raise _AttachError(str(exc)) from None
    return subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )


def _lldb_error(output: str, pid: int) -> str | None:
    """None when ``lldb_inject.py`` started memray's client, else what went wrong (for ``_classify``)."""
    result: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("WB-RESULT "):
            with contextlib.suppress(ValueError):
                result = json.loads(line[len("WB-RESULT ") :])
    stage, err = result.get("stage"), str(result.get("error", ""))
    if stage == "done" and result.get("rc") == 0:
        return None
    if not result:
        return "lldb failed: " + " ".join(output.strip().splitlines()[-3:])[:300]
    if stage == "attach":
        if not _alive(pid):
            return f"lldb could not attach: PID {pid} does not exist"
        return f"lldb could not attach to PID {pid}: ptrace permission denied? ({err[:200]})"
    if stage == "breakpoint":
        return f"PID {pid} does not run Python 3.7 or newer (lldb: {err[:200]})"
    if stage in ("timeout", "wait"):
        return "lldb stopped waiting for the target to run Python code; memray was not injected"
    if "cannot open shared object file" in err:
        return (
            "the target could not load memray's injector library: permission denied for the target's user "
            f"on the memray install? ({err[:200]})"
        )
    return f"lldb failed at {stage}: {err[:300]}"


def _state_letter(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2][:3].strip().decode()
    except (OSError, UnicodeDecodeError):
        return ""


def _gdb_error(output: str, returncode: int, pid: int, tool: str = "gdb") -> str | None:
    """None when memray's debugger script reported success, else what went wrong (for ``_classify``).

    The markers are the ``MEMRAY:`` lines and the final ``"SUCCESS"`` that memray's
    ``_attach.gdb`` and ``_attach.lldb`` print; the texts are ours. The debugger's echo of
    its commands (``(gdb) ...``, ``(lldb) ...``) holds the markers too, so it is left out.
    """
    lines = [ln for ln in output.splitlines() if not ln.startswith(("(gdb)", "(lldb)"))]
    if returncode == 0 and any(' "SUCCESS"' in ln for ln in lines):
        return None
    if "--help" in output:
        return f"{tool} refused its command line (a {tool} too old for memray's script?)"
    if "error: attach failed: " in output or "ptrace: " in output:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"{tool} could not attach: PID {pid} does not exist"
        except PermissionError:
            return f"{tool} could not attach: PID {pid} belongs to a different user"
        return f"{tool} could not attach to PID {pid}: ptrace permission denied"
    if "MEMRAY: Attached to process." not in output:
        return f"{tool} did not get through memray's attach script"
    if "MEMRAY: Checking if process is Python 3.7+." in output and "MEMRAY: Process is Python 3.7+." not in output:
        return f"PID {pid} does not run Python 3.7 or newer"
    if "cannot open shared object file" in output:
        return (
            "the target could not load memray's injector library: permission denied for the target's user "
            "on the memray install?"
        )
    return f"{tool} failed: " + " ".join(lines[-3:])[:300]


def _control_channel(
    pid: int, state: State, files: tuple[str, str] | None, overlap: Any = None, phase: str = "inject"
) -> tuple[socket.socket, dict[str, float]]:
    """memray's injection (``inject_control_channel``): the socket its thread in the target reads.

    ``overlap`` runs while the debugger attaches (the helper imports memray there). While
    it runs, SIGINT/SIGTERM only set the stop flag (see the module docstring).
    """
    tool = state.debugger
    path = shutil.which(tool)
    if path is None:
        raise _AttachError(f"{tool} not found on PATH")
    timings: dict[str, float] = {}
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as server:
        server.bind(("localhost", 0))
        server.listen(1)
        state.phase = phase
        try:
            t0 = time.monotonic()
            if files is None:
                files = _memray_files_imported()
            if state.target_lib:  # the container's own memray: dlopen runs in the target's filesystem
                files = (state.target_lib, files[1])
            before = _state_letter(pid)
            with tempfile.TemporaryDirectory(prefix="wb-memray-") as tmp:
                port = server.getsockname()[1]
                if tool == "lldb":
                    proc = state.proc = _lldb_run(path, pid, port, files[0], state=state, tmp=tmp)
                else:
                    proc = state.proc = subprocess.Popen(
                        _gdb_command(path, pid, port, (files[0], _trimmed_script(files[1], tmp))),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        errors="replace",
                    )
                try:
                    if overlap is not None:
                        overlap()
                        timings["overlap_s"] = time.monotonic() - t0
                finally:
                    output, _ = proc.communicate()  # the debugger always finishes (and detaches) first
                    state.proc = None
                    if state.shadow_dir:
                        shutil.rmtree(state.shadow_dir, ignore_errors=True)
                        state.shadow_dir = None
            if tool == "lldb" and before not in ("T", "t") and _state_letter(pid) == "T":
                # memray's own workaround (lldb_inject.py does it too): lldb can leave a process stopped
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
            timings["gdb_s"] = time.monotonic() - t0
        finally:
            state.phase = "start"
        err = _lldb_error(output, pid) if tool == "lldb" else _gdb_error(output, proc.returncode, pid)
        if err:
            raise _AttachError(err)
        server.settimeout(10)
        try:
            client = server.accept()[0]
        except TimeoutError:
            raise _AttachError(f"Timed out waiting for connection from pid {pid}") from None
    timings["accept_s"] = time.monotonic() - t0 - timings["gdb_s"]
    return client, timings


def _inject(
    pid: int, payload: Any, state: State, files: tuple[str, str] | None, overlap: Any = None
) -> dict[str, float]:
    """Run memray's attach payload in the target; its errors come back on the side channel.

    ``payload`` is called after gdb finished (and ``overlap`` with it), so it may use
    what the overlap imported.
    """
    if state.stop.is_set():  # stopped before gdb even started: nothing to undo
        raise _AttachError("stopped before attaching")
    client, timings = _control_channel(pid, state, files, overlap)
    try:
        client.sendall(payload().encode("utf-8"))
        client.shutdown(socket.SHUT_WR)
    except OSError as exc:
        client.close()
        raise _AttachError(
            f"lost the target while sending memray's payload ({exc}); the process does not exist any more?"
        ) from None
    threading.Thread(target=_watch_side_channel, args=(client, state), name="memray-side", daemon=True).start()
    return timings


class _AttachError(Exception):
    pass


def _watch_side_channel(client: socket.socket, state: State) -> None:
    """memray's payload reports a failure (e.g. ImportError) as text on the control socket.

    In live mode the tracker blocks until our reader connects, so a failed payload
    would leave the reader waiting forever; like ``memray attach``, we interrupt it.
    """
    try:
        err = _recvall(client)
    except OSError as exc:
        err = f"control channel: {exc!r}"
    finally:
        with contextlib.suppress(OSError):
            client.close()
    if err:
        state.side_error = err
        state.stop.set()
        if state.phase == "connect":
            os.kill(os.getpid(), signal.SIGINT)


def _detach(pid: int, state: State) -> str:
    """memray's DEACTIVATE payload (the ``memray detach`` path); '' when it worked."""
    from memray.commands.attach import PAYLOAD

    if not _alive(pid):
        return "target has exited"
    # A target blocked in a long sleep never runs the code the debugger waits for; SIGCONT
    # makes gdb give up and detach cleanly (see capture.py), SIGINT does it for lldb, and
    # closing our reader then ends the tracking anyway (memray deactivates a tracker whose
    # socket is gone).
    nudge = threading.Timer(DETACH_TIMEOUT_S, _nudge, args=(pid, state))
    nudge.daemon = True
    nudge.start()
    try:
        client, _ = _control_channel(pid, state, _memray_files(), phase="detach")
        with contextlib.closing(client):
            client.sendall(PAYLOAD.format(tracker_call=None, mode="DEACTIVATE", duration=None).encode("utf-8"))
            client.shutdown(socket.SHUT_WR)
            client.settimeout(30)
            return _recvall(client)
    except (_AttachError, OSError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        nudge.cancel()


def _recvall(sock: socket.socket) -> str:
    """memray's ``recvall``: everything until the peer closes."""
    return b"".join(iter(lambda: sock.recv(4096), b"")).decode("utf-8", "replace")


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by its parent, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rpartition(b")")[2][:3].strip() not in (b"Z", b"X")


def _nudge(pid: int, state: State) -> None:
    if state.debugger == "lldb":
        # lldb does not stop on the target's SIGCONT; a SIGINT to lldb itself halts the target
        for _ in range(LLDB_NUDGES):
            proc = state.proc
            if proc is None or proc.poll() is not None:
                return
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGINT)
            time.sleep(LLDB_NUDGE_S)
        return
    for _ in range(50):
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            return
        time.sleep(0.2)


class _Unused:
    """Stands in for names of memray's Textual TUI, which the helper never runs."""


def _import_attach_machinery() -> None:
    """Import ``memray.commands.attach`` without memray's Textual apps.

    ``memray.commands`` imports every subcommand, and ``live`` and ``tree`` pull in
    Textual: about a second of a two-second attach on a busy machine. Placeholder
    modules take the two Textual reporters' place (any name resolves to ``_Unused``);
    if memray's layout ever changes so that this fails, the real import runs instead.
    """
    import types

    if "memray.commands.attach" in sys.modules:
        return
    placed = False
    for modname in ("memray.reporters.tui", "memray.reporters.tree"):  # the two Textual apps
        if modname not in sys.modules:
            stub = types.ModuleType(modname)
            stub.__getattr__ = lambda name: _Unused  # type: ignore[method-assign]
            sys.modules[modname] = stub
            placed = True
    try:
        import memray.commands.attach
    except Exception:
        if not placed:
            raise
        for name in [n for n in sys.modules if n.startswith(("memray.commands", "memray.reporters"))]:
            del sys.modules[name]
        import memray.commands.attach  # noqa: F401


def _import_memray() -> None:
    """What the reader needs; runs while gdb attaches (``_control_channel``'s overlap)."""
    import memray  # noqa: F401

    _import_attach_machinery()


def _free_port() -> int:
    """memray's ``_get_free_port`` (``memray attach``'s live port), without importing memray."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        return int(sock.getsockname()[1])


def _listening(pid: int, port: int) -> bool | None:
    """Whether a socket in the target's network namespace listens on ``port`` (None: cannot tell)."""
    suffix = f":{port:04X}"
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}", "rb") as fh:
                lines = fh.read().decode("ascii", "replace").splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            parts = line.split(None, 4)
            if len(parts) > 3 and parts[3] == "0A" and parts[1].endswith(suffix):  # 0A: TCP_LISTEN
                return True
    return False if readable else None


def _wait_listening(pid: int, port: int, state: State) -> None:
    """Wait until memray's tracker in the target listens, then connect once.

    ``SocketReader`` retries a refused connection only every 500 ms, and the payload
    (``import memray`` in the target) is rarely done at the first try: watching the
    target's listening sockets instead connects within ~10 ms of the tracker being
    ready. Gives up quietly (``SocketReader`` then waits as before) when the table
    cannot be read, memray reported an error, or the target is gone.
    """
    end = time.monotonic() + LISTEN_WAIT_S
    while not state.side_error and time.monotonic() < end:
        found = _listening(pid, port)
        if found is None or found or not _alive(pid):
            return
        time.sleep(LISTEN_POLL_S)


def run(args: argparse.Namespace) -> int:
    t_run = time.time()
    emit = Emitter()
    state = State(args.debugger)
    state.lldb_pythonpath = args.lldb_pythonpath
    state.target_lib = args.target_lib
    # before any socket and any thread: they are made in (and inherit) the target's namespace
    _enter_target_netns(args.pid)
    _install_signals(state)
    threading.Thread(target=_watch_stdin, args=(state,), name="memray-stdin", daemon=True).start()
    import shutil

    if not shutil.which(args.debugger):
        emit(
            {
                "type": "error",
                "kind": f"{args.debugger}_missing",
                "message": f"{args.debugger} is not installed (memray attach needs it)",
                "fix": f"install {args.debugger}: apt-get install {args.debugger}",
            }
        )
        return 2
    t0 = time.monotonic()
    port = _free_port()
    tracker_call = (
        f"memray.Tracker(destination=memray.SocketDestination(server_port={port}),"
        f" native_traces={bool(args.native)}, follow_fork=False, trace_python_allocators=False)"
    )

    def payload() -> str:
        from memray.commands.attach import PAYLOAD

        return IMPORT_PREFIX + PAYLOAD.format(tracker_call=tracker_call, mode="ACTIVATE", duration=None)

    try:
        timings = _inject(args.pid, payload, state, _memray_files(), overlap=_import_memray)
    except _AttachError as exc:
        if state.stop.is_set():
            emit({"type": "error", "kind": "interrupted", "message": "attach interrupted", "fix": ""})
            return 2
        kind, fix = _classify(str(exc))
        if not _alive(args.pid):
            kind, fix = "target_not_found", "the target exited during attach; start it again"
        emit({"type": "error", "kind": kind, "message": " ".join(str(exc).split()), "fix": fix})
        return 2
    import memray

    frames = FrameInterner()
    cache: dict[Any, tuple[int, ...]] = {}
    ended = "stopped"
    try:
        state.phase = "connect"
        if state.side_error:
            raise KeyboardInterrupt
        t_listen = time.monotonic()
        _wait_listening(args.pid, port, state)
        t_connect = time.monotonic()
        timings["listen_s"] = t_connect - t_listen
        reader_cm = memray.SocketReader(port)
        reader = reader_cm.__enter__()
        timings["connect_s"] = time.monotonic() - t_connect
    except KeyboardInterrupt:
        state.phase = "start"
        err = state.side_error
        if err:
            kind, fix = _classify(err)
            emit(
                {
                    "type": "error",
                    "kind": kind,
                    "message": f"memray could not start in the target: {' '.join(err.split())}",
                    "fix": fix,
                }
            )
        else:
            emit(
                {
                    "type": "error",
                    "kind": "interrupted",
                    "message": "attach interrupted before memray connected",
                    "fix": "",
                }
            )
        return 2
    state.phase = "read"
    try:
        emit(
            {
                "type": "attached",
                "t": time.time(),
                "attach_s": time.monotonic() - t0,
                "timings": {k: round(v, 4) for k, v in timings.items()},
                "t_run": t_run,
                "pid": reader.pid,
                "native": bool(reader.has_native_traces),
                "command_line": reader.command_line or "",
            }
        )
        started = time.monotonic()
        if state.stop.is_set() and not state.side_error:
            # stopped while attaching: live tracking starts empty, so give the target one
            # interval (at most a second) to allocate before the only snapshot
            time.sleep(min(args.interval, 1.0))
        wait_s = min(args.interval, FIRST_SNAPSHOT_S)  # the first view comes early, then every interval
        while not state.stop.wait(wait_s):
            wait_s = args.interval
            if not reader.is_active:
                # memray closed the stream: the target exited, or someone else (another
                # attach, `memray detach`) ended this tracker
                ended = "target_exited" if not _alive(args.pid) else "tracker_stopped"
                break
            emit(snapshot(reader, frames, cache, args))
            if args.duration > 0 and time.monotonic() - started >= args.duration:
                ended = "duration"
                break
        # one last look: after a stop it is the freshest data, after an exit the last there was
        emit(snapshot(reader, frames, cache, args))
    except Exception as exc:  # reported, then the finally still detaches
        ended = "failed"
        emit({"type": "error", "kind": "reader_failed", "message": f"memray reader failed: {exc!r}", "fix": ""})
    finally:
        detach_error = ""
        detached = False
        if ended in ("stopped", "duration", "failed"):
            if not _alive(args.pid):
                ended = "target_exited"
            elif not reader.is_active:
                ended = "tracker_stopped" if ended != "failed" else ended
            else:
                detach_error = _detach(args.pid, state)
                detached = not detach_error
        state.phase = "start"
        with contextlib.suppress(Exception):
            reader_cm.__exit__(None, None, None)
        emit({"type": "ended", "reason": ended, "detached": detached, "detach_error": " ".join(detach_error.split())})
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="workbench-memray-helper")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=0.0)
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--max-depth", type=int, default=4096)
    ap.add_argument("--max-stacks", type=int, default=20_000)
    ap.add_argument("--debugger", choices=("gdb", "lldb"), default="gdb", help="what injects memray's library")
    ap.add_argument("--lldb-pythonpath", default="", help="PYTHONPATH of lldb's embedded Python")
    ap.add_argument("--target-lib", default="", help="memray's injector library as the target names it (a container)")
    args = ap.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
