"""Go 1.26's /debug/pprof/goroutineleak as leak evidence, parsed from a recorded goroutine
profile (the format that endpoint serves): its sites become suspects at full confidence, a
trend finding for the same site is confirmed rather than repeated."""

from __future__ import annotations

from pathlib import Path

from workbench.analysis.goroutine_leaks import confirm, leaked_sites
from workbench.analysis.leak_watch import LeakWatch
from workbench.formats.pprof import read_pprof
from workbench.model import Session
from workbench.model.findings import Finding
from workbench.model.keys import GOROUTINE_LEAK, ProfileKey
from workbench.model.profile import ProfileBatch

RECORDED = Path(__file__).resolve().parents[1] / "golden" / "go_goroutine.pb.gz"


def _sites():
    return leaked_sites(read_pprof(RECORDED.read_bytes()))


def test_recorded_goroutine_profile_names_the_blocked_site():
    sites = _sites()
    blocked = next(s for w, s in sites.items() if w.startswith("main.spawnBlocked.func1 ("))
    assert blocked.count == 40
    assert blocked.name == "goroutines in main.spawnBlocked.func1 blocked in runtime.chanrecv1"
    assert blocked.stack[-1].startswith("runtime.gopark (")  # root first: the parking frame is innermost
    assert blocked.where.endswith("main.go:80)")


def test_leaked_sites_become_suspects_and_confirm_trends():
    sites = {w: s for w, s in _sites().items() if "spawnBlocked" in w}
    where = next(iter(sites))
    # no trend yet (a check shorter than the engine's window): the runtime's word alone
    suspects, checked = confirm([], [], sites)
    assert [(f.kind, f.where, f.confidence) for f in suspects] == [("goroutines", where, 1.0)]
    assert "/debug/pprof/goroutineleak" in suspects[0].evidence and suspects[0].stack
    # a trend suspect for the same site is confirmed, not repeated
    trend = Finding("goroutines", sites[where].name, where, 12.0, "goroutines", 0.7, "2 -> 40 over 30 s")
    suspects, _ = confirm([trend], [], sites)
    assert len(suspects) == 1 and suspects[0].confidence == 1.0 and "Confirmed: 40 goroutines" in suspects[0].evidence
    # a site the trend judged bounded (too few points) is a suspect all the same
    bounded = Finding("goroutines", sites[where].name, where, 0.0, "goroutines", 0.2, "bounded: ...", suspect=False)
    suspects, checked = confirm([], [bounded], sites)
    assert len(suspects) == 1 and checked == []


def test_leak_watch_reads_goroutineleak_batches():
    prof = read_pprof(RECORDED.read_bytes())
    key = ProfileKey("pprof", "http://127.0.0.1:1", GOROUTINE_LEAK)
    batch = ProfileBatch(key, prof.sample_types, prof.to_stackset(), 1.0, 1.0, source="pprof", replace=True,
                         runtime="go")  # fmt: skip
    watch = LeakWatch()
    watch.on_batch(batch)
    suspects, _ = watch.judge(Session())
    assert any(f.where.startswith("main.spawnBlocked.func1 (") and f.confidence == 1.0 for f in suspects), suspects
