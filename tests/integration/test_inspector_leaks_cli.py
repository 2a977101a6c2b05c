"""`workbench leaks --pid` on a Node service: the inspector's heap sampling names the
clients Map's filler and exits 3; the bounded LRU is not a suspect."""

import json
import subprocess
import sys
import time

import pytest

from tests.node.nodesvc import start_service

pytestmark = [pytest.mark.slow]


def test_leaks_cli_on_node_names_the_clients_filler() -> None:
    svc = start_service("--inspect=127.0.0.1:0", extra_env={"CACHE_MAX": "1000"})
    try:
        time.sleep(4)  # the decoy LRU fills in ~2.5 s; a user attaches to a warmed-up service
        out = subprocess.run(
            [sys.executable, "-m", "workbench.cli.main", "leaks", "--pid", str(svc.pid), "--duration", "24",
             "--interval", "1", "--json"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        alive = svc.proc.poll() is None
    finally:
        svc.stop()
    assert out.returncode == 3, out.stderr
    doc = json.loads(out.stdout)
    names = [s["name"] for s in doc["suspects"]]
    assert any("registerClient" in n for n in names), doc
    assert not any("cacheResult" in n or "loadRow" in n for n in names), names
    assert alive, "the target must survive the check"
