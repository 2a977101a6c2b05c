"""Inspector plugin pieces that need no Node: loopback policy, target checks, Node leak-site naming."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from workbench_builtins.inspector import plugin
from workbench_builtins.inspector.discovery import _flag_ports, check_node, is_loopback, ws_url_from_url

from workbench.analysis.leak_sources import node_site
from workbench.analysis.leak_watch import LeakWatch
from workbench.capture.api import Target
from workbench.errors import PermissionDenied, TargetNotFound, UnsupportedTarget
from workbench.model import INUSE_OBJECTS, INUSE_SPACE, Frame, FrameTable, ProfileBatch, Runtime, Session
from workbench.model.profile import stackset_from_lists


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("127.3.2.1", True),
        ("10.0.0.2", False),
        ("example.com", False),
        ("0.0.0.0", False),
    ],
)
def test_loopback_only(host: str, ok: bool) -> None:
    assert is_loopback(host) is ok


@pytest.mark.parametrize("url", ["http://10.1.2.3:9229", "ws://example.com:9229/abc", "192.168.1.5:9229"])
def test_non_loopback_inspector_urls_are_refused(url: str) -> None:
    with pytest.raises(PermissionDenied, match="loopback"):
        ws_url_from_url(url)


def test_closed_port_is_target_not_found() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetNotFound):
        ws_url_from_url(f"http://127.0.0.1:{port}")


def test_inspect_flags() -> None:
    args = [
        "--inspect",
        "--inspect=127.0.0.1:9300",
        "--inspect-brk=9400",
        "--inspect=127.0.0.1:0",
        "--inspect-port=9500",
        "--x=1",
    ]
    assert _flag_ports(args) == [9229, 9300, 9400, 9500]


def test_non_node_pid_is_refused_and_never_signalled() -> None:
    # SIGUSR1 kills a process that does not handle it: consent must not reach a non-Node PID
    proc = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(UnsupportedTarget, match=r"not a Node\.js process"):
            plugin.start(Target.from_pid(proc.pid), {"yes": True}, Session())
        assert proc.poll() is None
        assert not plugin.preflight(Target.from_pid(proc.pid))[0].ok
    finally:
        proc.kill()
        proc.wait(5)
    with pytest.raises(UnsupportedTarget):
        check_node(os.getpid())


def test_gone_pid() -> None:
    proc = subprocess.Popen(["true"])
    proc.wait(5)
    with pytest.raises(TargetNotFound):
        check_node(proc.pid)


def _f(fn: str, file: str = "/srv/app.js", line: int = 1) -> Frame:
    return Frame(fn, file, line, "", Runtime.NODE)


def test_node_site_naming() -> None:
    stack = [_f("(root)", ""), _f("processTimers", "node:internal/timers"), _f("onConnect", line=10), _f("set", "")]
    assert node_site(stack) == ("objects", "onConnect", "onConnect (/srv/app.js:10)")
    anon = [_f("authenticate", line=5), _f("Promise", ""), _f("(anonymous)", line=6)]
    assert node_site(anon) == ("objects", "(anonymous) in authenticate", "(anonymous) (/srv/app.js:6)")
    lib = [_f("handler", line=3), _f("encode", "/srv/node_modules/msgpack/index.js", 40)]
    assert node_site(lib)[1] == "handler"
    ctor = [_f("registerClient", line=12), _f("ClientConnection", line=3)]
    assert node_site(ctor) == (
        "objects",
        "ClientConnection objects from registerClient",
        "registerClient (/srv/app.js:12)",
    )
    only_lib = [_f("encode", "/srv/node_modules/msgpack/index.js", 40)]
    assert node_site(only_lib)[1] == "encode"


def _heap_batch(t: float, sizes: dict[str, float]) -> ProfileBatch:
    table = FrameTable()
    stacks, values = [], []
    for i, (fn, size) in enumerate(sizes.items()):
        stacks.append([table.intern(_f("main")), table.intern(_f(fn, line=10 + i))])
        values.append((size, 1.0))
    ss = stackset_from_lists(table, stacks, np.array(values))
    return ProfileBatch(
        "inspector:42:heap", (INUSE_SPACE, INUSE_OBJECTS), ss, t, t, source="inspector", replace=True, runtime="node"
    )


def test_leak_watch_tracks_inspector_heap_snapshots() -> None:
    session = Session()
    watch = LeakWatch()
    session.add_listener(watch.on_batch)
    for i in range(30):
        cache = min(i, 8) * 200_000.0  # fills, then plateaus
        session.put(_heap_batch(1000.0 + i, {"registerClient": 100_000.0 + i * 150_000.0, "cacheResult": cache + 1}))
    suspects, checked = watch.judge(session)
    assert [f.name for f in suspects] == ["registerClient"]
    assert suspects[0].where == "registerClient (/srv/app.js:10)"
    assert "cacheResult" in [f.name for f in checked]
