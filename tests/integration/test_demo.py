"""The demo service: starts, serves, is profiled live, and leaves no process behind."""

from __future__ import annotations

import json
import time
import urllib.request

import psutil
import pytest

from workbench.capture import Target, default_registry
from workbench.demo.launch import start_demo
from workbench.model import Session


def test_demo_profiled_live_then_stopped_without_orphans() -> None:
    handle = start_demo()
    session = Session()
    captures = []
    try:
        assert handle.url.startswith("http://127.0.0.1:")
        for name in ("pyspy", "procstats"):
            captures.append(default_registry().load(name).start(Target.from_pid(handle.pid), {}, session))
        deadline = time.monotonic() + 60
        key = f"pyspy:{handle.pid}:cpu"
        while key not in session.profiles or "process.rss_bytes" not in session.series:
            assert time.monotonic() < deadline, "no live data from the demo"
            time.sleep(0.1)
        with urllib.request.urlopen(handle.url + "/stats", timeout=10) as resp:
            stats = json.load(resp)
        assert stats["requests"] > 0 and stats["sessions"] > 0
        children = psutil.Process().children(recursive=True)
        assert any(c.pid == handle.pid for c in children)
        assert any(c.name() == "py-spy" for c in children)
        # the load generator is a process of its own: its samples never crowd the hotspot
        assert any("--load-for" in c.cmdline() for c in psutil.Process(handle.pid).children())
    finally:
        for c in captures:
            c.stop()
        handle.stop()
    survivors = [c for c in psutil.Process().children(recursive=True) if c.is_running() and c.status() != "zombie"]
    assert survivors == [], survivors
    assert not psutil.pid_exists(handle.pid)
    handle.stop()  # idempotent
    functions = {f.function for f in session.profiles[f"pyspy:{handle.pid}:cpu"].frames}
    assert any(f.endswith(("serve_forever", "render_report", "score_row")) for f in functions), functions
    assert not any("LoadGenerator" in f for f in functions), functions


CRASHING_WORKBENCH = """
import sys, time
from workbench.capture import Target, default_registry
from workbench.demo.launch import start_demo
from workbench.model import Session

pid = int(sys.argv[1]) if len(sys.argv) > 1 else start_demo().pid
session = Session()
for name in ("pyspy", "procstats"):
    default_registry().load(name).start(Target.from_pid(pid), {}, session)
while not session.profile_keys():
    time.sleep(0.05)
print(pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("target", ["demo", "foreign"])
def test_killed_workbench_leaves_no_orphans(target: str) -> None:
    """SIGKILL skips every cleanup path: the demo's parent watch and py-spy's -d must end them.

    ``demo``: the workbench started the demo, which must notice its parent is gone.
    ``foreign``: a target the workbench did not start (it lives on); py-spy must stop by itself.
    """
    import subprocess
    import sys

    from tests.helpers.targets import HOT, start_target, stop_target

    foreign = start_target(HOT) if target == "foreign" else None
    args = [str(foreign.pid)] if foreign is not None else []
    wb = subprocess.Popen([sys.executable, "-c", CRASHING_WORKBENCH, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert wb.stdout is not None
        pid = int(wb.stdout.readline())
        descendants = psutil.Process(wb.pid).children(recursive=True)
        assert any(p.name() == "py-spy" for p in descendants)
        if foreign is None:
            assert any(p.pid == pid for p in descendants)
    finally:
        wb.kill()
        wb.wait()
        if wb.stdout is not None:
            wb.stdout.close()

    def alive(p: psutil.Process) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    try:
        deadline = time.monotonic() + 30
        while any(alive(p) for p in descendants):
            assert time.monotonic() < deadline, [p for p in descendants if alive(p)]
            time.sleep(0.2)
        if foreign is not None:
            assert foreign.poll() is None  # the target itself was left alone
    finally:
        if foreign is not None:
            stop_target(foreign)
