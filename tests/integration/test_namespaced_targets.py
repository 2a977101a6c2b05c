"""Targets in their own PID, mount and network namespaces, attached from the host (issue 20).

Each target runs under ``unshare`` (tests/helpers/nsbox.py): private /tmp, its own
loopback, the interpreter bind-mounted at /opt/ctr-python (a path the host lacks). The
capture tools run here, on the host side, against the host PID.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import nsbox
from tests.helpers.targets import HOT
from tests.leaks.scenario import WARMUP_S
from workbench.capture import Target, default_registry
from workbench.capture.namespaces import container_of, foreign_namespaces, pid_inside
from workbench.model import Session

pytestmark = pytest.mark.skipif(nsbox.available() is not None, reason=str(nsbox.available()))

WORKBENCH = [sys.executable, "-m", "workbench.cli.main"]
LEAKSVC_DIR = Path(__file__).resolve().parents[1] / "leaks" / "py"


def _wait_for(cond: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_box_is_a_container_seen_from_the_host() -> None:
    with nsbox.run_in_namespaces(["-c", HOT]) as t:
        assert set(foreign_namespaces(t.pid)) == {"pid", "mnt", "net"}
        assert pid_inside(t.pid) == t.ns_pid != t.pid
        exe = os.readlink(f"/proc/{t.pid}/exe")
        assert exe.startswith(nsbox.CTR_PREFIX) and not os.path.exists(exe)
        assert container_of(t.pid).label() == "namespaced (pid,mnt,net)"


@pytest.mark.slow
def test_leaks_cli_names_the_growing_dict_in_a_container() -> None:
    """`workbench leaks --pid HOSTPID --yes`: the agent's files go to the box's /tmp, its socket is on the box's lo."""
    binds = {str(LEAKSVC_DIR): "/opt/ctr-app"}
    with nsbox.run_in_namespaces(["/opt/ctr-app/leaksvc.py"], binds=binds, ready=b"ready") as t:
        time.sleep(WARMUP_S)  # as for a host process (tests/leaks): the decoys' warm-up is over
        out = subprocess.run(
            [*WORKBENCH, "leaks", "--pid", str(t.pid), "--yes", "--duration", "24", "--json"],
            capture_output=True, text=True, timeout=150, check=False,
        )  # fmt: skip
        assert out.returncode == 3, (out.returncode, out.stderr)
        doc = json.loads(out.stdout)
        by_name = {s["name"]: s for s in doc["suspects"]}
        assert "SessionStore._sessions" in by_name, sorted(by_name)
        assert by_name["SessionStore._sessions"]["kind"] == "map"
        # named and placed as for a host process: the filling method, at the file as the target sees it
        assert by_name["SessionStore._sessions"]["where"].startswith("SessionStore.touch (/opt/ctr-app/leaksvc.py:")
        assert "LRUCache._data" not in by_name
        assert t.alive(), "the target must survive the check"
        # nothing was left in the box's /tmp, and nothing of it appeared in the host's
        assert not [p for p in os.listdir(f"/proc/{t.pid}/root/tmp") if p.startswith("wb-agent-")]
        assert not [p for p in os.listdir("/tmp") if p.startswith(f"wb-agent-{t.pid}-")]


SELF_CONNECTED = """
import socket, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
accepted = [srv.accept()[0] for _ in range(3)]
print("TARGET_READY", port, flush=True)
while True:
    time.sleep(1)
"""


def _self_by_function(session: Session, key: str) -> dict[str, float]:
    p = session.profiles[key]
    out: dict[str, float] = {}
    for node in range(1, p.n_nodes):
        f = p.frames[int(p.frame[node])]
        out[f.function] = out.get(f.function, 0.0) + float(p.self_values[node, 0])
    return out


def test_pyspy_cpu_profile_of_a_namespaced_target() -> None:
    plugin = default_registry().load("pyspy")
    with nsbox.run_in_namespaces(["-c", HOT]) as t:
        assert all(c.ok for c in plugin.preflight(Target.from_pid(t.pid))), plugin.preflight(Target.from_pid(t.pid))
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), {"rate": 100, "chunk_s": 0.5}, session)
        _wait_for(lambda: handle.status().batches >= 3 or not handle.status().running)
        handle.stop()
    assert handle.status().error is None
    selfs = _self_by_function(session, f"pyspy:{t.pid}:cpu")
    total = sum(selfs.values())
    assert total > 50 and selfs.get("hot_function", 0) / total > 0.6, selfs


def test_procstats_reads_the_sockets_of_the_targets_own_netns() -> None:
    plugin = default_registry().load("procstats")
    with nsbox.run_in_namespaces(["-c", SELF_CONNECTED]) as t:
        port = int(next(line for line in t.lines if "TARGET_READY" in line).split()[1])
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), {"interval": 0.2}, session)
        _wait_for(lambda: handle.status().samples >= 2)
        handle.stop()
    # nothing listens on that port in the host's namespace: these are the box's own sockets
    assert session.series[f"process.connections.127.0.0.1:{port}"].last() == 3
    assert session.series[f"process.connections.in:127.0.0.1:{port}"].last() == 3
    assert session.series["process.tcp_states.LISTEN"].last() == 1
    assert session.series["process.tcp_states.ESTABLISHED"].last() == 6
    assert session.series["process.threads"].last() >= 1
    assert handle.status().error is None


def test_memray_missing_in_the_container_names_its_interpreter_and_the_pip_line() -> None:
    """The box's Python is main's venv base interpreter without the venv: no memray inside."""
    from workbench.errors import UnsupportedTarget

    plugin = default_registry().load("memray")
    with nsbox.run_in_namespaces(["-c", HOT]) as t:
        checks = {c.name: c for c in plugin.preflight(Target.from_pid(t.pid))}
        with pytest.raises(UnsupportedTarget) as exc:
            plugin.start(Target.from_pid(t.pid), {}, Session())
    interp = f"{nsbox.CTR_PREFIX}/bin/{nsbox.python_prefix()[1]}"
    assert not checks["memray"].ok
    assert f"container's interpreter {interp}" in exc.value.message
    assert "No module named 'memray'" in exc.value.message  # the import ran in the box's filesystem
    assert exc.value.fix.startswith(f"inside the container run: {interp} -m pip install memray==")


def test_memray_live_snapshot_of_a_container_with_memray() -> None:
    """memray importable only inside (the venv's site-packages bind-mounted at /opt/ctr-site): the
    container's injector is dlopen'ed by its own path, memray's sockets are on the box's loopback."""
    import memray

    from tests.helpers.memray import TWO_SITES, function_totals

    site = str(Path(memray.__file__).resolve().parents[1])
    plugin = default_registry().load("memray")
    binds = {site: nsbox.CTR_SITE}
    with nsbox.run_in_namespaces(
        ["-c", TWO_SITES], binds=binds, env={"PYTHONPATH": nsbox.CTR_SITE}, ready=b"ready"
    ) as t:
        checks = {c.name: c for c in plugin.preflight(Target.from_pid(t.pid))}
        assert checks["memray"].ok, checks["memray"]
        assert f"injector {nsbox.CTR_SITE}/memray/_inject" in checks["memray"].message
        session = Session()
        handle = plugin.start(Target.from_pid(t.pid), {"interval": 0.3}, session)
        key = f"memray:{t.pid}:heap"

        def grown() -> bool:
            prof = session.snapshot_profile(key)
            return prof is not None and function_totals(prof, "grow_slow")[0] > 0

        try:
            _wait_for(lambda: (handle.status().samples >= 2 and grown()) or not handle.status().running, 120)
        finally:
            handle.stop()
        st = handle.status()
        assert st.error is None, st.error
        assert "detached" in st.message
        prof = session.profiles[key]
        assert function_totals(prof, "grow_fast")[0] > function_totals(prof, "grow_slow")[0] > 0
        assert t.alive(), "the target keeps running after the detach"


def test_doctor_reports_the_namespaces_and_each_step_across_them() -> None:
    with nsbox.run_in_namespaces(["-c", HOT]) as t:
        out = subprocess.run(
            [*WORKBENCH, "doctor", "--pid", str(t.pid), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    rows = {r["name"]: r for r in json.loads(out.stdout)["checks"] if r["source"] == "doctor"}
    assert "namespaced (pid,mnt,net)" in rows["namespaces"]["message"]
    assert rows["PID translated"]["ok"] and f"is PID {t.ns_pid} inside" in rows["PID translated"]["message"]
    assert rows["container filesystem"]["ok"] and f"/proc/{t.pid}/root/tmp" in rows["container filesystem"]["message"]
    assert rows["container network"]["ok"], rows["container network"]


def test_node_inspector_in_its_own_network_namespace() -> None:
    """node --inspect=127.0.0.1:9229 inside the box: port 9229 exists only on the box's loopback."""
    import shutil

    from workbench_builtins.inspector import plugin as inspector
    from workbench_builtins.inspector.discovery import ws_url_for_pid

    from tests.node.nodesvc import SERVICE

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed (apt-get install nodejs)")
    binds = {str(SERVICE.parent): "/opt/ctr-app"}
    args = ["--inspect=127.0.0.1:9229", "/opt/ctr-app/service.js"]
    with nsbox.run_in_namespaces(args, program=os.path.realpath(node), binds=binds, ready=b'"port"') as t:
        ws = ws_url_for_pid(t.pid)
        assert ws is not None and ws.startswith("ws://127.0.0.1:9229/"), ws
        session = Session()
        handle = inspector.start(Target.from_pid(t.pid), {"duration": 4.0, "window": 1.0}, session)
        assert handle.join(60)
        assert handle.status().error is None, handle.status().error
        assert t.alive()
    prof = session.profiles[f"inspector:{t.pid}:cpu"]
    functions = {f.function for f in prof.frames}
    assert "hotSpin" in functions or "burnTick" in functions, sorted(functions)[:40]
