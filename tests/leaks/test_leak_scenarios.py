"""The leak engine on real services with labelled leaks and decoys (Go via pprof, Python
via the runtime agent, Node via the inspector). Target: precision and recall 1.0, every unlabelled suspect counting
as a false positive; every suspect carries the stack that fills it, its innermost user frame
being the filling function. ``make bench`` prints the table with times to first verdict."""

import shutil
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.leaks.scenario import (
    GO_LABELS,
    NODE_LABELS,
    PY_LABELS,
    build_go_leaksvc,
    run_go_suite,
    run_node_suite,
    run_py_suite,
)

pytestmark = pytest.mark.slow
WATCH_S = 40.0


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> dict[str, Future]:
    """The three suites watch their own services at the same time: each mostly waits for its
    service's series to grow, so together they take one watch (~50 s), not three. A suite's
    error is raised by ``result()`` in its own test."""
    pool = ThreadPoolExecutor(3, thread_name_prefix="leak-suite")
    jobs: dict[str, Future] = {"python": pool.submit(run_py_suite, WATCH_S)}
    if shutil.which("go") is not None:
        jobs["go"] = pool.submit(lambda: run_go_suite(build_go_leaksvc(tmp_path_factory.mktemp("go")), WATCH_S))
    if shutil.which("node") is not None:
        jobs["node"] = pool.submit(run_node_suite, WATCH_S)
    pool.shutdown(wait=False)
    return jobs


@pytest.mark.go
@pytest.mark.skipif(shutil.which("go") is None, reason="go toolchain not installed (apt-get install golang-go)")
def test_go_leak_scenarios(suites):
    res = suites["go"].result()
    precision, recall = res.scores(GO_LABELS)
    assert (precision, recall) == (1.0, 1.0), res.explain(GO_LABELS)
    names = {s["name"] for s in res.suspects}
    assert any("main.(*Hub).register" in n and n.endswith("map") for n in names), names
    for s in res.suspects:  # innermost first: the first frame of the program is where it is filled
        user = [f for f in s["stack"] if f.startswith("main.")]
        assert user and user[0] == s["where"], s
    buf = next(s for s in res.suspects if "Broadcaster" in s["name"])
    assert buf["where"].startswith("main.(*Broadcaster).publish ("), buf  # written through fmt.Fprintf
    assert any(f.startswith("fmt.Fprintf (") for f in buf["stack"]), buf


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb not installed (apt-get install gdb)")
def test_python_leak_scenarios(suites):
    res = suites["python"].result()
    precision, recall = res.scores(PY_LABELS)
    assert (precision, recall) == (1.0, 1.0), res.explain(PY_LABELS)
    fillers = {
        "SessionStore._sessions": "SessionStore.touch (",
        "WebSocketHub.clients": "WebSocketHub.connect (",
        "Broadcaster.buffer": "Broadcaster.publish (",
        "Executor.executions": "Executor.run (",
    }
    for s in res.suspects:  # the agent's tracemalloc window named the filling function
        assert s["where"].startswith(fillers[s["name"]]), s
        assert s["stack"] and s["stack"][0] == s["where"], s


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed (apt-get install nodejs)")
def test_node_leak_scenarios(suites):
    """Containers named from heap-snapshot retainer paths; the Socket objects the sockets Map
    holds (built in openSocket) are part of its finding, not a third leak. Precision and recall
    1.0: a bounded cache whose sampled bytes still look like growth (V8's sampler counts only
    what was allocated since attaching) is cleared by its container's real, level size."""
    # the slow LRU is full 30 s after start (22 s into the watch): its element count, read from
    # ~10 s on, is level for the judge's tail window (the last 35 %) from a 40 s watch on
    res = suites["node"].result()
    precision, recall = res.scores(NODE_LABELS)
    assert (precision, recall) == (1.0, 1.0), res.explain(NODE_LABELS)
    by_name = {s["name"]: s for s in res.suspects}
    assert {"sockets Map", "history array"} == set(by_name), by_name
    for name, filler in (("sockets Map", "addSubscriber ("), ("history array", "appendHistory (")):
        s = by_name[name]
        assert s["where"].startswith(filler), s
        user = [f for f in s["stack"] if "leaksvc.js:" in f]
        assert user and user[0] == s["where"], s  # innermost user frame is the filling function
        assert f"{name.split()[0]}: " in s["evidence"], s  # the retainer path is shown
        assert "Confirmed: real size " in s["evidence"], s  # its element count grew too
        assert "DevTools console" not in s["evidence"], s  # the inspector's own handles are no path
    folded = by_name["sockets Map"]["evidence"].split("folded in: ", 1)[-1]
    assert "openSocket" in folded, by_name["sockets Map"]  # its Socket values are this finding
