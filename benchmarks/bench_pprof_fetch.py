"""pprof-fetch: fetch + decode of a big live heap profile against ``go tool pprof`` on the same
service, and what polling costs us and the service (prints numbers, asserts nothing).

The service is tests/go/pprofsvc with ``-memprofilerate 1`` holding N allocations made
from N distinct call paths (``/spread``), so its heap profile has ~N stacks. In the same
run, best of R:

  go tool pprof -raw -symbolize=none URL/debug/pprof/heap   whole command: fetch, decode, print
  go tool pprof -raw -symbolize=none heap.pb.gz              the same profile from a file
  workbench, in process: fetch (HTTP, streamed, capped), decode (read_pprof), and the
    batch work the plugin does per fetch (in-use columns, alloc deltas against the last fetch)

Then 20 metric polls (expvar + DBStats walk + goroutine count) back to back: wall and
CPU time per poll on our side, and CPU time the service spent answering them; and the
time from attaching to the first live CPU flame graph.

Run: ``.venv/bin/python benchmarks/bench_pprof_fetch.py [--stacks 50000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import budget  # noqa: E402  (sibling script: BUDGET lines and the exit code)
from workbench_builtins.pprof_fetch.client import HttpClient  # noqa: E402
from workbench_builtins.pprof_fetch.discovery import discover  # noqa: E402
from workbench_builtins.pprof_fetch.poller import MetricsPoller  # noqa: E402
from workbench_builtins.pprof_fetch.profiles import (  # noqa: E402
    CumulativeDelta,
    column_indices,
    decode_profile,
    select_columns,
)

from tests.helpers.gosvc import GoService, build_pprofsvc, start_pprofsvc  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "pprof_fetch"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stacks", type=int, default=50_000)
    ap.add_argument("--runs", "--repeat", dest="repeat", type=int, default=3, help="runs per timing (best of)")
    args = ap.parse_args()
    go = shutil.which("go")
    if go is None:
        sys.exit("bench_pprof_fetch: needs the go toolchain (apt-get install golang-go)")
    CACHE.mkdir(parents=True, exist_ok=True)
    exe = build_pprofsvc(CACHE)
    svc: GoService = start_pprofsvc(exe, "-memprofilerate", "1")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pprof-fetch-"))
    env = {**os.environ, "HOME": str(tmp), "PPROF_TMPDIR": str(tmp), "no_proxy": "127.0.0.1"}
    try:
        depth = 1
        while 4**depth < args.stacks:
            depth += 1
        svc.get(f"/spread?n={args.stacks}&depth={depth}", timeout=120)
        svc.get("/gc")
        client = HttpClient(svc.url, timeout_s=120)
        raw = client.get("/debug/pprof/heap", max_bytes=512 * 1024 * 1024)
        (tmp / "heap.pb.gz").write_bytes(raw.body)
        prof = decode_profile(raw, "heap")
        print(
            f"heap profile: {len(raw.body) / 1e6:.1f} MB gzipped, {len(prof.to_stackset())} stacks, "
            f"{prof.n_nodes} tree nodes, {len(prof.frames)} frames"
        )

        def go_url() -> None:
            subprocess.run(
                [go, "tool", "pprof", "-raw", "-symbolize=none", svc.url + "/debug/pprof/heap"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )

        def go_file() -> None:
            subprocess.run(
                [go, "tool", "pprof", "-raw", "-symbolize=none", str(tmp / "heap.pb.gz")],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )

        parts = {"fetch": 1e9, "decode": 1e9, "batch": 1e9}
        delta: CumulativeDelta | None = None

        def ours() -> None:
            nonlocal delta
            t0 = time.perf_counter()
            r = client.get("/debug/pprof/heap", max_bytes=512 * 1024 * 1024)
            t1 = time.perf_counter()
            p = decode_profile(r, "heap")
            t2 = time.perf_counter()
            inuse = column_indices(p, ("inuse_space", "inuse_objects"))
            alloc = column_indices(p, ("alloc_space", "alloc_objects"))
            assert inuse is not None and alloc is not None
            full = p.to_stackset()
            select_columns(p, inuse, full)
            ss, types = select_columns(p, alloc, full)
            if delta is None:
                delta = CumulativeDelta(types)
            delta.update(ss)
            t3 = time.perf_counter()
            for k, v in (("fetch", t1 - t0), ("decode", t2 - t1), ("batch", t3 - t2)):
                parts[k] = min(parts[k], v)

        t_go_url = best(go_url, args.repeat)
        t_go_file = best(go_file, args.repeat)
        t_ours = best(ours, args.repeat)
        print(f"go tool pprof -raw URL   {t_go_url:7.2f} s  (whole command: fetch + decode + print)")
        print(f"go tool pprof -raw file  {t_go_file:7.2f} s  (whole command: decode + print)")
        print(
            f"workbench fetch+decode+batch {t_ours:7.2f} s  (in process: fetch {parts['fetch']:.2f}, "
            f"decode {parts['decode']:.2f}, batch {parts['batch']:.2f})"
        )
        print(f"ratio workbench / go tool pprof (URL): {t_ours / t_go_url:.2f}x")

        ep = discover(client)
        poller = MetricsPoller(client, ep, lambda s: s, target=svc.url)
        t_virtual = time.time()
        poller.poll(t=t_virtual)
        n = 20
        svc_cpu0 = proc_cpu_s(svc.pid)
        cpu0 = time.process_time()
        w0 = time.perf_counter()
        reqs = 0
        for i in range(n):
            # polls run back to back but are stamped 1 s apart, as the default interval would space
            # them, so the per-source cost spacing does not skip any
            reqs += poller.poll(t=t_virtual + 1.0 + i).requests
        wall = (time.perf_counter() - w0) / n
        cpu = (time.process_time() - cpu0) / n
        svc_cpu = (proc_cpu_s(svc.pid) - svc_cpu0) / n
        print(
            f"metric poll: {wall * 1e3:.1f} ms wall, {cpu * 1e3:.1f} ms our CPU, "
            f"{svc_cpu * 1e3:.1f} ms service CPU, {reqs / n:.0f} requests per poll"
        )
        print(f"at the default 1 poll/s: {svc_cpu * 100:.2f}% of one core in the service, {cpu * 100:.2f}% in ours")
        # attach to first flame graph (DESIGN budget: under 2 s): live mode asks a 1 s window first
        from workbench_builtins.pprof_fetch import plugin

        from workbench.capture.api import Target
        from workbench.model import ProfileBatch

        first: list[float] = []

        class FirstCpu:
            def put(self, batch: object) -> None:
                if isinstance(batch, ProfileBatch) and str(batch.key).endswith(":cpu") and not first:
                    first.append(time.perf_counter())

        svc.get("/burn?ms=5000")
        t_attach = time.perf_counter()
        handle = plugin.start(Target.from_url(svc.url), {"profile": "cpu"}, FirstCpu())
        while not first and time.perf_counter() - t_attach < 30:
            time.sleep(0.01)
        handle.stop()
        if first:
            print(f"attach to first CPU flame graph: {first[0] - t_attach:.2f} s (discovery + a 1 s window)")
            budget.check("pprof attach to first CPU flame graph", first[0] - t_attach, 2.0, unit=" s")
        else:
            budget.fail("pprof attach to first CPU flame graph", "no CPU batch in 30 s")
        load = os.getloadavg()[0]
        print(f"machine load average while measuring: {load:.1f} on {os.cpu_count()} cores")
    finally:
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())
