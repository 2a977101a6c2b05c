"""memray attached to real Python processes through gdb (no mocks): sites, errors, watchdog, exit."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.helpers.memray import (
    SLEEPS_THEN_ALLOCATES,
    TWO_SITES,
    VENV_PYTHON,
    function_totals,
    pyenv_python,
    python_target,
)
from workbench.capture import Target, default_registry
from workbench.errors import CaptureError, TargetExited, UnsupportedTarget
from workbench.model import Session

pytestmark = pytest.mark.skipif(shutil.which("gdb") is None, reason="memray attach needs gdb (apt-get install gdb)")

WAIT_S = 120.0  # generous upper bound on a loaded CI machine; tests never assert on timing


def _wait_for(cond, timeout: float = WAIT_S) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _has(session: Session, key: str, function: str) -> bool:
    prof = session.snapshot_profile(key)
    return prof is not None and function_totals(prof, function)[0] > 0


def _no_leftover_children() -> list[str]:
    """Helpers or gdb still around (zombies included) after a capture ended."""
    left = []
    for c in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(c.cmdline()) or c.name()
            if "memray/helper.py" in cmd or c.name() == "gdb" or c.status() == psutil.STATUS_ZOMBIE:
                left.append(f"{c.pid} {c.status()} {cmd[:80]}")
        except psutil.NoSuchProcess:
            continue
    return left


def test_two_sites_appear_in_order_and_stop_detaches() -> None:
    plugin = default_registry().load("memray")
    with python_target(VENV_PYTHON, TWO_SITES) as target:
        session = Session()
        checks = plugin.preflight(Target.from_pid(target.pid))
        assert all(c.ok for c in checks), [(c.name, c.message, c.fix) for c in checks]
        handle = plugin.start(Target.from_pid(target.pid), {"interval": 0.3}, session)
        key = f"memray:{target.pid}:heap"
        try:
            assert _wait_for(
                lambda: (
                    (handle.status().samples >= 3 and _has(session, key, "grow_slow")) or not handle.status().running
                )
            )
        finally:
            handle.stop()
        st = handle.status()
        assert st.error is None, st.error
        assert not st.running and "detached" in st.message
        prof = session.profiles[key]
        fast, slow = function_totals(prof, "grow_fast"), function_totals(prof, "grow_slow")
        assert slow[0] > 0 and slow[1] > 0
        assert fast[0] > 2 * slow[0]  # 5x the bytes per call
        assert prof.meta["pid"] == str(target.pid)
        heap = session.series["memray.heap_bytes"]
        assert len(heap) >= 2 and heap.max_value >= fast[0]
        # growing sites between snapshots were reported, as non-suspect candidates
        growth = json.loads(prof.meta["growth_top"])
        assert isinstance(growth, list)
        assert all(not f.suspect and f.target == f"memray:{target.pid}" for f in session.findings)
        # detached, and the target keeps running and allocating
        assert target.poll() is None
        time.sleep(0.5)
        assert target.poll() is None
        assert _no_leftover_children() == []


def _python_without_memray() -> str | None:
    """An interpreter memray is not importable in: pyenv's 3.13.0 on a developer machine,
    else Debian's own python3 (which .ci/run installs, so CI runs this path)."""
    for cand in (pyenv_python("3.13.0"), "/usr/bin/python3"):
        if cand and Path(cand).exists():
            probe = subprocess.run([cand, "-c", "import memray"], capture_output=True, check=False)
            if probe.returncode != 0:
                return cand
    return None


def test_target_without_memray_gets_the_pip_command_and_survives() -> None:
    python = _python_without_memray()
    if python is None:
        pytest.skip("no interpreter without memray (pyenv 3.13.0 or /usr/bin/python3: apt-get install python3)")
    plugin = default_registry().load("memray")
    with python_target(python, TWO_SITES) as target:
        checks = {c.name: c for c in plugin.preflight(Target.from_pid(target.pid))}
        assert not checks["memray"].ok
        assert checks["memray"].fix == f"{python} -m pip install memray==1.20.0"
        with pytest.raises(UnsupportedTarget) as err:
            plugin.start(Target.from_pid(target.pid), {}, Session())
        assert f"{python} -m pip install memray" in str(err.value)
        assert target.poll() is None

        # Past the preflight (as if the check had been skipped): memray's payload runs
        # `import memray` inside the target, fails, and the helper reports it cleanly.
        from workbench_builtins.memray.capture import MemrayCapture

        session = Session()
        handle = MemrayCapture(target.pid, session, interpreter=python, attach_timeout_s=WAIT_S)
        assert handle.join(WAIT_S)
        st = handle.status()
        assert isinstance(st.error, UnsupportedTarget), st.error
        assert "not importable" in str(st.error) and f"{python} -m pip install memray" in str(st.error)
        time.sleep(0.5)
        assert target.poll() is None  # the target survived the attempt
        assert _no_leftover_children() == []


def test_attach_hang_is_ended_by_the_watchdog_and_the_target_lives() -> None:
    from workbench_builtins.memray.capture import MemrayCapture

    with python_target(VENV_PYTHON, SLEEPS_THEN_ALLOCATES, "8") as target:
        session = Session()
        handle = MemrayCapture(target.pid, session, attach_timeout_s=2.0)
        assert handle.join(WAIT_S)
        st = handle.status()
        assert isinstance(st.error, CaptureError) and "did not finish" in str(st.error)
        assert st.error.fix
        assert _no_leftover_children() == []
        # gdb detached and removed its breakpoints: the target wakes, allocates, lives on
        assert target.stdout is not None
        assert target.stdout.readline().strip() == "woke"
        assert target.poll() is None


def test_target_exit_keeps_what_was_captured(tmp_path: Path) -> None:
    plugin = default_registry().load("memray")
    stop_file = tmp_path / "exit-now"
    with python_target(VENV_PYTHON, TWO_SITES, str(stop_file)) as target:
        session = Session()
        handle = plugin.start(Target.from_pid(target.pid), {"interval": 0.3}, session)
        key = f"memray:{target.pid}:heap"
        assert _wait_for(lambda: _has(session, key, "grow_fast") or not handle.status().running)
        stop_file.touch()  # the target exits on its own while memray is attached
        assert handle.join(WAIT_S)
        assert target.wait(WAIT_S) == 0
        st = handle.status()
        assert isinstance(st.error, TargetExited), st.error
        assert "kept" in str(st.error)
        prof = session.profiles[f"memray:{target.pid}:heap"]
        assert function_totals(prof, "grow_fast")[0] > 0
        assert _no_leftover_children() == []


def test_growth_tracker_orders_sites_by_growth() -> None:
    from workbench_builtins.memray.growth import GrowthTracker

    from workbench.model import Frame, FrameTable, Runtime

    table = FrameTable()
    main = table.intern(Frame("main", "app.py", 1, runtime=Runtime.PYTHON))
    a = table.intern(Frame("cache_put", "app.py", 10, runtime=Runtime.PYTHON))
    b = table.intern(Frame("log_line", "app.py", 20, runtime=Runtime.PYTHON))
    malloc = table.intern(Frame("malloc", "libc.so.6", 0, runtime=Runtime.NATIVE))
    g = GrowthTracker(top=5)
    assert g.update(0.0, [[main, a, malloc], [main, b]], [[1000, 1], [500, 1]], table) == []
    out = g.update(30.0, [[main, a, malloc], [main, b]], [[7000, 7], [600, 2]], table)
    assert [s.function for s in out] == ["cache_put", "log_line"]  # native leaf -> Python site
    assert out[0].delta_bytes == 6000 and out[0].bytes_per_min == 12000
    f = out[0].finding("memray:1", 30.0)
    assert not f.suspect and f.where == "app.py:10" and f.stack[-1].startswith("malloc")
    # a shrinking site is not reported
    assert g.update(60.0, [[main, a], [main, b]], [[100, 1], [700, 3]], table)[0].function == "log_line"


def test_cli_record_memray_native_to_a_session(tmp_path: Path) -> None:
    """`workbench record --pid PID --source memray --native -o OUT.wbs`, read back from the file."""
    from workbench.formats.wbs import load_session
    from workbench.model import Runtime

    workbench = str(Path(VENV_PYTHON).with_name("workbench"))
    out = tmp_path / "heap.wbs"
    with python_target(VENV_PYTHON, TWO_SITES) as target:
        cmd = [workbench, "record", "--pid", str(target.pid), "--source", "memray", "--native"]
        proc = subprocess.run(
            [*cmd, "--duration", "3", "-o", str(out)], capture_output=True, text=True, timeout=WAIT_S, check=False
        )
        assert proc.returncode == 0, proc.stderr
        assert target.poll() is None
    session = load_session(str(out))
    prof = session.profiles[f"memray:{target.pid}:heap"]
    assert {Runtime.NATIVE, Runtime.PYTHON} <= {f.runtime for f in prof.frames}
    assert function_totals(prof, "grow_fast")[0] > 0
    assert "memray.heap_bytes" in session.series
