"""The Node test service (tests/node/service.js): started per test or module, stopped by PID.

Uses the machine's ``node``. The pprof variant needs Google's ``pprof`` npm package,
installed once from the npm registry into a per-user cache dir keyed by package.json
(never into the repository); its native addon builds with node-gyp against the Node
headers in /usr/include/node, so nothing is downloaded besides the npm packages.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SERVICE = HERE / "service.js"
_START_TIMEOUT_S = 20.0


def node_exe() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed (apt-get install nodejs)")
    return node


@dataclass
class NodeService:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get_json(self, path: str) -> dict[str, int]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.url + path, timeout=10) as r:
            doc: dict[str, int] = json.loads(r.read())
            return doc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def start_service(
    *node_args: str, pprof_modules: Path | None = None, extra_env: dict[str, str] | None = None
) -> NodeService:
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    if pprof_modules is not None:
        env["NODE_PATH"] = str(pprof_modules)
    env.update(extra_env or {})
    args = [node_exe(), *node_args, str(SERVICE)] + (["--pprof"] if pprof_modules is not None else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    ready = sel.select(_START_TIMEOUT_S)
    sel.close()
    line = proc.stdout.readline() if ready else b""
    try:
        info = json.loads(line)
    except ValueError:
        proc.kill()
        proc.wait(5)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise RuntimeError(f"node service did not start: {line!r} {err[-2000:]}") from None
    return NodeService(proc, int(info["port"]))


def install_pprof() -> Path:
    """node_modules with ``pprof`` (built), cached per user and package.json content."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm not installed")
    manifest = (HERE / "package.json").read_bytes()
    digest = hashlib.sha256(manifest).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"wb-node-{os.getuid()}" / digest
    addon = root / "node_modules" / "pprof" / "build" / "Release" / "pprof.node"
    if addon.exists():
        return root / "node_modules"
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_bytes(manifest)
    env = dict(os.environ)
    if Path("/usr/include/node/node.h").exists():
        env["npm_config_nodedir"] = "/usr"  # build the addon against the installed headers
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--foreground-scripts"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not addon.exists():
        raise RuntimeError(
            f"npm install of pprof failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return root / "node_modules"
