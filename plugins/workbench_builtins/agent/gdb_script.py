"""Runs inside gdb's embedded Python (``gdb -batch -x gdb_script.py``), not in the workbench.

Attaches to ``WB_PID``, waits until some thread of the target enters
``PyEval_SaveThread`` (it holds the GIL and is about to block in I/O, a sleep or a lock,
so the interpreter is in a consistent state and no allocator lock is held), and there
runs the bootstrap under the GIL: PyGILState_Ensure, PyErr_Fetch, PyRun_SimpleString,
PyErr_Restore, PyGILState_Release. The bootstrap text is copied into a private anonymous
mapping with gdb's ``restore`` (no malloc in the target while it is stopped at an
arbitrary point) and unmapped afterwards. Function addresses come from the workbench
(``WB_ADDRS``, read from ELF .dynsym) so gdb loads no symbols; without them gdb looks
the names up in libpython and libc only.

If no thread releases the GIL within ``WB_TIMEOUT`` seconds, a timer here sends gdb
SIGINT; the breakpoint's ``stop()`` and the timer decide under one lock, so a SIGINT can
never land while an injected call runs. Then a Python thread parked in a system call
with the GIL released (an idle service: every thread waits on a lock or a socket), if
there is one, runs the bootstrap instead; otherwise nothing is called and gdb detaches.
One ``WB-RESULT {json}`` line reports what happened and the timings.
"""

# mypy: ignore-errors
import contextlib
import json
import os
import signal
import threading
import time

import gdb

_ERR_SLOTS = 60000  # three PyObject* for PyErr_Fetch, far past the bootstrap text
_MAP_BYTES = 65536


def _set(cmd):
    with contextlib.suppress(gdb.error):  # older gdb without the setting
        gdb.execute(cmd, to_string=True)


def _value(expr):
    return int(gdb.parse_and_eval(expr))


def _attach(pid):
    """A sampler (py-spy) ptrace-stops the target many times a second: wait for a gap.

    The workbench checked the ptrace permission before starting gdb, so a refusal here
    is taken as "traced right now" and retried for up to 3 s.
    """
    for _ in range(150):
        try:
            gdb.execute(f"attach {pid}", to_string=True)
            return
        except gdb.error as exc:
            if "not permitted" not in str(exc):
                raise
            time.sleep(0.02)
    gdb.execute(f"attach {pid}", to_string=True)


def _call_bootstrap(out, fn, boot):
    """In the selected thread: map a page, copy the bootstrap in, run it under the GIL.

    Ensure comes first: it attaches the thread state when the thread had released the
    GIL (the idle route), and PyErr_Fetch needs an attached state.
    """
    out["stage"] = "call"
    try:
        out["thread"] = gdb.selected_thread().ptid[1]
        mmap = fn("mmap", "long(*)(long, unsigned long, int, int, int, long)")
        buf = _value(f"(long){mmap}(0, {_MAP_BYTES}, 3, 0x22, -1, 0)")
        if buf in (-1, 0):
            raise gdb.error("mmap failed in the target")
        gdb.execute(f"restore {boot} binary {buf}", to_string=True)
        e = buf + _ERR_SLOTS
        t3 = time.time()
        fetch = fn("PyErr_Fetch", "void(*)(void*, void*, void*)")
        restore = fn("PyErr_Restore", "void(*)(void*, void*, void*)")
        gstate = _value(f"(int){fn('PyGILState_Ensure', 'int(*)(void)')}()")
        gdb.parse_and_eval(f"(void){fetch}((void*){e}, (void*){e + 8}, (void*){e + 16})")
        out["rc"] = _value(f"(int){fn('PyRun_SimpleString', 'int(*)(char*)')}((char*){buf})")
        gdb.parse_and_eval(f"(void){restore}(*(void**){e}, *(void**){e + 8}, *(void**){e + 16})")
        gdb.parse_and_eval(f"(void){fn('PyGILState_Release', 'void(*)(int)')}({gstate})")
        out["bootstrap_s"] = time.time() - t3
        _value(f"(int){fn('munmap', 'int(*)(long, unsigned long)')}({buf}, {_MAP_BYTES})")
        out["stage"] = "done"
    except gdb.error as exc:
        out["error"] = str(exc)


def _flush_quit():
    """Our SIGINT may leave gdb's quit flag set; let it fire on a harmless command."""
    for _ in range(2):
        try:
            gdb.execute("info threads", to_string=True)
            return
        except (gdb.error, KeyboardInterrupt):
            pass


def _idle_python_thread(pid, fn):
    """No thread passed the safe point: is the whole process idle, with the GIL free?

    Only when every thread is parked in a system call (none runs in user space, where it
    could be inside malloc or the interpreter) and no thread holds the GIL, the first
    Python thread is used: a thread that released the GIL calling back into Python with
    PyGILState_Ensure is the pattern C libraries use (sqlite3 callbacks do exactly this).
    A thread blocked in C while holding the GIL would make Ensure wait forever, so that
    case is refused, as is any thread busy in user space.
    """
    threads = sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)
    for th in threads:
        try:
            with open(f"/proc/{pid}/task/{th.ptid[1]}/syscall") as fh:
                if int(fh.read().split()[0]) < 0:
                    return None  # running in user space
        except (OSError, ValueError, IndexError):
            return None
    chosen = None
    for th in threads:
        th.switch()
        try:
            if _value(f"(int){fn('PyGILState_Check', 'int(*)(void)')}()") != 0:
                return None  # holds the GIL (or checks are off): not provably free
            python = _value(f"(long){fn('PyGILState_GetThisThreadState', 'long(*)(void)')}()") != 0
        except gdb.error:
            return None
        if python and chosen is None:
            chosen = th
    if chosen is not None:
        chosen.switch()
    return chosen


class _SafePoint(gdb.Breakpoint):
    def __init__(self, spec, state, lock):
        super().__init__(spec, internal=True)
        self.state = state
        self.lock = lock

    def stop(self):
        with self.lock:
            if not self.state["interrupted"]:
                self.state["hit"] = True
        return True


def main():
    pid = int(os.environ["WB_PID"])
    boot = os.environ["WB_BOOT"]
    timeout = float(os.environ.get("WB_TIMEOUT", "10"))
    # addresses the workbench read from the ELF dynamic symbols: no symbol loading at all
    addrs = json.loads(os.environ.get("WB_ADDRS") or "{}")

    def fn(name, proto):
        return f"(({proto}){addrs[name]})" if addrs else name

    out = {"stage": "attach", "hit": False}
    state = {"hit": False, "interrupted": False}
    lock = threading.Lock()
    for cmd in ("set pagination off", "set confirm off", "set debuginfod enabled off", "set breakpoint pending off"):
        _set(cmd)
    # the target's own signals (SIGUSR1, SIGPIPE, ...) pass straight through; only our SIGINT stops it
    _set("handle all nostop noprint pass")
    t0 = time.time()
    try:
        _attach(pid)
        if not addrs:
            # symbols of libpython and libc only: a service with dozens of extension modules
            # would otherwise stay stopped while gdb reads all of them
            gdb.execute("sharedlibrary libpython", to_string=True)
            gdb.execute("sharedlibrary /libc[.-]", to_string=True)
        t_attached = time.time()
        out["stage"] = "breakpoint"
        out["symbols"] = "elf" if addrs else "gdb"
        bp = _SafePoint(f"*{addrs['PyEval_SaveThread']}" if addrs else "PyEval_SaveThread", state, lock)
    except gdb.error as exc:
        out["error"] = str(exc)
        print("WB-RESULT " + json.dumps(out), flush=True)
        return
    t1 = time.time()
    out["stage"] = "wait"

    def give_up():
        with lock:
            if state["hit"]:
                return
            state["interrupted"] = True
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(timeout, give_up)
    timer.daemon = True
    timer.start()
    try:
        gdb.execute("continue", to_string=True)
    except (gdb.error, KeyboardInterrupt) as exc:
        out["error"] = str(exc) or type(exc).__name__
    timer.cancel()
    t2 = time.time()
    with lock:
        hit = state["hit"] and not state["interrupted"]
        out["interrupted"] = state["interrupted"]
        state["interrupted"] = True  # a late stop() must not count
    bp.delete()
    out["hit"] = hit
    out["wait_s"] = t2 - t1
    if out["interrupted"]:
        out.pop("error", None)
        out["stage"] = "timeout"
        if os.environ.get("WB_IDLE_FALLBACK", "1") == "1":
            _flush_quit()
            thread = _idle_python_thread(pid, fn)
            if thread is not None:
                out["route"] = "idle-thread"
                _call_bootstrap(out, fn, boot)
    elif hit and "error" not in out:
        out["route"] = "safe-point"
        _call_bootstrap(out, fn, boot)
    t4 = time.time()
    for _ in range(2):  # a SIGINT that raced the stop can surface as a Quit on the first try
        try:
            gdb.execute("detach", to_string=True)
            break
        except (gdb.error, KeyboardInterrupt) as exc:
            out.setdefault("detach_error", str(exc) or type(exc).__name__)
    t5 = time.time()
    # All threads are stopped from attach until continue, and again from the breakpoint
    # (or the timeout) until detach; other threads run only while an injected call executes.
    out["attach_s"] = t_attached - t0
    out["stopped_s"] = (t1 - t0) + (t5 - t2)
    out["at_breakpoint_s"] = t4 - t2
    print("WB-RESULT " + json.dumps(out), flush=True)


main()
