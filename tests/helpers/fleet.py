"""A small fleet on loopback: Debian's real ``prometheus`` scraping two pprofsvc services.

``api`` serves net/http/pprof, expvar and a latency histogram (requests wait for a pool of
four connections); ``plain`` serves only /metrics and the histogram (no pprof). Prometheus
scrapes both and itself every second, with a temp storage dir, on a port the OS picked;
everything is stopped by PID. Load runs inside the services (``/load``), so the tests make
no traffic of their own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.child import stop_child
from tests.helpers.gosvc import GoService, start_pprofsvc

PROMETHEUS = shutil.which("prometheus")
FAMILY = "pprofsvc_request_duration_seconds"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 5.0) -> bytes:
    with _OPENER.open(url, timeout=timeout) as r:
        return bytes(r.read())


@dataclass
class Fleet:
    prometheus: str  # base URL
    api: GoService
    plain: GoService
    proc: subprocess.Popen[bytes]

    def wait_scraped(self, query: str, timeout: float = 30.0) -> None:
        """Until ``query`` answers something (the server has scraped enough to compute it)."""
        import json
        import urllib.parse

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            doc = json.loads(get(f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
            if doc["data"]["result"]:
                return
            time.sleep(0.5)
        pytest.fail(f"prometheus has no answer to {query} after {timeout:g} s")


def start_prometheus(workdir: Path, jobs: dict[str, list[str]]) -> tuple[str, subprocess.Popen[bytes]]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    port = free_port()
    jobs = {**jobs, "prometheus": [f"127.0.0.1:{port}"]}
    lines = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:"]
    for job, targets in jobs.items():
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: {targets!r}".replace("'", '"')]
    (workdir / "prometheus.yml").write_text("\n".join(lines) + "\n")
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if get(url + "/-/ready", 2):
                break
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail("prometheus did not become ready")
        time.sleep(0.1)
    return url, proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    stop_child(proc, grace_s=10.0)


def start_fleet(exe: Path, workdir: Path, *, latency_ms: int = 120, rps: int = 10, seconds: int = 600) -> Fleet:
    api = start_pprofsvc(exe)
    plain = start_pprofsvc(exe, "-plain")
    hostport = [s.url.removeprefix("http://") for s in (api, plain)]
    try:
        url, proc = start_prometheus(workdir, {"api": [hostport[0]], "plain": [hostport[1]]})
    except BaseException:
        api.stop()
        plain.stop()
        raise
    for svc in (api, plain):
        svc.get(f"/latency?ms={latency_ms}")
        svc.get(f"/load?rps={rps}&seconds={seconds}")
    return Fleet(url, api, plain, proc)


def stop_fleet(fleet: Fleet) -> None:
    stop(fleet.proc)
    fleet.api.stop()
    fleet.plain.stop()


@pytest.fixture(scope="module")
def fleet(pprofsvc_exe: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    f = start_fleet(pprofsvc_exe, tmp_path_factory.mktemp("fleet"))
    try:
        yield f
    finally:
        stop_fleet(f)
