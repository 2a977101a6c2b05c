"""The pprof test service (tests/go/pprofsvc): built once per session, run per test or module.

Built with Debian's golang-go into a temp dir; stdlib only, so no network: GOPROXY=off,
GOFLAGS=-mod=mod, and GOCACHE in a per-user cache dir so a rebuild takes a second.
Each started service listens on 127.0.0.1 on a port the OS picks and is stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers.child import stop_child

SRC = Path(__file__).resolve().parents[1] / "go" / "pprofsvc"
_START_TIMEOUT_S = 20.0


def go_env(workdir: Path) -> dict[str, str]:
    cache = Path(tempfile.gettempdir()) / f"wb-gocache-{os.getuid()}"
    env = dict(os.environ)
    env.update(
        GOCACHE=str(cache / "build"),
        GOMODCACHE=str(cache / "mod"),
        GOPATH=str(cache / "gopath"),
        GOFLAGS="-mod=mod",
        GOPROXY="off",
        GO111MODULE="on",
        CGO_ENABLED="0",
        HOME=str(workdir),
    )
    return env


def build_pprofsvc(outdir: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go toolchain not installed (apt-get install golang-go)")
    exe = outdir / "pprofsvc"
    proc = subprocess.run(
        [go, "build", "-o", str(exe), "."],
        cwd=SRC,
        env=go_env(outdir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go build of {SRC} failed:\n{proc.stderr}")
    return exe


@dataclass
class GoService:
    """A running pprofsvc. ``get(path)`` calls its control endpoints."""

    proc: subprocess.Popen[str]
    url: str
    args: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def get(self, path: str, timeout: float = 10.0) -> str:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url + path, timeout=timeout) as r:
            return r.read().decode()

    def stop(self) -> None:
        stop_child(self.proc)


def start_pprofsvc(exe: Path, *args: str) -> GoService:
    proc = subprocess.Popen(
        [str(exe), "-addr", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    # the service prints its URL only after it listens, so no polling is needed
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"pprofsvc did not start: {line!r}")
    return GoService(proc, line.removeprefix("listening on "), list(args))


@pytest.fixture(scope="session")
def pprofsvc_exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_pprofsvc(tmp_path_factory.mktemp("gobuild"))


@pytest.fixture
def gosvc(pprofsvc_exe: Path) -> Iterator[GoService]:
    svc = start_pprofsvc(pprofsvc_exe)
    try:
        yield svc
    finally:
        svc.stop()
