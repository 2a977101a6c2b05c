"""The demo service: starts, serves, is profiled live, and leaves no process behind."""

from __future__ import annotations

import json
import time
import urllib.request

import psutil

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
