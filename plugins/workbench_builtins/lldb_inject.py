"""Runs inside lldb's embedded Python: ``lldb --batch -o "command script import lldb_inject.py"``.

The lldb twin of ``agent/gdb_script.py``, for machines where gdb cannot call functions in
a process (gdb 13 on kernels that refuse its extended-state write: "Couldn't write
extended state status"); ``debugger.py`` decides. Attach to ``WB_PID``, wait until some
thread enters ``PyEval_SaveThread`` (it holds the GIL and is about to block, so the
interpreter is consistent and no allocator lock is held; only the GIL holder calls it, so
two threads never hit the breakpoint together, which lldb 14 mishandles), and there run,
in one expression (lldb compiles each: one compile, one stop):

- ``WB_ACTION=run`` (the agent): PyGILState_Ensure, PyErr_Fetch,
  PyRun_SimpleString(``WB_BOOT``'s text), PyErr_Restore, PyGILState_Release;
- ``WB_ACTION=dlopen`` (memray): dlopen(``WB_BOOT``'s text: memray's injector library),
  ``memray_spawn_client(WB_PORT)``: what memray's ``_attach.gdb`` runs at its breakpoint.
  Its own ``_attach.lldb`` stops on malloc, where two threads do hit together, and then
  crashes the target. ``WB_PENDING=1`` also queues memray's pending call (a main thread
  that never blocks then stops in ``PyCallable_Check``, with the GIL).

The text is copied into memory lldb maps in the target (no malloc while it is stopped).
After ``WB_TIMEOUT`` seconds without a hit, or on SIGINT, the target is interrupted; the
event loop and the timer decide under one lock, so an interrupt is never sent once a hit
counted. Then (``WB_IDLE_FALLBACK=1``) the idle route of ``gdb_script.py``: a Python thread
parked in a system call with the GIL free runs it, when every thread is parked; otherwise
nothing is called. The call itself has no timeout: an interrupted PyRun_SimpleString or
dlopen would leave the target broken. The script uses a debugger of its own (see
``__lldb_init_module``). One ``WB-RESULT {json}`` line reports what happened and the timings.
"""

# mypy: ignore-errors
import contextlib
import json
import os
import signal
import threading
import time

import lldb

_NAMES = (
    "PyEval_SaveThread",
    "PyGILState_Ensure",
    "PyGILState_Release",
    "PyRun_SimpleString",
    "PyErr_Fetch",
    "PyErr_Restore",
    "PyGILState_Check",
    "PyGILState_GetThisThreadState",
)
_DL_NAMES = ("dlopen", "dlsym", "dlerror", "Py_AddPendingCall", "PyCallable_Check")
_REQUIRED = {"run": _NAMES[:6], "dlopen": ("PyEval_SaveThread", "dlopen", "dlsym")}
# where lldb looks names up without ELF addresses (gdb: "sharedlibrary libpython", libc):
# reading every module's symbols would keep the target stopped longer
_MODULES = ("libpython", "libc.so", "libc-", "libdl", "python")
_SETTINGS = (
    "settings set auto-confirm true",
    # symbol tables are read only when a name is looked up (never, with the ELF addresses)
    "settings set target.preload-symbols false",
    "settings set symbols.enable-external-lookup false",
    "settings set target.load-script-from-symbol-file false",
)
_DRAIN_S = 5  # how long to wait for the stop our interrupt asked for
_sigint = threading.Event()  # SIGINT to lldb (the memray helper's stop, its watchdog): give up now


class _Failed(Exception):
    pass


class _Session:
    """What every step needs: lldb's objects, the function addresses, the bootstrap file."""

    def __init__(self, debugger, listener, pid, boot):
        self.debugger = debugger
        self.listener = listener
        self.pid = pid
        self.boot = boot
        self.action = os.environ.get("WB_ACTION", "run")
        self.port = int(os.environ.get("WB_PORT", "0"))
        self.rtld_now = int(os.environ.get("WB_RTLD_NOW", "2"))
        self.target = None
        self.process = None
        self.addrs = {}
        self.opts = None


def _proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        return ""


def _attach(debugger, listener, pid):
    """Like ``gdb_script._attach``: a sampler ptrace-stopping the target makes attach fail for a moment.

    The process reports to our own listener: the lldb driver's event thread reads the
    debugger's, and would take the breakpoint's stop event from us.
    """
    target = debugger.CreateTarget("")
    err = lldb.SBError()
    for _ in range(150):
        err = lldb.SBError()
        process = target.AttachToProcessWithID(listener, pid, err)
        if err.Success() and process.IsValid():
            return target, process
        if "not permitted" not in (err.GetCString() or ""):
            break
        time.sleep(0.02)
    raise _Failed(err.GetCString() or "attach failed")


def _pass_signals(process):
    """The target's own signals pass straight through (gdb: ``handle all nostop noprint pass``)."""
    sigs = process.GetUnixSignals()
    keep = {int(signal.SIGSTOP), int(signal.SIGTRAP), int(signal.SIGINT), int(signal.SIGKILL)}
    for i in range(sigs.GetNumSignals()):
        num = sigs.GetSignalAtIndex(i)
        if num in keep:
            continue
        sigs.SetShouldStop(num, False)
        sigs.SetShouldNotify(num, False)
        sigs.SetShouldSuppress(num, False)


def _addresses(target, given, names):
    """The workbench's ELF addresses, else lldb's own lookup in libpython, libc and the executable."""
    if given:
        return {k: int(v) for k, v in given.items()}, "elf"
    modules = [target.GetModuleAtIndex(i) for i in range(target.GetNumModules())]
    exe = target.GetExecutable().GetFilename() or ""
    picked = [m for m in modules if (m.GetFileSpec().GetFilename() or "").startswith(_MODULES)]
    picked += [m for m in modules if m.GetFileSpec().GetFilename() == exe and m not in picked]
    found = {}
    for name in names:
        for mod in picked:
            sym = mod.FindSymbol(name, lldb.eSymbolTypeCode)
            addr = sym.GetStartAddress().GetLoadAddress(target) if sym.IsValid() else lldb.LLDB_INVALID_ADDRESS
            if addr != lldb.LLDB_INVALID_ADDRESS:
                found[name] = addr
                break
    return found, "lldb"


def _options():
    opts = lldb.SBExpressionOptions()
    opts.SetIgnoreBreakpoints(True)
    opts.SetUnwindOnError(True)
    opts.SetStopOthers(False)  # every thread runs during the call, as with gdb: Ensure may wait for the GIL
    opts.SetTryAllThreads(True)
    opts.SetTimeoutInMicroSeconds(0)  # no timeout: an interrupted PyRun_SimpleString breaks the interpreter
    opts.SetLanguage(lldb.eLanguageTypeC_plus_plus)
    opts.SetSuppressPersistentResult(True)
    opts.SetGenerateDebugInfo(False)
    opts.SetFetchDynamicValue(lldb.eNoDynamicValues)
    return opts


def _eval(thread, expr, opts):
    value = thread.GetFrameAtIndex(0).EvaluateExpression(expr, opts)
    err = value.GetError()
    if not err.Success():
        raise _Failed(err.GetCString() or "expression failed")
    return value.GetValueAsSigned()


def _call_bootstrap(out, sess, thread):
    """In ``thread``: copy the bootstrap into a fresh mapping, run it under the GIL, unmap."""
    out["stage"] = "call"
    process, addrs, boot, opts = sess.process, sess.addrs, sess.boot, sess.opts
    try:
        out["thread"] = thread.GetThreadID()
        process.SetSelectedThread(thread)
        with open(boot, "rb") as fh:
            data = fh.read()
        buf = _write_mapped(process, data)
        try:
            # Ensure first: it attaches the thread state when the thread had released the GIL
            # (the idle route), and PyErr_Fetch needs an attached state.
            expr = (
                _dlopen_expr(sess, buf)
                if sess.action == "dlopen"
                else (
                    f"int wb_g = ((int(*)(void)){addrs['PyGILState_Ensure']})();"
                    "void *wb_e[3] = {0, 0, 0};"
                    f"((void(*)(void*, void*, void*)){addrs['PyErr_Fetch']})(&wb_e[0], &wb_e[1], &wb_e[2]);"
                    f"int wb_rc = ((int(*)(const char*)){addrs['PyRun_SimpleString']})((const char*){buf});"
                    f"((void(*)(void*, void*, void*)){addrs['PyErr_Restore']})(wb_e[0], wb_e[1], wb_e[2]);"
                    f"((void(*)(int)){addrs['PyGILState_Release']})(wb_g);"
                    "wb_rc;"
                )
            )
            t3 = time.time()
            out["rc"] = _eval(thread, expr, opts)
            out["bootstrap_s"] = time.time() - t3
            if out["rc"] != 0 and sess.action == "dlopen" and "dlerror" in addrs:
                msg = thread.GetFrameAtIndex(0).EvaluateExpression(
                    f"(const char*)((char*(*)(void)){addrs['dlerror']})()", opts
                )
                out["error"] = (msg.GetSummary() or "").strip('"') or "memray_spawn_client failed"
        finally:
            process.DeallocateMemory(buf)
        out["stage"] = "done"
    except _Failed as exc:
        out["error"] = str(exc)


def _write_mapped(process, data, tries=3):
    """``data`` copied into a fresh read-write mapping in the target; its address.

    lldb maps by calling mmap in the target; once in a few runs (a target just injected
    by the agent) it answered a bogus address (0x9) whose write then failed: ask again.
    """
    perms = lldb.ePermissionsReadable | lldb.ePermissionsWritable
    why = ""
    for _ in range(tries):
        err = lldb.SBError()
        buf = process.AllocateMemory(max(len(data), 4096), perms, err)
        if not err.Success() or buf < 0x10000 or buf == lldb.LLDB_INVALID_ADDRESS:
            why = f"could not map memory in the target: {err.GetCString() or hex(buf)}"
            continue
        process.WriteMemory(buf, data, err)
        if err.Success():
            return buf
        why = f"could not write the bootstrap at {buf:#x}: {err.GetCString()}"
        process.DeallocateMemory(buf)
    raise _Failed(why)


def _dlopen_expr(sess, buf):
    """memray's breakpoint commands as one expression: 0 when its client thread was started."""
    a = sess.addrs
    return (
        f"void *wb_h = ((void*(*)(const char*, int)){a['dlopen']})((const char*){buf}, {sess.rtld_now});"
        f'void *wb_s = wb_h ? ((void*(*)(void*, const char*)){a["dlsym"]})(wb_h, "memray_spawn_client") : 0;'
        f"int wb_rc = wb_s ? ((int(*)(int))wb_s)({sess.port}) : -1;"
        "wb_rc;"
    )


def _pending_call(out, sess):
    """memray's ``Py_AddPendingCall(&PyCallable_Check, 0)``: a busy main thread soon calls it (GIL held)."""
    a = sess.addrs
    if "Py_AddPendingCall" not in a or "PyCallable_Check" not in a:
        return []
    thread = sess.process.GetSelectedThread()
    try:
        _eval(
            thread,
            f"((int(*)(void*, void*)){a['Py_AddPendingCall']})((void*){a['PyCallable_Check']}, (void*)0)",
            sess.opts,
        )
    except _Failed as exc:
        out["pending_error"] = str(exc)
        return []
    bp = sess.target.BreakpointCreateByAddress(a["PyCallable_Check"])
    return [bp] if bp.IsValid() else []


def _idle_python_thread(sess):
    """``gdb_script._idle_python_thread``: only when every thread is parked and none holds the GIL."""
    pid, process, addrs, opts = sess.pid, sess.process, sess.addrs, sess.opts
    threads = [process.GetThreadAtIndex(i) for i in range(process.GetNumThreads())]
    for th in threads:
        try:
            with open(f"/proc/{pid}/task/{th.GetThreadID()}/syscall") as fh:
                if int(fh.read().split()[0]) < 0:
                    return None  # running in user space
        except (OSError, ValueError, IndexError):
            return None
    if "PyGILState_Check" not in addrs or "PyGILState_GetThisThreadState" not in addrs:
        return None
    expr = (
        f"((int(*)(void)){addrs['PyGILState_Check']})() * 2 + "
        f"(((long(*)(void)){addrs['PyGILState_GetThisThreadState']})() != 0)"
    )
    chosen = None
    for th in threads:
        try:
            v = _eval(th, expr, opts)
        except _Failed:
            return None
        if v >= 2:
            return None  # holds the GIL (or checks are off): not provably free
        if v == 1 and chosen is None:
            chosen = th
    return chosen


def _at_breakpoint(process, bp_ids):
    for i in range(process.GetNumThreads()):
        th = process.GetThreadAtIndex(i)
        if th.GetStopReason() == lldb.eStopReasonBreakpoint and th.GetStopReasonDataAtIndex(0) in bp_ids:
            return th
    return None


def _wait(out, sess, bp_ids, timeout):
    """Run the target until a thread hits the breakpoint or the timeout interrupts it.

    Returns the thread at the breakpoint, or None (timeout or the target went away).
    """
    debugger, listener, process = sess.debugger, sess.listener, sess.process
    state = {"hit": False, "interrupted": False}
    lock = threading.Lock()

    def give_up():
        with lock:
            if state["hit"]:
                return
            state["interrupted"] = True
        process.SendAsyncInterrupt()

    event = lldb.SBEvent()
    debugger.SetAsync(True)
    timer = threading.Timer(timeout, give_up)
    timer.daemon = True
    chosen = None
    while listener.GetNextEvent(event):
        pass  # the attach's own stop: only stops after our continue count
    try:
        process.Continue()
        timer.start()
        end = None
        while True:
            if _sigint.is_set():
                give_up()
            with lock:
                if state["interrupted"] and end is None:
                    end = time.time() + _DRAIN_S
            if end is not None and time.time() > end:
                out["error"] = "the target did not stop after the timeout"
                break
            if not listener.WaitForEvent(1, event) or not lldb.SBProcess.EventIsProcessEvent(event):
                continue
            st = lldb.SBProcess.GetStateFromEvent(event)
            if st in (lldb.eStateExited, lldb.eStateDetached, lldb.eStateCrashed):
                out["error"] = "No such process: the target exited"
                break
            if st != lldb.eStateStopped or lldb.SBProcess.GetRestartedFromEvent(event):
                continue
            th = _at_breakpoint(process, bp_ids)
            with lock:
                if th is not None and not state["interrupted"]:
                    state["hit"] = True
                    chosen = th
                    break
                if state["interrupted"]:
                    break
            process.Continue()  # stopped for something else (a signal lldb stops on): run on
    finally:
        timer.cancel()
        debugger.SetAsync(False)
    with lock:
        out["interrupted"] = state["interrupted"]
        state["interrupted"] = True  # a late timer must not interrupt an injected call
    return chosen


def _detach(out, sess, before):
    process = sess.process
    if process.IsValid() and process.GetState() not in (lldb.eStateExited, lldb.eStateDetached):
        err = process.Detach()
        if not err.Success():
            out["detach_error"] = err.GetCString() or "detach failed"
    # lldb can leave a process stopped after detaching (memray's attach works around it
    # too): a target that was running when we came must be running when we leave
    if before not in ("T", "t") and _proc_state(sess.pid) == "T":
        out["sigcont"] = True
        with contextlib.suppress(OSError):
            os.kill(sess.pid, signal.SIGCONT)


def main(debugger):
    boot = os.environ["WB_BOOT"]
    timeout = float(os.environ.get("WB_TIMEOUT", "10"))
    given = json.loads(os.environ.get("WB_ADDRS") or "{}")
    sess = _Session(debugger, lldb.SBListener("workbench-inject"), int(os.environ["WB_PID"]), boot)
    out = {"stage": "attach", "hit": False}
    before = _proc_state(sess.pid)
    debugger.SetAsync(False)
    interp = debugger.GetCommandInterpreter()
    for cmd in _SETTINGS:
        interp.HandleCommand(cmd, lldb.SBCommandReturnObject())
    t0 = time.time()
    try:
        sess.target, sess.process = _attach(debugger, sess.listener, sess.pid)
    except _Failed as exc:
        out["error"] = str(exc)
        print("WB-RESULT " + json.dumps(out), flush=True)
        return
    t_attached = time.time()
    _pass_signals(sess.process)
    out["stage"] = "breakpoint"
    names = _NAMES + _DL_NAMES if sess.action == "dlopen" else _NAMES
    sess.addrs, out["symbols"] = _addresses(sess.target, given, names)
    missing = [n for n in _REQUIRED.get(sess.action, _NAMES) if n not in sess.addrs]
    bp = None if missing else sess.target.BreakpointCreateByAddress(sess.addrs["PyEval_SaveThread"])
    if bp is None or not bp.IsValid() or bp.GetNumLocations() == 0:
        out["error"] = "symbols not found: " + ", ".join(missing or ["PyEval_SaveThread"])
        _detach(out, sess, before)
        print("WB-RESULT " + json.dumps(out), flush=True)
        return
    sess.opts = _options()
    bps = [bp]
    if os.environ.get("WB_PENDING") == "1":
        bps += _pending_call(out, sess)
    t1 = time.time()
    out["stage"] = "wait"
    thread = _wait(out, sess, [b.GetID() for b in bps], timeout)
    t2 = time.time()
    for b in bps:  # before any call: the bootstrap itself releases the GIL
        sess.target.BreakpointDelete(b.GetID())
    out["hit"] = thread is not None
    out["wait_s"] = t2 - t1
    if sess.process.GetState() == lldb.eStateStopped:
        if out["interrupted"]:
            out.pop("error", None)
            out["stage"] = "timeout"
            if os.environ.get("WB_IDLE_FALLBACK", "1") == "1":
                idle = _idle_python_thread(sess)
                if idle is not None:
                    out["route"] = "idle-thread"
                    _call_bootstrap(out, sess, idle)
        elif thread is not None:
            out["route"] = "safe-point"
            _call_bootstrap(out, sess, thread)
    t4 = time.time()
    _detach(out, sess, before)
    t5 = time.time()
    # All threads are stopped from attach until continue, and again from the breakpoint
    # (or the timeout) until detach; other threads run only while an injected call executes.
    out["attach_s"] = t_attached - t0
    out["stopped_s"] = (t1 - t0) + (t5 - t2)
    out["at_breakpoint_s"] = t4 - t2
    print("WB-RESULT " + json.dumps(out), flush=True)


def __lldb_init_module(debugger, internal_dict):
    # A debugger of our own: the lldb driver's event thread listens to its own debugger's
    # processes, and reading a stop while we delete a breakpoint crashed lldb 14.
    ours = lldb.SBDebugger.Create(False)
    # SIGINT only asks to give up (lldb's own handler would interrupt its driver, not us)
    signal.signal(signal.SIGINT, lambda signum, frame: _sigint.set())
    try:
        main(ours)
    finally:
        lldb.SBDebugger.Destroy(ours)
