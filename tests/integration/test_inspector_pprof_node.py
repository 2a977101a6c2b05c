"""pprof from Node: the test service serving Google's ``pprof`` npm package, read by pprof-fetch unchanged.

The package (and its native addon, built with node-gyp against /usr/include/node) is
installed from the npm registry by the test setup into a per-user cache dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from workbench_builtins.pprof_fetch import plugin as pprof_plugin

from tests.node.nodesvc import NodeService, install_pprof, start_service
from workbench.analysis.top import self_and_total
from workbench.capture.api import Target
from workbench.model import Profile, Session

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def pprof_modules() -> Path:
    return install_pprof()


@pytest.fixture
def node_pprof(pprof_modules: Path) -> Iterator[NodeService]:
    svc = start_service(pprof_modules=pprof_modules, extra_env={"CACHE_MAX": "1000"})
    try:
        yield svc
    finally:
        svc.stop()


def _function_total(prof: Profile, function: str, sample: str) -> tuple[float, float]:
    _, total = self_and_total(prof, "function")
    k = prof.sample_index(sample)
    best = max((float(total[f, k]) for f, fr in enumerate(prof.frames) if fr.function == function), default=0.0)
    return best, float(prof.totals()[k])


def test_pprof_fetch_reads_node_cpu_profile(node_pprof: NodeService) -> None:
    session = Session()
    target = Target.from_url(node_pprof.url)
    checks = pprof_plugin.preflight(target)
    assert all(c.ok for c in checks), checks
    handle = pprof_plugin.start(target, {"profile": "cpu", "duration": 3.5, "cpu_seconds": 2}, session)
    assert handle.join(30)
    st = handle.status()
    assert st.error is None, st
    cpu = session.profiles[f"pprof:{node_pprof.url}:cpu"]
    assert [s.type for s in cpu.sample_types] == ["sample", "wall"]
    # the pprof package reports optimized frames without their inlined callees: once V8 has
    # inlined hotSpin into burnTick the time shows on burnTick, so the hot path is either
    hot = max(_function_total(cpu, fn, "wall")[0] for fn in ("hotSpin", "burnTick"))
    idle, total = _function_total(cpu, "(idle)", "wall")
    assert total > 0 and hot >= 0.6 * (total - idle), (hot, total, idle)


def test_pprof_fetch_reads_node_heap_profile(node_pprof: NodeService) -> None:
    session = Session()
    target = Target.from_url(node_pprof.url)
    handle = pprof_plugin.start(target, {"profile": "heap", "duration": 1.5, "profile_interval": 1.0}, session)
    assert handle.join(30)
    assert handle.status().error is None
    heap = session.profiles[f"pprof:{node_pprof.url}:heap"]
    filled, _ = _function_total(heap, "registerClient", "inuse_space")
    assert filled > 0
