"""pprof-fetch against a real third-party Go service: Debian's prometheus on loopback.

Prometheus serves net/http/pprof and /metrics on its web port but no /debug/vars, so
this exercises the other sources: memstats from ``heap?debug=1`` and go_*/process_*
families from /metrics. It runs with a minimal config, a temp storage dir and a port
the OS picked, and is stopped by PID.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from workbench_builtins.pprof_fetch import plugin

from tests.helpers.child import stop_child
from workbench.capture.api import Target
from workbench.model import Session

pytestmark = [pytest.mark.go, pytest.mark.slow]

PROMETHEUS = shutil.which("prometheus")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    d: Path = tmp_path_factory.mktemp("prometheus")
    (d / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    url = f"http://127.0.0.1:{_free_port()}"
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={d / 'prometheus.yml'}",
            f"--storage.tsdb.path={d / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with _OPENER.open(url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("prometheus did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        stop_child(proc, grace_s=10.0)


def _keep_busy(url: str, stop: threading.Event) -> None:
    """Real work for the CPU profile to see: Prometheus rendering its own metrics and API."""
    while not stop.is_set():
        for path in ("/metrics", "/api/v1/status/buildinfo", "/api/v1/query?query=up"):
            try:
                with _OPENER.open(url + path, timeout=5) as r:
                    r.read()
            except (urllib.error.URLError, OSError):
                pass


def test_cpu_profile_and_series_from_prometheus(prometheus: str) -> None:
    session = Session()
    stop = threading.Event()
    loader = threading.Thread(target=_keep_busy, args=(prometheus, stop))
    loader.start()
    try:
        h = plugin.start(
            Target.from_url(prometheus),
            {"profile": "cpu", "duration": 2.5, "cpu_seconds": 2, "interval": 0.5},
            session,
        )
        assert h.join(30)
        h.stop()
    finally:
        stop.set()
        loader.join(10)
    assert h.status().error is None, h.status().message
    cpu = session.profiles[f"pprof:{prometheus}:cpu"]
    assert cpu.totals()[0] > 0
    functions = {f.function for f in cpu.frames}
    assert any(fn.startswith("github.com/prometheus/") for fn in functions)
    s = session.series
    assert s["go.goroutines"].last() > 5  # from /metrics go_goroutines
    assert s["go.heap_inuse_bytes"].last() > 0  # from heap?debug=1's MemStats block
    assert s["go.gc.count"].last() >= 1
    assert s["process.rss_bytes"].last() > 1e6
    assert "process.cpu_percent" in s


def test_heap_profile_from_prometheus(prometheus: str) -> None:
    session = Session()
    h = plugin.start(Target.from_url(prometheus), {"profile": "heap", "duration": 1.0}, session)
    assert h.join(30)
    h.stop()
    heap = session.profiles[f"pprof:{prometheus}:heap"]
    assert [st.type for st in heap.sample_types] == ["inuse_space", "inuse_objects"]
    assert heap.totals()[0] > 0
    assert f"pprof:{prometheus}:allocs" in session.profiles
