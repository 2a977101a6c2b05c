import numpy as np
import pytest

from workbench.analysis.leak_sources import SiteTracker, go_package, go_site, goroutine_site, is_go_user_frame
from workbench.analysis.leaks import Candidate, judge, judge_all, theil_sen
from workbench.model import INUSE_SPACE, Frame, Profile, Runtime

T = np.arange(0, 90, 3.0)
RNG = np.random.default_rng(7)

SCENARIOS = {
    # name: (values, is_leak)
    "unbounded dict": (50 + 4 * T, True),
    "clients never cleaned (steps)": (np.floor(T / 9) * 3 + 10, True),
    "buffer growing slowly with noise": (1000 + 20 * T + RNG.normal(0, 15, len(T)), True),
    "lru maxsize": (np.minimum(8 * T, 256), False),
    "ring buffer": (np.minimum(5 * T, 100), False),
    "batch flushed every N": ((T % 30) * 10, False),
    "warm-up allocation": (np.where(T < 10, 100 * T, 1000.0), False),
    "grows then cleared": (np.where(T < 60, 5 * T, 0.0), False),
    "noise around level": (500 + RNG.normal(0, 5, len(T)), False),
    # a map cleared every 6 s, censused every ~2.05 s (the census itself takes time): three
    # samples a period, each landing a little later in it. A 3-point median flattens it to a
    # slow rise; its repeated falls are what say it is cleared (a CI run flagged ScratchMap.items)
    "cleared every 3 samples, phase drifting": ((T / 3 * 2.05 % 6.0) * 50, False),
    # a cache warmed by a burst as the watch began, then leaking slowly: still a leak
    "warm-up burst, then a slow leak": (np.where(T < 9, 100 * T, 900 + 3 * (T - 9)), True),
    "leak with two outlying dips": (50 + 4 * T - np.isin(np.arange(len(T)), [7, 19]) * (50 + 4 * T) * 0.6, True),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenarios_precision_recall(name):
    values, is_leak = SCENARIOS[name]
    f = judge(Candidate("map", name, "here", "items", T, np.asarray(values, float)))
    assert f is not None
    assert f.suspect == is_leak, f.evidence


def test_not_enough_data_is_no_verdict():
    assert judge(Candidate("map", "x", "", "items", T[:3], T[:3])) is None


def test_theil_sen_robust_to_outlier():
    v = 2 * T
    v[5] = 10_000
    assert theil_sen(T, v) == pytest.approx(2.0)


def test_judge_all_splits_and_sorts():
    cands = [Candidate("map", n, "", "items", T, np.asarray(v, float)) for n, (v, _) in SCENARIOS.items()]
    suspects, checked = judge_all(cands)
    assert {f.name for f in suspects} == {n for n, (_, leak) in SCENARIOS.items() if leak}
    assert all(not f.suspect for f in checked)
    assert suspects[0].projected_1h is not None


def _go(fn, file="main.go", line=1):
    return Frame(fn, file, line, runtime=Runtime.GO)


def test_go_site_names_map_and_buffer():
    kind, name, where = go_site(
        [_go("main.main"), _go("main.(*Hub).register", line=42), _go("runtime.mapassign_faststr")]
    )
    assert (kind, name) == ("map", "main.(*Hub).register map")
    assert where == "main.(*Hub).register (main.go:42)"
    kind, name, _ = go_site([_go("main.broadcast"), _go("bytes.(*Buffer).Write"), _go("bytes.(*Buffer).grow")])
    assert (kind, name) == ("buffer", "main.broadcast bytes.Buffer")
    kind, name, _ = goroutine_site([_go("main.worker"), _go("runtime.chanrecv1"), _go("runtime.gopark")])
    assert kind == "goroutines" and name.startswith("goroutines in main.worker")


def test_go_site_is_the_users_frame_not_the_library_it_writes_through():
    # the profile alone: no source on this machine, stdlib files under GOROOT
    lib = "/usr/lib/go/src"
    stack = [
        _go("runtime.goexit", f"{lib}/runtime/asm_amd64.s", 1571),
        _go("main.leakEvery.func1", "/srv/app/leaks.go", 70),
        _go("main.(*AuditLog).write", "/srv/app/leaks.go", 44),
        _go("fmt.Fprintf", f"{lib}/fmt/print.go", 205),
        _go("bytes.(*Buffer).Write", f"{lib}/bytes/buffer.go", 172),
        _go("bytes.(*Buffer).grow", f"{lib}/bytes/buffer.go", 144),
        _go("bytes.growSlice", f"{lib}/bytes/buffer.go", 249),
    ]
    kind, name, where = go_site(stack)
    assert (kind, name) == ("buffer", "main.(*AuditLog).write bytes.Buffer")
    assert where == "main.(*AuditLog).write (/srv/app/leaks.go:44)"
    # encoding/json and bufio, and a third-party module from the module cache, are not the user
    stack = [
        _go("example.com/svc/api.(*Server).handle", "/src/svc/api/server.go", 88),
        _go("github.com/acme/kit.Encode", "/root/go/pkg/mod/github.com/acme/kit@v1.2.0/enc.go", 12),
        _go("encoding/json.(*Encoder).Encode", f"{lib}/encoding/json/stream.go", 231),
        _go("bufio.(*Writer).Write", f"{lib}/bufio/bufio.go", 670),
        _go("runtime.growslice", f"{lib}/runtime/slice.go", 180),
    ]
    kind, name, where = go_site(stack)
    assert (kind, name) == ("list", "example.com/svc/api.(*Server).handle slice")
    assert where.startswith("example.com/svc/api.(*Server).handle (")


def test_go_user_frame_rules():
    assert is_go_user_frame(_go("main.main"))
    assert is_go_user_frame(_go("github.com/a/b.(*T).f", "/home/me/b/t.go"))
    assert not is_go_user_frame(_go("github.com/a/b.(*T).f", "/home/me/app/vendor/github.com/a/b/t.go"))
    assert not is_go_user_frame(_go("net/http.(*conn).serve"))
    assert not is_go_user_frame(_go("vendor/golang.org/x/net/http2/hpack.(*Decoder).Write"))
    assert not is_go_user_frame(_go("runtime.mapassign_fast64"))
    assert go_package("net/http.(*conn).serve") == "net/http"


def test_goroutine_site_names_the_user_function_and_the_blocking_call():
    _kind, name, where = goroutine_site(
        [_go("runtime.goexit"), _go("main.leakBlocked.func1", line=9), _go("runtime.chanrecv1"),
         _go("runtime.chanrecv"), _go("runtime.gopark")]
    )  # fmt: skip
    assert name == "goroutines in main.leakBlocked.func1 blocked in runtime.chanrecv1"
    assert where == "main.leakBlocked.func1 (main.go:9)"


def test_site_stacks_are_frames_with_locations_root_first():
    tr = SiteTracker("go-heap")
    p = Profile([INUSE_SPACE])
    p.add_stack(
        [_go("main.main", line=3), _go("main.(*Hub).register", line=42), _go("runtime.mapassign_faststr")], [1e5]
    )
    tr.observe(0.0, p)
    (site,) = tr.sites.values()
    assert site.stack == [
        "main.main (main.go:3)", "main.(*Hub).register (main.go:42)", "runtime.mapassign_faststr (main.go:1)"
    ]  # fmt: skip


def test_site_tracker_flags_growing_site_not_stable_one():
    tr = SiteTracker("go-heap")
    for i, t in enumerate(T):
        p = Profile([INUSE_SPACE])
        p.add_stack([_go("main.main"), _go("main.(*Hub).register"), _go("runtime.mapassign_faststr")], [1e5 * (i + 1)])
        p.add_stack([_go("main.main"), _go("main.loadConfig"), _go("runtime.growslice")], [5e5])
        tr.observe(float(t), p)
    suspects, checked = judge_all(tr.candidates("bytes", min_abs_growth=64 * 1024))
    assert [f.name for f in suspects] == ["main.(*Hub).register map"]
    assert [f.name for f in checked] == ["main.loadConfig slice"]


def test_site_tracker_is_bounded():
    tr = SiteTracker("go-heap", max_sites=10)
    for i in range(50):
        p = Profile([INUSE_SPACE])
        p.add_stack([_go(f"main.f{i}")], [float(i + 1)])
        tr.observe(float(i), p)
    assert len(tr.sites) <= 10


def test_doubling_buffer_is_still_growing_between_steps():
    # capacity doubles at 4, 8, 16, 32 s: flat stretches get longer but growth goes on
    t = np.arange(0, 50, 1.0)
    v = np.select([t < 4, t < 8, t < 16, t < 32], [8, 16, 32, 64], 128) * 1024.0
    f = judge(Candidate("buffer", "buf", "", "bytes", t, v))
    assert f.suspect, f.evidence


def test_filled_cache_after_long_flat_is_plateau():
    t = np.arange(0, 60, 1.0)
    v = np.minimum(t, 10) * 1024.0
    f = judge(Candidate("map", "lru", "", "bytes", t, v))
    assert not f.suspect and f.evidence.startswith("bounded")


def test_doubling_buffer_with_small_noise_is_still_a_leak():
    # a bytes.Buffer written through fmt.Fprintf: two doublings in the window, and the
    # printer pool's few hundred bytes coming and going between them
    t = np.arange(0, 40, 2.0)
    v = np.select([t < 10, t < 30], [160, 320], 640) * 1024.0 + np.tile([0.0, 208.0, 416.0, 208.0], 5)
    f = judge(Candidate("buffer", "buf", "", "bytes", t, v))
    assert f.suspect, f.evidence


def test_ttl_cache_with_churn_noise_after_filling_is_plateau():
    t = np.arange(0, 40, 2.0)
    v = np.minimum(t, 17) * 28 * 1024.0 + np.tile([0.0, 3000.0, -2000.0, 1000.0], 5)
    f = judge(Candidate("map", "ttl", "", "bytes", t, v))
    assert not f.suspect and "plateau" in f.evidence, f.evidence


def test_ttl_cache_filled_early_then_creeping_by_bytes_is_plateau():
    """Go's 25 s TTL-cache decoy, 60 s watched (make bench flagged it): filled in the first
    quarter, then level but for a creep of ~0.5 KiB/s (map buckets after churn). Against the
    small median slope of a mostly level window that creep looked like a steady tail; at its own
    rate it is far under the 256 KiB a Go heap site must grow to count."""
    kib = 1024.0
    v = np.where(T < 22, (200 + 22 * T) * kib, (684 + 0.5 * (T - 22)) * kib)
    f = judge(Candidate("map", "main.(*TTLCache).Set map", "here", "bytes", T, v, min_abs_growth=256 * kib))
    assert f is not None and not f.suspect, f.evidence
    assert "under the smallest growth that counts" in f.evidence, f.evidence


def test_doubling_buffer_caught_mid_copy_a_few_times_is_still_a_leak():
    """A bytes.Buffer that doubles frees its old array only at the next GC: a snapshot between
    may hold both (a spike of 1.5x). Over a long watch a few such spikes must not read as a
    container that is cleared again and again."""
    t = np.arange(0, 600, 2.0)
    v = 64 * 1024 * 2.0 ** np.floor(t / 90)  # doubles every 90 s
    for i in (45, 135, 225):  # right after three doublings, old + new arrays in use
        v[i] *= 1.5
    f = judge(Candidate("buffer", "main.audit bytes.Buffer", "here", "bytes", t, v, min_abs_growth=256 * 1024))
    assert f is not None and f.suspect, f.evidence


def test_ttl_cache_level_with_one_entry_of_jitter_is_plateau():
    """The Python TTL decoy on a clean-clone run: 500 entries, 501 for a moment now and then
    (one set before the sweep). With the level most of the window, the median slope is small,
    and the tail's median slope came out positive by that one entry (tail rate 40 %), though
    the engine calls such steps noise when it counts rising steps; the tail is read with the
    same noise taken out. Random jitter patterns flagged it in 31 of 2000 before, none after."""
    t = np.arange(0, 40, 2.0)
    v = np.array([237, 302.75, 368.5, 434.25] + [500, 500, 500, 500, 501, 500, 500, 501] + [500] * 4 + [501] * 4)
    f = judge(Candidate("map", "TTLCache._entries", "here", "items", t, v))
    assert f is not None and not f.suspect, f.evidence
    rng = np.random.default_rng(1)
    for _ in range(300):
        fill = int(rng.integers(3, 7))
        level = (rng.random(len(t) - fill) < 0.35) + 500.0
        v = np.concatenate([np.linspace(237, 500, fill + 1)[:-1], level])
        f = judge(Candidate("map", "TTLCache._entries", "here", "items", t, v))
        assert f is not None and not f.suspect, (v.tolist(), f.evidence)
