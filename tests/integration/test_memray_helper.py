"""The helper's pure parts: snapshot aggregation, caps, error classification (no target needed)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from workbench_builtins.memray import helper


@dataclass
class Rec:
    """The AllocationRecord attributes the helper reads (memray/_memray.pyi)."""

    stack_id: int
    size: int
    n_allocations: int
    trace: list[tuple[str, str, int]]
    native_stack_id: int = 0
    native_segment_generation: int = 0

    def stack_trace(self, max_stacks: int | None = None) -> list[tuple[str, str, int]]:
        return self.trace[:max_stacks]

    def hybrid_stack_trace(self, max_stacks: int | None = None) -> list[tuple[str, str, int]]:
        return self.trace[:max_stacks]


class Reader:
    def __init__(self, records: list[Rec]) -> None:
        self.records = records

    def get_current_snapshot(self, *, merge_threads: bool) -> list[Rec]:
        assert merge_threads
        return self.records


def _args(**kw: object) -> argparse.Namespace:
    base = {"native": False, "max_depth": 64, "max_stacks": 100}
    base.update(kw)
    return argparse.Namespace(**base)


def test_snapshot_aggregates_by_stack_root_first_and_sends_new_frames_once() -> None:
    leaf_a = [("grow", "app.py", 3), ("main", "app.py", 9)]  # memray gives leaf first
    recs = [Rec(1, 1000, 10, leaf_a), Rec(2, 500, 5, leaf_a), Rec(3, 70, 1, [("other", "app.py", 5)])]
    frames = helper.FrameInterner()
    cache: dict[object, tuple[int, ...]] = {}
    msg = helper.snapshot(Reader(recs), frames, cache, _args())
    names = [f[0] for f in msg["frames"]]
    assert names == ["main", "grow", "other"]
    assert msg["stacks"][0] == [0, 1] and msg["values"][0] == [1500, 15]
    assert msg["heap_bytes"] == 1570 and msg["objects"] == 16 and msg["records"] == 3
    again = helper.snapshot(Reader(recs), frames, cache, _args())
    assert again["frames"] == [] and again["stacks"] == msg["stacks"]


def test_snapshot_caps_stacks_and_depth_visibly() -> None:
    recs = [Rec(i, 1000 - i, 1, [(f"f{i}", "app.py", i)]) for i in range(10)]
    recs.append(Rec(99, 5, 1, [(f"deep{d}", "app.py", d) for d in range(200)]))
    frames = helper.FrameInterner()
    msg = helper.snapshot(Reader(recs), frames, {}, _args(max_stacks=3, max_depth=50))
    assert len(msg["stacks"]) == 4 and msg["folded_stacks"] == 8
    table = {i: f[0] for i, f in enumerate(msg["frames"])}
    other = msg["stacks"][-1]
    assert [table[i] for i in other] == ["[other stacks]"]
    assert msg["values"][-1][0] == sum(1000 - i for i in range(3, 10)) + 5
    assert msg["heap_bytes"] == sum(r.size for r in recs)
    deep = helper.snapshot(Reader(recs[-1:]), frames, {}, _args(max_depth=50))
    table = {i: f[0] for i, f in enumerate(msg["frames"] + deep["frames"])}
    stack = deep["stacks"][0]
    assert table[stack[0]] == "[stack truncated]" and len(stack) == 51
    assert table[stack[-1]] == "deep0"  # the allocation site is kept


def test_frame_table_is_capped(monkeypatch) -> None:
    monkeypatch.setattr(helper, "MAX_FRAMES", 3)
    frames = helper.FrameInterner()
    ids = [frames.intern((f"f{i}", "a.py", i, False)) for i in range(10)]
    assert ids == [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]
    assert frames.take_new()[3][0] == "[frame table full]"


def test_errors_are_classified_with_fixes(monkeypatch) -> None:
    kind, fix = helper._classify("ModuleNotFoundError: No module named 'memray'")
    assert kind == "memray_missing" and "pip install memray" in fix
    kind, fix = helper._classify("gdb not found on PATH")
    assert kind == "gdb_missing" and "apt-get install gdb" in fix
    # gdb sessions as memray's script reports them, read by _gdb_error, then classified
    gone = helper._gdb_error("ptrace: No such process.", 1, 2**22 + 7)
    assert helper._classify(gone or "")[0] == "target_not_found"
    not_py = helper._gdb_error("MEMRAY: Attached to process.\nMEMRAY: Checking if process is Python 3.7+.\n", 0, 1)
    assert helper._classify(not_py or "")[0] == "unsupported"
    denied = helper._gdb_error("MEMRAY: Attached to process.\nx.so: cannot open shared object file\n", 1, 1)
    assert helper._classify(denied or "")[0] == "permission"
    assert helper._gdb_error('MEMRAY: Attached to process.\n$1 = "SUCCESS"\n', 0, 1) is None


def test_gdb_missing_says_which_package(tmp_path, monkeypatch) -> None:
    """Real helper and real preflight, run with a PATH that has no gdb."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from workbench_builtins.memray import plugin

    from workbench.capture import Target

    env = {**os.environ, "PATH": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(Path(helper.__file__)), "--pid", str(os.getpid())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.PIPE,
        check=False,
    )
    msg = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 2 and msg["kind"] == "gdb_missing" and "apt-get install gdb" in msg["fix"]
    proc = subprocess.run(
        [sys.executable, str(Path(helper.__file__)), "--pid", str(os.getpid()), "--debugger", "lldb"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.PIPE,
        check=False,
    )
    msg = json.loads(proc.stdout.splitlines()[0])
    assert proc.returncode == 2 and msg["kind"] == "lldb_missing" and "apt-get install lldb" in msg["fix"]

    # neither debugger on PATH: the preflight names both and the fix
    monkeypatch.setenv("PATH", str(tmp_path))
    checks = {c.name: c for c in plugin.preflight(Target.from_pid(os.getpid()))}
    assert not checks["debugger"].ok
    assert "gdb is not installed" in checks["debugger"].message
    assert "lldb is not installed" in checks["debugger"].message
    assert "apt-get install lldb" in checks["debugger"].fix and "gdb >= 14" in checks["debugger"].fix


def test_gdb_script_is_memrays_without_its_two_listings(tmp_path) -> None:
    from pathlib import Path

    files = helper._memray_files()
    assert files is not None, "memray's injector and _attach.gdb are found without importing memray"
    lib, script = files
    assert lib.endswith(".so") and script.endswith("_attach.gdb")
    original = Path(script).read_text(encoding="utf-8").splitlines()
    trimmed = Path(helper._trimmed_script(script, str(tmp_path))).read_text(encoding="utf-8").splitlines()
    dropped = [ln.strip() for ln in original if ln not in trimmed]
    assert sorted(dropped) == ["bt", "info sharedlibrary"]
    assert [ln for ln in original if ln.strip() not in ("bt", "info sharedlibrary")] == trimmed


def test_gdb_output_is_read_like_memray_does() -> None:
    import os

    assert helper._gdb_error('$1 = "MEMRAY: Attached to process."\n$12 = "SUCCESS"\n', 0, os.getpid()) is None
    gone = helper._gdb_error("ptrace: No such process.\n", 1, 2**22 + 12345)
    assert gone is not None and "does not exist" in gone
    old = helper._gdb_error(
        '$1 = "MEMRAY: Attached to process."\n$2 = "MEMRAY: Checking if process is Python 3.7+."\n', 1, 1
    )
    assert old is not None and helper._classify(old)[0] == "unsupported"


def test_listening_sees_a_listening_port_of_the_process() -> None:
    import os
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]
        assert helper._listening(os.getpid(), port) is False  # bound, not listening
        srv.listen(1)
        assert helper._listening(os.getpid(), port) is True


def test_import_prefix_restores_the_switch_interval() -> None:
    import sys

    before = sys.getswitchinterval()
    ns: dict[str, object] = {}
    exec(compile(helper.IMPORT_PREFIX, "_memray_attach_hook.py", "exec"), ns)
    assert sys.getswitchinterval() == before
    assert "memray" in ns and not [k for k in ns if k.startswith("_wb")]
    missing = helper.IMPORT_PREFIX.replace("import memray", "import no_such_module_for_this_test")
    try:
        exec(compile(missing, "_memray_attach_hook.py", "exec"), {})
    except ModuleNotFoundError as exc:
        assert "no_such_module_for_this_test" in repr(exc)
    else:
        raise AssertionError("the import error must reach memray's side channel")
    assert sys.getswitchinterval() == before
