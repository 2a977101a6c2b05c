"""`workbench leaks --pid` on a Node service (tests/leaks/node/leaksvc.js): the inspector's
heap sampling judges growth, its naming snapshots name the containers from retainer paths
(`sockets Map`, `history array`) with the filling function as `where` and innermost user
frame of `stack`, exit 3; the bounded caches that filled are not suspects and the target survives."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.leaks.scenario import NODE_SRC, WARMUP_S

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("node") is None, reason="apt-get install nodejs")]


def test_leaks_cli_on_node_names_the_containers() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    proc = subprocess.Popen([shutil.which("node") or "node", "--inspect=127.0.0.1:0", str(NODE_SRC)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
        time.sleep(WARMUP_S)  # a user attaches to a warmed-up service (the fast LRU is full)
        out = subprocess.run(
            [sys.executable, "-m", "workbench.cli.main", "leaks", "--pid", str(proc.pid), "--duration", "32",
             "--json"],
            capture_output=True, text=True, timeout=150, check=False,
        )  # fmt: skip
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    assert out.returncode == 3, (out.stdout, out.stderr)
    doc = json.loads(out.stdout)
    by_name = {s["name"]: s for s in doc["suspects"]}
    # the slow LRU and the TTL cache turn over in 30 s and 15 s: V8's sampler, counting only what
    # was allocated since attaching, cannot tell them from leaks in 32 s (notes/leaks17.md); the
    # caches that turn over within seconds must be bounded
    slow = {"slowRows.map Map", "tokens Map"}
    assert {"sockets Map", "history array"} <= set(by_name) <= {"sockets Map", "history array", *slow}, doc["suspects"]
    for name, filler in (("sockets Map", "addSubscriber ("), ("history array", "appendHistory (")):
        s = by_name[name]
        assert s["where"].startswith(filler), s
        user = [f for f in s["stack"] if "leaksvc.js:" in f]
        assert user and user[0] == s["where"], s
    assert not any("Socket" in s["name"] for s in doc["suspects"]), "the Map's values are folded into its finding"
    assert alive, "the target must survive the check"
