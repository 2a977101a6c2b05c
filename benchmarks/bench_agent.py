"""Runtime agent costs, measured on real child processes (prints numbers, asserts nothing).

1. Injection pause as the target feels it: a thread in the target sleeps 1 ms in a loop
   and reports the largest gap between wake-ups per 250 ms window; the largest gap
   around the injection, minus the baseline, is the pause. Also the debugger's own timings.
   Anchor: pyrasite's gdb command line on the same target, same ticker, run by the
   debugger the workbench picks (gdb, or lldb where gdb cannot call into processes:
   ``workbench_builtins.debugger``; with lldb, the same three calls as lldb commands).
2. Census cost versus heap size: one full census (budget lifted) at N user objects,
   and what the default 50 ms budget does on the same heap (partial, resumed).
3. Steady-state overhead at the default settings: the agent thread's CPU share and the
   target's own work rate (ops/s) with and without the agent.

Run: ``.venv/bin/python benchmarks/bench_agent.py [--runs 1] [--sizes 10000,100000,300000]``
(exits non-zero when no debugger can inject or an injection fails)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench_builtins import debugger  # noqa: E402
from workbench_builtins.agent import plugin  # noqa: E402
from workbench_builtins.agent.inject import inject  # noqa: E402

from workbench.capture.api import Target  # noqa: E402
from workbench.model.session import Session  # noqa: E402

TARGET = r"""
import json, sys, threading, time
N = int(sys.argv[1])

class Item:
    def __init__(self, i):
        self.i = i
        self.name = "item%d" % i

class Holder:
    def __init__(self):
        self.items = [Item(i) for i in range(N)]
        self.index = {i: i for i in range(N)}

H = Holder()
ops = [0]

def work():
    d = {}
    while True:
        for i in range(200):
            d[i] = i * 2
            ops[0] += 1
        d.clear()
        time.sleep(0.0005)

def ticker():
    last = window = time.perf_counter()
    gap = 0.0
    done = 0
    while True:
        time.sleep(0.001)
        now = time.perf_counter()
        gap = max(gap, now - last)
        last = now
        if now - window >= 0.25:
            print(json.dumps({"t": time.time(), "gap": gap, "ops": ops[0] - done, "dt": now - window}), flush=True)
            done, gap, window = ops[0], 0.0, now

threading.Thread(target=work, daemon=True).start()
threading.Thread(target=ticker, daemon=True).start()
print(json.dumps({"ready": True}), flush=True)
while True:
    time.sleep(0.5)
"""


class Child:
    def __init__(self, n: int) -> None:
        self.proc = subprocess.Popen([sys.executable, "-u", "-c", TARGET, str(n)], stdout=subprocess.PIPE, text=True)
        self.windows: deque[dict[str, float]] = deque(maxlen=2000)
        self.ready = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        if not self.ready.wait(120):
            raise RuntimeError("target did not start")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg.get("ready"):
                self.ready.set()
            else:
                self.windows.append(msg)

    def between(self, t0: float, t1: float) -> list[dict[str, float]]:
        return [w for w in self.windows if t0 <= w["t"] <= t1 + 0.3]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def rate(ws: list[dict[str, float]]) -> float:
    return sum(w["ops"] for w in ws) / max(1e-9, sum(w["dt"] for w in ws))


def pyrasite_anchor(pid: int, choice: debugger.Choice) -> float:
    """The anchor: pyrasite's own gdb command line (full symbols, calls wherever the process stopped).

    Where gdb cannot call into processes (it would leave the target's system calls failing),
    lldb makes the same three calls: the anchor is pyrasite's method, not its binary.
    """
    calls = ["(int)PyGILState_Ensure()", '(int)PyRun_SimpleString("0")']
    if choice.name == "lldb":
        cmd = [choice.path, "--batch", "--no-lldbinit", "-p", str(pid)]
        # lldb knows PyGILState_Release's enum parameter and will not pass it an int: cast the function
        release = "((void (*)(int))PyGILState_Release)($0)"
        cmd += [a for c in [*calls, release] for a in ("-o", f"expr {c}")]
        cmd += ["-o", "process detach"]
        env = debugger.run_env(choice.env)
    else:
        cmd = [choice.path, "-nx", "-p", str(pid), "-batch", "-iex", "set debuginfod enabled off"]
        cmd += [f"-eval-command=call {c}" for c in [*calls, "(void)PyGILState_Release($1)"]]
        env = None
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False, timeout=120, env=env, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def bench_size(n: int, settle: float, choice: debugger.Choice) -> dict[str, Any]:
    child = Child(n)
    try:
        time.sleep(settle)
        t0 = time.time()
        time.sleep(2.0)
        base = child.between(t0, time.time())
        t_anchor = time.time()
        anchor_wall = pyrasite_anchor(child.proc.pid, choice)
        time.sleep(0.6)
        anchor = child.between(t_anchor, time.time())
        session = Session()
        # the debugger looking the symbols up itself (our fallback route), for comparison
        t_sym = time.time()
        inj_sym = inject(child.proc.pid, {"connect_timeout_s": 1.0}, elf_symbols=False)
        time.sleep(1.5)  # the agent exits after its connect timeout
        sym = child.between(t_sym, time.time())
        inj_sym.cleanup()
        t_inj = time.time()
        opts = {"yes": True, "census_interval": 3600.0, "census_budget_ms": 60_000.0}
        h = plugin.start(Target.from_pid(child.proc.pid), opts, session)
        t_ready = time.time()
        time.sleep(0.6)
        around = child.between(t_inj, t_ready)
        inj = h.injection
        # one full census, on demand
        h.client.command("census")
        deadline = time.time() + 120
        while h.converter.censuses < 1 and time.time() < deadline:
            time.sleep(0.05)
        full = dict(h.converter.last_census)
        h.stop()
        # default budget on the same heap: how partial, how fast resumed
        session2 = Session()
        t_attach2 = time.time()
        h2 = plugin.start(Target.from_pid(child.proc.pid), {"yes": True, "census_interval": 1.0}, session2)
        t1 = time.time()
        time.sleep(8.0)
        with_agent = child.between(t1 + 0.5, time.time())
        st = h2.status()
        censuses = h2.converter.censuses
        partial = h2.converter.partial_censuses
        last = dict(h2.converter.last_census)
        with session2.lock():
            cs = session2.series.get("python.agent.census_s")
            cvals = [float(v) for v in cs.values] if cs is not None else []
            cpu = session2.series.get("python.agent.cpu_s")
            cpu_last = cpu.last() if cpu is not None else None
        h2.stop()
        del t_attach2
        return {
            "n": n,
            "tool": inj.method,
            "gdb_stopped_ms": inj.stopped_s * 1000,
            "gdb_attach_ms": inj.attach_s * 1000,
            "bootstrap_ms": inj.bootstrap_s * 1000,
            "wait_gil_ms": inj.wait_s * 1000,
            "inject_total_ms": inj.total_s * 1000,
            "baseline_gap_ms": max((w["gap"] for w in base), default=0) * 1000,
            "anchor_gap_ms": max((w["gap"] for w in anchor), default=0) * 1000,
            "gdbsym_gap_ms": max((w["gap"] for w in sym), default=0) * 1000,
            "gdbsym_stopped_ms": inj_sym.stopped_s * 1000,
            "anchor_wall_ms": anchor_wall * 1000,
            "injection_gap_ms": max((w["gap"] for w in around), default=0) * 1000,
            "full_census_ms": float(full.get("dur_s", 0)) * 1000,
            "heap_objects": full.get("objects"),
            "full_partial": full.get("partial"),
            "budget_censuses": censuses,
            "budget_partial": partial,
            "budget_census_ms_median": statistics.median(cvals) * 1000 if cvals else 0,
            "budget_census_ms_max": max(cvals) * 1000 if cvals else 0,
            "budget_last_phase": last.get("phase"),
            "agent_cpu_share": (cpu_last or 0.0) / max(1e-9, time.time() - t1),
            "ops_per_s_without": rate(base),
            "ops_per_s_with": rate(with_agent),
            "agent_status": st.message,
        }
    finally:
        child.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,300000")
    ap.add_argument("--runs", type=int, default=1, help="measurements per size")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}; target pause measured in-target by a 1 ms ticker")
    choice = debugger.choose()
    if not choice.ok:
        print(f"no debugger can inject here: {choice.reason}; {choice.fix}", file=sys.stderr)
        return 1
    tool = choice.name
    print(f"injecting with {tool}: {choice.reason}")
    for n in [int(x) for x in args.sizes.split(",") for _ in range(args.runs)]:
        r = bench_size(n, 1.0 + n / 200_000, choice)
        print(
            f"N={r['n']:>7}: injection ({r['tool']}): in-target max gap {r['injection_gap_ms']:.0f} ms "
            f"(baseline {r['baseline_gap_ms']:.0f} ms); {tool} stopped {r['gdb_stopped_ms']:.0f} ms "
            f"(attach {r['gdb_attach_ms']:.0f}, bootstrap {r['bootstrap_ms']:.1f}, "
            f"waited for GIL release {r['wait_gil_ms']:.0f}); total {r['inject_total_ms']:.0f} ms"
        )
        print(
            f"           same route with {tool} loading symbols itself: in-target max gap "
            f"{r['gdbsym_gap_ms']:.0f} ms ({tool} stopped {r['gdbsym_stopped_ms']:.0f} ms)"
        )
        how = "gdb command line" if tool == "gdb" else "gdb calls, made by lldb"
        print(
            f"           anchor (pyrasite's {how}): in-target max gap {r['anchor_gap_ms']:.0f} ms, "
            f"{tool} wall {r['anchor_wall_ms']:.0f} ms; ratio ours/anchor "
            f"{r['injection_gap_ms'] / max(1e-9, r['anchor_gap_ms']):.2f}"
        )
        print(
            f"           full census {r['full_census_ms']:.0f} ms over {r['heap_objects']} gc objects "
            f"(partial={r['full_partial']}); 50 ms budget: {r['budget_censuses']} censuses in 8 s, "
            f"{r['budget_partial']} partial, median {r['budget_census_ms_median']:.0f} ms, "
            f"max {r['budget_census_ms_max']:.0f} ms, last phase {r['budget_last_phase']}"
        )
        ratio = r["ops_per_s_with"] / max(1e-9, r["ops_per_s_without"])
        print(
            f"           steady state (1 s census interval): agent CPU {r['agent_cpu_share']:.1%} of a core; "
            f"target work {r['ops_per_s_with']:.0f} vs {r['ops_per_s_without']:.0f} ops/s without (x{ratio:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
