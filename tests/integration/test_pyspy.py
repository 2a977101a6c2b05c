"""Real py-spy against real child processes: the live capture plugin end to end."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil
import pytest

from tests.helpers.targets import HOT, TWO_THREADS, exits_soon, free_pid, non_python_process, run_target
from workbench.capture import CaptureHandle, Target, default_registry
from workbench.errors import TargetExited, TargetNotFound, UnsupportedTarget
from workbench.model import CPU_NS, SAMPLES, EventBatch, Profile, Session


def _plugin():
    return default_registry().load("pyspy")


def _wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def _self_by_function(p: Profile) -> dict[str, float]:
    out: dict[str, float] = {}
    for node in range(1, p.n_nodes):
        f = p.frames[int(p.frame[node])]
        out[f.function] = out.get(f.function, 0.0) + float(p.self_values[node, 0])
    return out


def _pyspy_children() -> list[psutil.Process]:
    return [c for c in psutil.Process().children(recursive=True) if c.name() == "py-spy"]


def _capture(pid: int, options: dict[str, object], batches: int) -> tuple[Session, CaptureHandle]:
    session = Session()
    handle = _plugin().start(Target.from_pid(pid), options, session)
    _wait_for(lambda: handle.status().batches >= batches or not handle.status().running)
    handle.stop()
    return session, handle


def test_hot_function_dominates_self_time() -> None:
    with run_target(HOT) as proc:
        session, handle = _capture(proc.pid, {"rate": 100, "chunk_s": 0.5}, batches=3)
        assert _pyspy_children() == []  # stop() reaped every chunk process
    st = handle.status()
    assert st.error is None and not st.running
    prof = session.profiles[f"pyspy:{proc.pid}:cpu"]
    assert prof.sample_types == (SAMPLES, CPU_NS)
    selfs = _self_by_function(prof)
    total = sum(selfs.values())
    assert total > 50
    assert selfs.get("hot_function", 0) / total > 0.6, selfs
    # CPU time is samples times the sampling period
    assert prof.totals()[1] == pytest.approx(prof.totals()[0] * 1e7)
    # time-bucketed: one slice per chunk, in order, without gaps between chunks
    assert len(prof.slices) >= 3
    for a, b in zip(prof.slices, prof.slices[1:], strict=False):
        assert b.t0 <= a.t1 + 0.05
    assert st.coverage is not None and 0 < st.coverage <= 1
    kinds = [e.kind for e in session.events]
    assert kinds[0] == "capture_started" and kinds[-1] == "capture_stopped"


def test_threads_option_names_both_threads() -> None:
    with run_target(TWO_THREADS) as proc:
        session, _ = _capture(proc.pid, {"rate": 100, "threads": True, "chunk_s": 0.5}, batches=2)
        filtered, _ = _capture(proc.pid, {"rate": 100, "thread_filter": "beta", "chunk_s": 0.5}, batches=2)
    prof = session.profiles[f"pyspy:{proc.pid}:cpu"]
    roots = [prof.frames[int(prof.frame[n])].function for n in prof.children_of(0)]
    assert any(r.startswith("thread (") and r.endswith("alpha-worker") for r in roots), roots
    assert any(r.startswith("thread (") and r.endswith("beta-worker") for r in roots), roots
    selfs = _self_by_function(prof)
    assert selfs.get("alpha_work", 0) > 0 and selfs.get("beta_work", 0) > 0
    # the filter keeps one thread, and without --threads no thread frames are added
    fprof = filtered.profiles[f"pyspy:{proc.pid}:cpu"]
    fselfs = _self_by_function(fprof)
    assert fselfs.get("beta_work", 0) > 0 and "alpha_work" not in fselfs
    assert not any(f.function.startswith("thread (") for f in fprof.frames)


def test_target_exit_mid_capture_keeps_data_and_marks_end() -> None:
    with run_target(exits_soon(2.5)) as proc:
        session = Session()
        handle = _plugin().start(Target.from_pid(proc.pid), {"rate": 100}, session)
        assert handle.join(60), "capture did not end when the target exited"
        assert _pyspy_children() == []
    st = handle.status()
    assert not st.running
    assert isinstance(st.error, TargetExited)
    prof = session.profiles[f"pyspy:{proc.pid}:cpu"]
    assert _self_by_function(prof).get("busy_until_exit", 0) > 10
    assert any(isinstance(e, EventBatch) and e.kind == "target_exited" for e in session.events)
    handle.stop()  # harmless after the end


def test_unknown_pid_is_target_not_found() -> None:
    pid = free_pid()
    checks = _plugin().preflight(Target.from_pid(pid))
    assert not checks[0].ok and checks[0].fix
    with pytest.raises(TargetNotFound) as exc:
        _plugin().start(Target.from_pid(pid), {}, Session())
    assert str(pid) in str(exc.value) and exc.value.fix


def test_non_python_pid_is_unsupported_target() -> None:
    with non_python_process() as proc:
        checks = {c.name: c for c in _plugin().preflight(Target.from_pid(proc.pid))}
        assert checks["process exists"].ok and checks["ptrace permitted"].ok
        assert not checks["python process"].ok
        with pytest.raises(UnsupportedTarget) as exc:
            _plugin().start(Target.from_pid(proc.pid), {}, Session())
    assert "not a Python process" in str(exc.value) and exc.value.fix
    assert _pyspy_children() == []


def test_pyspy_itself_rejecting_a_non_python_process_is_typed() -> None:
    """The same refusal when it comes from py-spy (preflight passed, py-spy disagreed)."""
    from workbench_builtins.pyspy import capture
    from workbench_builtins.pyspy.binary import find_pyspy

    with non_python_process() as proc:
        session = Session()
        handle = capture.PySpyCapture(find_pyspy(), proc.pid, capture.PySpyOptions(), session).start()
        assert handle.join(60)
    err = handle.status().error
    assert isinstance(err, UnsupportedTarget), err
    assert _pyspy_children() == []


def test_stop_while_attaching_leaves_no_process() -> None:
    with run_target(HOT) as proc:
        session = Session()
        handle = _plugin().start(Target.from_pid(proc.pid), {}, session)
        handle.stop()
        assert _pyspy_children() == []
    st = handle.status()
    assert not st.running and st.error is None
    assert handle.join(0)


def test_subprocesses_option_adds_process_roots() -> None:
    parent = HOT.replace(
        "def main():",
        "import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', 'while True: sum(range(1000))'])\n\ndef main():",
    )
    with run_target(parent) as proc:
        session, handle = _capture(proc.pid, {"subprocesses": True, "chunk_s": 0.5}, batches=2)
        kids = psutil.Process(proc.pid).children()
        for k in kids:
            k.kill()
        psutil.wait_procs(kids, timeout=10)
    assert handle.status().error is None and kids
    prof = session.profiles[f"pyspy:{proc.pid}:cpu"]
    roots = {prof.frames[int(prof.frame[n])].function for n in prof.children_of(0)}
    assert all(r.startswith(f"process {proc.pid}:") for r in roots), roots
    # the child's stacks sit under parent;child process frames (its -c script is one frame)
    functions = [f.function for f in prof.frames]
    assert any(f.startswith(f"process {kids[0].pid}:") for f in functions), functions


def test_too_new_python_version_is_unsupported_target(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The version check reads the interpreter's name, as py-spy does: a binary named
    python3.99 (a copy of a real interpreter) is refused before py-spy runs."""
    import shutil
    import subprocess
    import sys

    fake = tmp_path / "python3.99"
    shutil.copy2(sys.executable, fake)
    proc = subprocess.Popen(
        [str(fake), "-c", "import time; print('TARGET_READY', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None and b"TARGET_READY" in proc.stdout.readline()
        checks = {c.name: c for c in _plugin().preflight(Target.from_pid(proc.pid))}
        assert not checks["python version"].ok
        with pytest.raises(UnsupportedTarget) as exc:
            _plugin().start(Target.from_pid(proc.pid), {}, Session())
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert "Python 3.99" in str(exc.value) and exc.value.fix
