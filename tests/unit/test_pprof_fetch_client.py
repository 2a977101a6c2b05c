"""The HTTP side against small local stub servers: every failure is a typed error with a fix.

The stubs stand in for misbehaving services (login pages, 404/500, slow, huge, cut-off
answers); the real Go service is exercised in tests/integration/test_pprof_fetch_go.py.
"""

from __future__ import annotations

import gzip
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from workbench_builtins.pprof_fetch import plugin
from workbench_builtins.pprof_fetch.client import Backoff, HttpClient, normalize_base_url
from workbench_builtins.pprof_fetch.discovery import discover, parse_pprof_index
from workbench_builtins.pprof_fetch.errors import (
    CorruptProfile,
    NotAProfile,
    ProfileNotServed,
    ProfilerBusy,
    ResponseTooLarge,
    ServiceHttpError,
    ServiceSlow,
    ServiceUnreachable,
    TruncatedResponse,
)
from workbench_builtins.pprof_fetch.profiles import decode_profile

from tests.helpers.http_stubs import INDEX, LOGIN, Handler, Stub, reply, slow
from workbench.capture.api import Target
from workbench.errors import CaptureError, FormatError, LimitExceeded, TargetNotFound, UnsupportedTarget
from workbench.model import Session


def endless(req: http.server.BaseHTTPRequestHandler) -> None:
    """A body with no length that never ends (until the client hangs up)."""
    req.send_response(200)
    req.send_header("Content-Type", "application/octet-stream")
    req.end_headers()
    chunk = b"\0" * 65536
    try:
        for _ in range(100_000):  # ~6 GB if nobody stopped reading
            req.wfile.write(chunk)
    except OSError:
        pass


def cut_short(req: http.server.BaseHTTPRequestHandler) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "application/octet-stream")
    req.send_header("Content-Length", "100000")
    req.end_headers()
    req.wfile.write(b"\x1f\x8b" + b"x" * 1000)
    req.close_connection = True


@pytest.fixture
def stub() -> Iterator[Callable[[dict[str, Handler]], Stub]]:
    made: list[Stub] = []

    def make(routes: dict[str, Handler]) -> Stub:
        s = Stub(routes)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and "fix:" in text
    return text


# ---------------------------------------------------------------------- client


def test_base_url_is_normalised():
    assert normalize_base_url("127.0.0.1:6060") == "http://127.0.0.1:6060"
    assert normalize_base_url("http://h:1/debug/pprof/") == "http://h:1"
    assert normalize_base_url("http://h:1/svc/metrics") == "http://h:1/svc"
    with pytest.raises(TargetNotFound):
        normalize_base_url("ftp://h/")


def test_refused_is_unreachable_with_fix():
    c = HttpClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(ServiceUnreachable, match="connection refused") as ei:
        c.get("/debug/pprof/")
    assert isinstance(ei.value, TargetNotFound)
    one_line(ei.value)


def test_slow_answer_times_out_as_service_slow(stub):
    s = stub({"/slow": slow(3.0, reply(200, "late"))})
    c = HttpClient(s.url)
    t0 = time.monotonic()
    with pytest.raises(ServiceSlow, match="no complete answer within") as ei:
        c.get("/slow", timeout_s=0.5)
    assert time.monotonic() - t0 < 2.5
    assert isinstance(ei.value, CaptureError)
    one_line(ei.value)


def test_http_statuses_map_to_typed_errors(stub):
    s = stub(
        {
            "/busy": reply(500, "Could not enable CPU profiling: cpu profiling already in use\n"),
            "/boom": reply(500, "panic: nil map\n"),
            "/auth": reply(401, "no"),
        }
    )
    c = HttpClient(s.url)
    with pytest.raises(ProfilerBusy, match="already taking a CPU profile") as ei:
        c.get("/busy")
    assert "one CPU profile at a time" in ei.value.fix
    with pytest.raises(ServiceHttpError, match="HTTP 500: panic: nil map"):
        c.get("/boom")
    with pytest.raises(ServiceHttpError, match="authentication"):
        c.get("/auth")
    with pytest.raises(ProfileNotServed, match="404") as ei2:
        c.get("/debug/pprof/mutex", what="mutex profile")
    assert isinstance(ei2.value, UnsupportedTarget) and "net/http/pprof" in ei2.value.fix


def test_size_cap_stops_reading_a_huge_body(stub):
    s = stub({"/huge": endless, "/announced": reply(200, b"x" * 3_000_000)})
    c = HttpClient(s.url)
    with pytest.raises(ResponseTooLarge, match="over the 1 MiB cap") as ei:
        c.get("/huge", max_bytes=1024 * 1024)
    assert isinstance(ei.value, LimitExceeded)
    assert c.bytes_read < 2 * 1024 * 1024  # read stopped at the cap, not at the end of the stream
    with pytest.raises(ResponseTooLarge, match="announces 3000000 bytes"):
        c.get("/announced", max_bytes=1024 * 1024)


def test_truncated_body_is_reported(stub):
    s = stub({"/cut": cut_short})
    with pytest.raises((TruncatedResponse, ServiceUnreachable)) as ei:
        HttpClient(s.url).get("/cut", what="heap profile")
    one_line(ei.value)


def test_redirect_to_another_host_is_refused(stub):
    s = stub({"/debug/pprof/heap": reply(302, "", headers={"Location": "http://127.0.0.2:1/login"})})
    with pytest.raises(NotAProfile, match="redirects to another host"):
        HttpClient(s.url).get("/debug/pprof/heap")


def test_backoff_stretches_and_relaxes():
    b = Backoff(base_s=1.0, max_s=8.0, slow_s=2.0)
    b.failure()
    b.failure()
    assert b.delay() == 4.0 and b.backing_off
    for _ in range(5):
        b.failure()
    assert b.delay() == 8.0
    b.success(0.1)
    assert b.delay() == 4.0
    b.success(5.0)  # slow answer: wait at least as long as it took
    assert b.delay() == 8.0
    for _ in range(5):
        b.success(0.1)
    assert b.delay() == 1.0 and not b.backing_off


# ------------------------------------------------------------------- discovery


def test_pprof_index_links():
    assert parse_pprof_index(INDEX) == {"goroutine", "heap", "profile"}


def test_discovery_uses_what_exists(stub):
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html"), "/metrics": reply(200, "go_goroutines 3\n")})
    ep = discover(HttpClient(s.url))
    assert ep.pprof_index and ep.metrics and not ep.vars
    assert ep.serves("cpu") and ep.serves("heap") and not ep.serves("mutex")


def test_login_page_everywhere_is_refused_with_a_hint(stub):
    page = reply(200, LOGIN, "text/html")
    s = stub({"/debug/pprof/": page, "/debug/vars": page, "/metrics": page})
    with pytest.raises(ProfileNotServed, match="login page") as ei:
        discover(HttpClient(s.url))
    one_line(ei.value)


def test_html_instead_of_a_profile(stub):
    s = stub({"/debug/pprof/heap": reply(200, LOGIN, "text/html; charset=utf-8")})
    resp = HttpClient(s.url).get("/debug/pprof/heap")
    with pytest.raises(NotAProfile, match="HTML page instead of a heap profile") as ei:
        decode_profile(resp, "heap")
    assert isinstance(ei.value, FormatError)


def test_corrupt_and_truncated_protobuf(stub):
    garbage = gzip.compress(b"\xff\xff\xff\xff\x0f" * 50)
    truncated = gzip.compress(b"\x0a\x02\x08\x01" * 1000)[:40]
    s = stub({"/g": reply(200, garbage, "application/octet-stream"), "/t": reply(200, truncated)})
    c = HttpClient(s.url)
    for path in ("/g", "/t"):
        with pytest.raises(CorruptProfile, match="does not decode") as ei:
            decode_profile(c.get(path), "cpu")
        one_line(ei.value)


# ------------------------------------------------------------------ the plugin


def test_start_refuses_a_service_that_serves_nothing(stub):
    s = stub({})
    with pytest.raises(ProfileNotServed, match="serves neither"):
        plugin.start(Target.from_url(s.url), {"profile": "cpu"}, Session())


def test_start_refuses_a_profile_kind_the_index_does_not_list(stub):
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html")})
    with pytest.raises(ProfileNotServed, match="does not list a mutex profile"):
        plugin.start(Target.from_url(s.url), {"profile": "mutex"}, Session())


def test_start_on_a_down_url_is_one_clear_line():
    with pytest.raises(ServiceUnreachable) as ei:
        plugin.start(Target.from_url(f"http://127.0.0.1:{free_port()}"), {}, Session())
    assert "refused" in one_line(ei.value)


def test_preflight_reports_instead_of_raising(stub):
    s = stub({"/metrics": reply(200, "go_goroutines 3\n")})
    checks = plugin.preflight(Target.from_url(s.url))
    assert checks[0].ok and "/metrics" in checks[0].message
    assert checks[1].ok and "only series" in checks[1].message  # a warning, not a refusal
    down = plugin.preflight(Target.from_url(f"http://127.0.0.1:{free_port()}"))
    assert not down[0].ok and down[0].fix


def test_busy_profiler_and_slow_service_show_in_status_and_back_off(stub):
    busy = reply(500, "Could not enable CPU profiling: cpu profiling already in use\n")
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/profile": busy})
    sess = Session()
    h = plugin.start(Target.from_url(s.url), {"profile": "cpu", "duration": 2.5, "cpu_seconds": 1}, sess)
    assert h.join(15)
    h.stop()
    st = h.status()
    assert isinstance(st.error, ProfilerBusy)
    assert "already taking a CPU profile" in st.message
    # backing off: one CPU request per profile window, not a storm
    assert 1 <= s.hits.count("/debug/pprof/profile?seconds=1") <= 3


def test_options_of_other_sources_are_ignored_and_rate_is_explained(stub):
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html")})
    h = plugin.start(
        Target.from_url(s.url),
        {"profile": "none", "duration": 0.3, "rate": 250, "idle": True, "native": None, "interval": 0.2},
        Session(),
    )
    assert h.join(10)
    h.stop()
    assert "samples CPU at a fixed 100 Hz" not in h.status().message  # no CPU asked: nothing to explain


def test_poller_stops_asking_for_sources_that_404_or_are_too_big(stub):
    from workbench_builtins.pprof_fetch.client import TEXT_MAX_BYTES
    from workbench_builtins.pprof_fetch.poller import MetricsPoller

    index = INDEX + "<a href='heap?debug=1'>heap</a>"
    huge = reply(200, b"# " + b"x" * (TEXT_MAX_BYTES + 10))
    s = stub(
        {"/debug/pprof/": reply(200, index, "text/html"), "/debug/pprof/heap": huge, "/metrics": reply(200, "x 1\n")}
    )
    client = HttpClient(s.url)
    poller = MetricsPoller(client, discover(client), lambda n: n, target=s.url, heap_text_every_s=0)
    first = poller.poll(t=1000.0)
    assert {type(e).__name__ for e in first.errors} == {"ResponseTooLarge", "ProfileNotServed"}
    hits = len(s.hits)
    second = poller.poll(t=1100.0)
    assert not second.errors and second.requests == 1  # only /metrics is asked again
    assert len(s.hits) == hits + 1


def test_auto_profile_on_a_metrics_only_service_records_series(stub):
    s = stub({"/metrics": reply(200, "# TYPE go_goroutines gauge\ngo_goroutines 7\n")})
    sess = Session()
    h = plugin.start(Target.from_url(s.url), {"duration": 0.5, "interval": 0.2}, sess)
    assert h.join(10)
    h.stop()
    assert h.status().error is None
    assert sess.series["go.goroutines"].last() == 7
    with pytest.raises(ProfileNotServed, match="no /debug/pprof/ index") as ei:
        plugin.start(Target.from_url(s.url), {"profile": "cpu"}, Session())
    assert "leave --profile out" in ei.value.fix


def test_a_crashing_worker_is_reported_not_silent(stub, monkeypatch):
    from workbench_builtins.pprof_fetch import capture

    from workbench.errors import PluginError

    def boom(resp, kind):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(capture, "decode_profile", boom)
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/heap": reply(200, b"x")})
    h = plugin.start(Target.from_url(s.url), {"profile": "heap", "duration": 1, "profile_interval": 0.5}, Session())
    assert h.join(10)
    h.stop()
    err = h.status().error
    assert isinstance(err, PluginError) and "decoder bug" in str(err)


def test_gc_pauses_never_mix_the_exact_ring_with_prometheus_means(stub):
    from workbench_builtins.pprof_fetch.memstats import RING
    from workbench_builtins.pprof_fetch.poller import MetricsPoller

    calls = {"heap": 0, "metrics": 0}

    def heap_text(req):
        calls["heap"] += 1
        n = 10 * calls["heap"]
        ring = " ".join(str(1000 * (i + 1)) for i in range(RING))
        text = f"# runtime.MemStats\n# HeapInuse = 4096\n# PauseNs = [{ring}]\n# PauseEnd = [{' '.join(['0'] * RING)}]\n# NumGC = {n}\n"
        reply(200, text)(req)

    def metrics(req):
        calls["metrics"] += 1
        n = 10 * calls["metrics"]
        reply(200, f"go_gc_duration_seconds_sum {n * 0.001}\ngo_gc_duration_seconds_count {n}\n")(req)

    index = "<a href='heap?debug=1'>heap</a>"
    s = stub({"/debug/pprof/": reply(200, index, "text/html"), "/debug/pprof/heap": heap_text, "/metrics": metrics})
    client = HttpClient(s.url)
    poller = MetricsPoller(client, discover(client), lambda n: n, target=s.url, heap_text_every_s=3600)
    pauses = []
    for i in range(3):
        pauses += [p for p in poller.poll(t=1000.0 + 100 * i).points if p.name == "go.gc.pause_ns"]
    assert calls["heap"] == 1 and calls["metrics"] == 4  # discovery + 3 polls
    assert pauses == []  # the ring's first sight is a baseline; /metrics means are not added on top


def test_redirect_to_a_login_page_on_the_same_host_is_named(stub):
    s = stub(
        {
            "/debug/pprof/heap": reply(302, "", headers={"Location": "/login?next=/debug/pprof/heap"}),
            "/login": reply(200, LOGIN, "text/html"),
        }
    )
    resp = HttpClient(s.url).get("/debug/pprof/heap")
    assert resp.redirected
    with pytest.raises(NotAProfile, match=r"redirected to .*/login") as ei:
        decode_profile(resp, "heap")
    one_line(ei.value)


def test_expensive_text_endpoints_are_spaced_by_their_own_cost(stub):
    from workbench_builtins.pprof_fetch.poller import COST_SHARE, MetricsPoller

    s = stub(
        {
            "/debug/pprof/": reply(200, INDEX, "text/html"),
            "/debug/pprof/goroutine": slow(0.2, reply(200, "goroutine profile: total 12\n")),
            "/metrics": reply(200, "process_open_fds 3\n"),
        }
    )
    client = HttpClient(s.url)
    poller = MetricsPoller(client, discover(client), lambda n: n, target=s.url, heap_text_every_s=3600)
    assert poller.poll(t=1000.0).requests == 3  # heap text, /metrics, goroutine count
    gap = 0.2 / COST_SHARE  # a 0.2 s goroutine answer may be asked again after 4 s, not every second
    assert poller.poll(t=1001.0).requests == 1  # /metrics follows the interval
    again = poller.poll(t=1000.0 + gap + 1.0)
    assert again.requests == 2 and any(p.name == "go.goroutines" and p.value == 12 for p in again.points)


def test_stop_aborts_a_cpu_profile_still_waiting_for_its_headers(stub):
    release = threading.Event()

    def never_answers(req):
        release.wait(30)  # Go answers a CPU profile only after `seconds`; this one never does

    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/profile": never_answers})
    try:
        h = plugin.start(Target.from_url(s.url), {"profile": "cpu", "cpu_seconds": 30}, Session())
        while not any(p.startswith("/debug/pprof/profile") for p in s.hits):
            time.sleep(0.05)
        h.stop()
        assert h.join(0)  # stop() returned with the worker ended: the wait was cut, not sat out
        assert not isinstance(h.status().error, ServiceUnreachable)  # the cut connection is not an error
    finally:
        release.set()


def test_target_label_suffixes_series_and_is_sanitised(stub):
    s = stub({"/metrics": reply(200, "go_goroutines 5\n")})
    sess = Session()
    h = plugin.start(Target.from_url(s.url), {"duration": 0.3, "interval": 0.1, "label": "gate way<b>"}, sess)
    assert h.join(10)
    h.stop()
    assert sess.series_names() == ["go.goroutines@gate_way_b"]


def test_all_means_every_profile_the_index_lists(stub):
    s = stub({"/debug/pprof/": reply(200, INDEX, "text/html")})
    from workbench_builtins.pprof_fetch.capture import _profile_kinds

    ep = discover(HttpClient(s.url))
    assert _profile_kinds("all", ep) == ["cpu", "heap", "goroutine"]  # no allocs/mutex/block listed


def test_hostile_expvar_nesting_is_refused_before_json_recursion(stub):
    s = stub(
        {"/debug/vars": reply(200, "[" * 200_000, "application/json"), "/metrics": reply(200, "go_goroutines 1\n")}
    )
    ep = discover(HttpClient(s.url))
    assert ep.metrics and not ep.vars
    assert any("nested" in n for n in ep.notes)
