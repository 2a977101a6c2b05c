"""py-spy raw output parsing, ptrace diagnosis and py-spy error mapping (no processes)."""

from __future__ import annotations

from workbench_builtins.pyspy.checks import PtraceFacts, diagnose_ptrace, error_from_pyspy
from workbench_builtins.pyspy.raw import MAX_FRAMES_PER_STACK, parse_raw

from tests.helpers.targets import free_pid
from workbench.errors import CaptureError, PermissionDenied, TargetNotFound, UnsupportedTarget
from workbench.model import TRUNCATED_STACK, Runtime

RAW = b"""thread (101): MainThread;<module> (/app/main.py:1);serve (/app/main.py:10);hot (/app/main.py:20) 30
thread (101): MainThread;<module> (/app/main.py:1);serve (/app/main.py:10) 5
thread (102): worker;Thread.run (/usr/lib/python3.12/threading.py:999);work (/app/w.py:3) 12
thread (102): worker;Thread.run (/usr/lib/python3.12/threading.py:999);0x7f00 (libc.so.6) 2
thread (103): broken record without a count
"""


def _functions(chunk):  # type: ignore[no-untyped-def]
    t = chunk.stacks.table
    return [[t[int(f)].function for f in chunk.stacks.stack(i)] for i in range(len(chunk.stacks))]


def test_parse_raw_strips_thread_frames_and_counts_ticks() -> None:
    chunk = parse_raw(RAW.splitlines(), period_ns=1e7, keep_threads=False)
    assert chunk.samples == 49 and chunk.skipped_lines == 1
    assert chunk.ticks == 35  # the busiest thread was seen in 35 intervals
    assert chunk.threads == {"MainThread (101)": 35, "worker (102)": 14}
    stacks = _functions(chunk)
    assert ["<module>", "serve", "hot"] in stacks
    assert all(not s[0].startswith("thread") for s in stacks)
    assert chunk.stacks.values[:, 1].sum() == 49 * 1e7
    t = chunk.stacks.table
    frames = {t[i].function: t[i] for i in range(len(t))}
    assert frames["hot"].file == "/app/main.py" and frames["hot"].line == 20
    assert frames["hot"].runtime == Runtime.PYTHON
    assert frames["0x7f00"].runtime == Runtime.NATIVE


def test_parse_raw_keeps_threads_and_filters() -> None:
    chunk = parse_raw(RAW.splitlines(), period_ns=1e7, keep_threads=True, thread_filter="WORK")
    stacks = _functions(chunk)
    assert chunk.samples == 14
    assert all(s[0] == "thread (102): worker" for s in stacks)


def test_parse_raw_caps_depth_and_survives_markup() -> None:
    deep = "thread (1): T;" + ";".join(f"f{i} (a.py:{i})" for i in range(MAX_FRAMES_PER_STACK + 50))
    evil = 'thread (1): T;<script>alert(1)</script> (x.py:1);"quoted" (y.py:2)'
    lines = [f"{deep} 3".encode(), f"{evil} 1".encode(), b"thread (1): T;\xff\xfe bad 1"]
    chunk = parse_raw(lines, period_ns=1.0, keep_threads=False)
    stacks = _functions(chunk)
    longest = max(stacks, key=len)
    assert len(longest) == MAX_FRAMES_PER_STACK - 1  # the cap counts the (dropped) thread frame
    assert longest[-1] == TRUNCATED_STACK.function
    assert ["<script>alert(1)</script>", '"quoted"'] in stacks
    assert chunk.samples == 5


def test_subprocess_cmdline_with_newlines_and_semicolons_stays_one_frame() -> None:
    raw = (
        b'process 7:"python -c import os; print(1)\nwhile True:\n    x = 5";thread (8): MainThread;'
        b"<module> (<string>:3) 4\n"
        b'process 7:"python app.py";process 9:"python -c a;\nb";thread (9): MainThread;work (w.py:1) 2\n'
    )
    chunk = parse_raw(raw.splitlines(), period_ns=1.0, keep_threads=False)
    assert chunk.samples == 6 and chunk.skipped_lines == 0
    stacks = _functions(chunk)
    assert ['process 7:"python -c import os; print(1) while True: x = 5"', "<module>"] in stacks
    assert ['process 7:"python app.py"', 'process 9:"python -c a; b"', "work"] in stacks


def test_ptrace_diagnosis_names_the_cause() -> None:
    cap = 1 << 19
    assert diagnose_ptrace(PtraceFacts(0, cap, 1, 1000, False)) is None
    assert diagnose_ptrace(PtraceFacts(1000, 0, 0, 1000, False)) is None
    why, fix = diagnose_ptrace(PtraceFacts(0, 0, 1, 1000, True)) or ("", "")
    assert "CAP_SYS_PTRACE" in why and "container" in why and "SYS_PTRACE" in fix
    # root without the capability may still trace its own uid when yama is absent
    assert diagnose_ptrace(PtraceFacts(0, 0, None, 0, False)) is None
    why, _ = diagnose_ptrace(PtraceFacts(0, 0, 1, 0, False)) or ("", "")
    assert "CAP_SYS_PTRACE" in why and "ptrace_scope=1" in why
    why, fix = diagnose_ptrace(PtraceFacts(1000, 0, 1, 1000, False)) or ("", "")
    assert "ptrace_scope=1" in why and "sudo" in fix
    why, _ = diagnose_ptrace(PtraceFacts(1000, 0, 0, 0, False)) or ("", "")
    assert "not root" in why and "uid 0" in why
    why, _ = diagnose_ptrace(PtraceFacts(1000, 0, 2, 1000, False)) or ("", "")
    assert "ptrace_scope=2" in why
    why, _ = diagnose_ptrace(PtraceFacts(0, cap, 3, 0, False)) or ("", "")
    assert "ptrace_scope=3" in why


def test_pyspy_errors_map_to_typed_errors() -> None:
    gone = free_pid()
    e = error_from_pyspy("Error: Unsupported version of Python: 3.15.0\n", gone, 1)
    assert isinstance(e, UnsupportedTarget) and "3.15.0" in str(e) and e.fix
    e = error_from_pyspy("Error: Failed to get process executable name. Check that the process is running.", gone, 1)
    assert isinstance(e, TargetNotFound)
    e = error_from_pyspy("Permission Denied: Try running again with elevated permissions", gone, 1)
    assert isinstance(e, PermissionDenied) and e.fix
    e = error_from_pyspy("Error: something new\nStack backtrace:\n 0: x", gone, 1)
    assert type(e) in (CaptureError, TargetNotFound)
