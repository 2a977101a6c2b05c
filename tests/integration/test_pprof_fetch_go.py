"""pprof-fetch against the real Go test service (tests/go/pprofsvc), built with the go toolchain.

One module-scoped capture of everything (profile="all") under a known load feeds most
assertions, so the suite pays for one CPU window; the rest start their own service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from workbench_builtins.pprof_fetch import plugin
from workbench_builtins.pprof_fetch.capture import PprofCapture
from workbench_builtins.pprof_fetch.errors import CorruptProfile, ProfilerBusy
from workbench_builtins.pprof_fetch.saturation import FIX_TEXT

from tests.helpers.gosvc import GoService, gosvc, pprofsvc_exe, start_pprofsvc  # noqa: F401 (fixtures)
from workbench.capture.api import Target
from workbench.model import Profile, Session

pytestmark = [pytest.mark.go, pytest.mark.slow]

MAX_OPEN = 6


@dataclass
class Recorded:
    svc: GoService
    session: Session
    handle: PprofCapture
    spawned_at: float

    def key(self, kind: str) -> str:
        return f"pprof:{self.svc.url}:{kind}"

    def profile(self, kind: str) -> Profile:
        return self.session.profiles[self.key(kind)]


@pytest.fixture(scope="module")
def recorded(pprofsvc_exe: Path) -> Iterator[Recorded]:  # noqa: F811
    svc = start_pprofsvc(pprofsvc_exe, "-max-open", str(MAX_OPEN))
    try:
        svc.get("/burn?ms=5000")
        # 6 connections held 60 ms serve 100 queries/s; 150/s keeps callers waiting
        svc.get("/dbload?rps=150&hold_ms=60&seconds=6")
        session = Session()
        opts = {
            "profile": "all",
            "duration": 4.5,
            "cpu_seconds": 4,
            "interval": 0.4,
            "profile_interval": 1.5,
        }
        handle = plugin.start(Target.from_url(svc.url), opts, session)
        time.sleep(0.6)
        svc.get("/alloc?kb=8192")
        svc.get("/gc")
        time.sleep(0.6)
        spawned_at = time.time()
        svc.get("/spawn?n=300")
        svc.get("/gc")
        assert handle.join(30), "capture did not end at its duration"
        handle.stop()
        yield Recorded(svc, session, handle, spawned_at)
    finally:
        svc.stop()


def stack_functions(p: Profile) -> list[tuple[list[str], np.ndarray]]:
    ss = p.to_stackset()
    return [([p.frames[int(f)].function for f in ss.stack(i)], ss.values[i]) for i in range(len(ss))]


def test_hotspot_dominates_the_cpu_profile(recorded: Recorded) -> None:
    p = recorded.profile("cpu")
    assert [st.type for st in p.sample_types] == ["samples", "cpu"]
    total = p.totals()[0]
    hot = sum(v[0] for fns, v in stack_functions(p) if "main.hotspotBurn" in fns)
    assert total > 50
    assert hot / total > 0.6, f"hotspot only {hot}/{total} samples"
    assert recorded.handle.status().error is None
    # each CPU window is a time slice inside the capture
    assert p.time_start is not None and p.time_end is not None
    assert recorded.handle.started - 0.1 <= p.time_start < p.time_end <= time.time()


def test_pool_series_carry_the_configured_max_open(recorded: Recorded) -> None:
    s = recorded.session.series
    assert s["pool.db.max_open"].last() == MAX_OPEN
    assert s["pool.services.orders.replica.max_open"].last() == 7  # the nested pool
    assert s["pool.db.in_use"].maxs.max() == MAX_OPEN
    assert s["pool.db.wait_count"].values[-1] > s["pool.db.wait_count"].values[0]
    assert s["pool.db.wait_s"].unit == "s"


def test_saturated_pool_is_a_finding(recorded: Recorded) -> None:
    found = [f for f in recorded.session.findings if f.kind == "pool" and f.name == "db"]
    assert found, [f.contract_dict() for f in recorded.session.findings]
    f = found[-1]
    assert FIX_TEXT in f.evidence and f"of {MAX_OPEN} connections in use" in f.evidence
    assert f.growth_per_min > 0
    assert not [f for f in recorded.session.findings if f.name == "services.orders.replica"]


def test_goroutine_series_rises_when_the_service_spawns(recorded: Recorded) -> None:
    s = recorded.session.series["go.goroutines"]
    before = s.values[s.times < recorded.spawned_at]
    after = s.values[s.times > recorded.spawned_at + 0.5]
    assert len(before) and len(after)
    assert after.max() - before.min() >= 250
    g = recorded.profile("goroutine")
    assert [st.type for st in g.sample_types] == ["goroutine"]
    parked = sum(v[0] for fns, v in stack_functions(g) if any(f.startswith("main.main.func") for f in fns))
    assert parked >= 300  # the parked goroutines are in at least one snapshot


def test_gc_pauses_one_point_per_gc(recorded: Recorded) -> None:
    s = recorded.session.series
    count = s["go.gc.count"].values
    pauses = s["go.gc.pause_ns"]
    assert count[-1] - count[0] >= 2  # two forced GCs at least
    assert pauses.total_points == count[-1] - count[0]  # no double counting across polls
    assert (pauses.values > 0).all()
    assert s["go.heap_inuse_bytes"].last() > 0 and s["go.heap_objects"].last() > 0
    assert 0 <= s["go.gc.cpu_fraction"].last() < 1


def test_heap_snapshot_and_alloc_deltas(recorded: Recorded) -> None:
    heap = recorded.profile("heap")
    assert [st.type for st in heap.sample_types] == ["inuse_space", "inuse_objects"]
    assert len(heap.slices) == 1  # replaced by each fetch
    assert heap.totals()[0] >= 8 * 1024 * 1024  # the retained /alloc buffer
    allocs = recorded.profile("allocs")
    assert [st.type for st in allocs.sample_types] == ["alloc_space", "alloc_objects"]
    assert len(allocs.slices) >= 2
    base = allocs.slices[0]
    assert base.t0 == base.t1  # the baseline
    later = allocs.cut(base.t1 + 1e-6, time.time() + 1)
    assert later.totals()[0] >= 8 * 1024 * 1024  # the allocation made during the capture


def test_mutex_and_block_are_explained(recorded: Recorded) -> None:
    for kind in ("mutex", "block"):
        p = recorded.profile(kind)
        assert "stay empty unless" in p.meta["note"]
    assert "SetMutexProfileFraction" in recorded.handle.status().message


def test_every_series_name_follows_design(recorded: Recorded) -> None:
    names = set(recorded.session.series_names())
    assert {"go.goroutines", "go.heap_inuse_bytes", "go.gc.count", "go.gc.pause_ns"} <= names
    for n in names:
        assert n.startswith(("go.", "pool.", "process.")), n


def test_a_second_cpu_profile_is_refused_clearly(gosvc: GoService) -> None:  # noqa: F811
    def other_client() -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(gosvc.url + "/debug/pprof/profile?seconds=3", timeout=10) as r:
            r.read()

    t = threading.Thread(target=other_client)
    t.start()
    try:
        time.sleep(0.3)
        h = plugin.start(Target.from_url(gosvc.url), {"profile": "cpu", "duration": 2, "cpu_seconds": 2}, Session())
        assert h.join(20)
        h.stop()
    finally:
        t.join(10)
    st = h.status()
    assert isinstance(st.error, ProfilerBusy)
    assert "already taking a CPU profile" in str(st.error) and "one CPU profile at a time" in str(st.error)


def test_two_targets_in_one_session_do_not_collide(pprofsvc_exe: Path) -> None:  # noqa: F811
    a = start_pprofsvc(pprofsvc_exe, "-max-open", "3")
    b = start_pprofsvc(pprofsvc_exe, "-max-open", "9")
    try:
        session = Session()
        opts = {"profile": "goroutine", "duration": 1.2, "interval": 0.3, "profile_interval": 0.5}
        ha = plugin.start(Target.from_url(a.url), {**opts, "label": "gateway"}, session)
        hb = plugin.start(Target.from_url(b.url), {**opts, "label": "orders"}, session)
        assert ha.join(15) and hb.join(15)
        ha.stop()
        hb.stop()
    finally:
        a.stop()
        b.stop()
    assert session.series["pool.db.max_open@gateway"].last() == 3
    assert session.series["pool.db.max_open@orders"].last() == 9
    assert "go.goroutines@gateway" in session.series and "go.goroutines@orders" in session.series
    assert {f"pprof:{a.url}:goroutine", f"pprof:{b.url}:goroutine"} <= set(session.profiles)


def test_truncated_real_profile_is_a_clear_error(gosvc: GoService) -> None:  # noqa: F811
    from workbench_builtins.pprof_fetch.client import HttpClient
    from workbench_builtins.pprof_fetch.profiles import decode_profile

    from tests.unit.test_pprof_fetch_client import Stub, reply

    real = HttpClient(gosvc.url).get("/debug/pprof/heap")
    assert decode_profile(real, "heap").totals().shape == (4,)
    stub = Stub({"/debug/pprof/heap": reply(200, real.body[: len(real.body) // 2], "application/octet-stream")})
    try:
        with pytest.raises(CorruptProfile, match="heap profile does not decode"):
            decode_profile(HttpClient(stub.url).get("/debug/pprof/heap"), "heap")
    finally:
        stub.close()


def test_service_dying_mid_capture_ends_it_with_what_was_captured(
    gosvc: GoService,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workbench_builtins.pprof_fetch import capture as capture_mod

    from workbench.errors import TargetExited

    monkeypatch.setattr(capture_mod, "GIVE_UP_AFTER_S", 1.0)
    session = Session()
    h = plugin.start(
        Target.from_url(gosvc.url), {"profile": "goroutine", "interval": 0.2, "profile_interval": 0.3}, session
    )
    time.sleep(0.8)
    gosvc.stop()
    assert h.join(20), "capture kept running against a dead service"
    h.stop()
    st = h.status()
    assert isinstance(st.error, TargetExited) and "stopped answering" in str(st.error)
    assert "go.goroutines" in session.series
    assert f"pprof:{gosvc.url}:goroutine" in session.profiles


def test_mutex_and_block_profiles_fill_when_the_rates_are_set(pprofsvc_exe: Path) -> None:  # noqa: F811
    svc = start_pprofsvc(pprofsvc_exe, "-mutex-fraction", "1", "-block-rate", "1")
    try:
        session = Session()
        opts = {"profile": "all", "duration": 2.5, "cpu_seconds": 2, "profile_interval": 0.5}
        h = plugin.start(Target.from_url(svc.url), opts, session)
        time.sleep(0.3)
        svc.get("/contend?ms=800&workers=8")  # returns when the contention is over
        assert h.join(30)
        h.stop()
    finally:
        svc.stop()
    assert h.status().error is None
    for kind, types in (("mutex", ["contentions", "delay"]), ("block", ["contentions", "delay"])):
        p = session.profiles[f"pprof:{svc.url}:{kind}"]
        assert [st.type for st in p.sample_types] == types
        base = p.slices[0]
        grown = p.cut(base.t1 + 1e-6, time.time() + 1)  # growth between fetches, baseline excluded
        assert grown.totals()[0] > 0, kind
        fns = {p.frames[int(f)].function for f in grown.to_stackset().frames}
        assert any(fn.startswith("main.main.func") for fn in fns), (kind, sorted(fns)[:10])


def test_locate_finds_a_go_pids_own_pprof_listener(gosvc: GoService) -> None:  # noqa: F811
    assert plugin.locate(Target.from_pid(gosvc.pid), "go") == Target.from_url(gosvc.url)
    assert plugin.locate(Target.from_pid(gosvc.pid), "python") is None  # only a Go PID has one of its own
    assert plugin.locate(Target.from_url(gosvc.url), "") == Target.from_url(gosvc.url)
    # started by PID: the capture reads the listener it found, keyed by its URL like a --url capture
    session = Session()
    h = plugin.start(Target.from_pid(gosvc.pid), {"profile": "goroutine", "duration": 1.0}, session)
    assert h.join(20)
    h.stop()
    assert f"pprof:{gosvc.url}:goroutine" in session.profiles
    assert all(e.target == f"url:{gosvc.url}" for e in session.events)


def test_locate_probes_a_wildcard_listener_on_loopback(pprofsvc_exe: Path) -> None:  # noqa: F811
    svc = start_pprofsvc(pprofsvc_exe, "-addr", "0.0.0.0:0")
    try:
        port = svc.url.rsplit(":", 1)[1]
        assert plugin.locate(Target.from_pid(svc.pid), "go") == Target.from_url(f"http://127.0.0.1:{port}")
    finally:
        svc.stop()


def test_locate_finds_nothing_where_no_listener_serves_pprof() -> None:
    # a process listening on a port that answers 404 for /debug/pprof/, and one not listening at all
    code = (
        "import http.server, sys\n"
        "srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.BaseHTTPRequestHandler)\n"
        "print(srv.server_address[1], flush=True)\n"
        "srv.serve_forever()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip().isdigit()
        target = Target.from_pid(proc.pid)
        assert plugin.locate(target, "go") is None
        checks = plugin.preflight(target)
        assert not checks[0].ok and "/debug/pprof/" in checks[0].message and "net/http/pprof" in checks[0].fix
    finally:
        proc.kill()
        proc.wait(5)
    assert plugin.locate(Target.from_pid(os.getpid()), "go") is None
