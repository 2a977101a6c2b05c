"""MemStats from expvar and heap?debug=1, and GC pauses from the 256-entry ring without double counting."""

from workbench_builtins.pprof_fetch.memstats import (
    RING,
    GcPauseTracker,
    MemStats,
    memstats_from_expvar,
    memstats_from_heap_debug,
    memstats_points,
)

NOW = 1_800_000_000.0


def ring_with(num_gc: int, first_gc: int = 1) -> tuple[list[int], list[int]]:
    """PauseNs/PauseEnd as Go fills them: GC n at index (n+255)%256, pause n*1000 ns, ended at NOW-1+n/1000."""
    pause = [0] * RING
    end = [0] * RING
    for n in range(max(first_gc, num_gc - RING + 1), num_gc + 1):
        i = (n + RING - 1) % RING
        pause[i] = n * 1000
        end[i] = int((NOW - 1 + n / 1000) * 1e9)
    return pause, end


def ms(num_gc: int) -> MemStats:
    pause, end = ring_with(num_gc)
    return MemStats(heap_inuse=1.0, num_gc=num_gc, pause_ns=pause, pause_end=end)


def test_expvar_memstats_fields():
    pause, end = ring_with(3)
    doc = {"HeapInuse": 4096, "HeapObjects": 12, "NumGC": 3, "GCCPUFraction": 0.01, "PauseNs": pause, "PauseEnd": end}
    m = memstats_from_expvar(doc)
    assert m is not None
    assert (m.heap_inuse, m.heap_objects, m.num_gc, m.gc_cpu_fraction) == (4096, 12, 3, 0.01)
    assert m.pause_ns[2] == 3000
    assert memstats_from_expvar({"cmdline": []}) is None


def test_heap_debug_block_parsed_from_the_end():
    pause, end = ring_with(2)
    text = (
        "heap profile: 1: 2 [3: 4] @ heap/1048576\n1: 2 [3: 4] @ 0x1\n#\t0x1\tmain.main+0x1\t/x.go:1\n\n"
        "# runtime.MemStats\n# Alloc = 10\n# HeapInuse = 8192\n# HeapObjects = 7\n"
        f"# PauseNs = [{' '.join(map(str, pause))}]\n# PauseEnd = [{' '.join(map(str, end))}]\n"
        "# NumGC = 2\n# NumForcedGC = 0\n# GCCPUFraction = 0.25\n# DebugGC = false\n"
    )
    m = memstats_from_heap_debug(text)
    assert m is not None
    assert (m.heap_inuse, m.heap_objects, m.num_gc, m.gc_cpu_fraction) == (8192, 7, 2, 0.25)
    assert m.pause_ns[1] == 2000 and len(m.pause_end) == RING
    assert memstats_from_heap_debug("heap profile: nothing here") is None


def test_first_poll_is_a_baseline_then_one_point_per_new_gc():
    tr = GcPauseTracker()
    assert tr.update(ms(10), NOW) == []
    got = tr.update(ms(13), NOW)
    assert [p for _, p in got] == [11000, 12000, 13000]
    assert all(NOW - 1 < t < NOW for t, _ in got)  # the service's PauseEnd times
    assert tr.update(ms(13), NOW) == []  # polling again without a GC adds nothing


def test_ring_wraps_at_256():
    tr = GcPauseTracker()
    tr.update(ms(250), NOW)
    got = tr.update(ms(260), NOW)
    assert [p for _, p in got] == [n * 1000 for n in range(251, 261)]


def test_more_than_256_gcs_between_polls_counts_the_missed_ones():
    tr = GcPauseTracker()
    tr.update(ms(10), NOW)
    got = tr.update(ms(10 + 300), NOW)
    assert len(got) == RING
    assert tr.missed == 300 - RING
    assert got[0][1] == (310 - RING + 1) * 1000


def test_restart_resets_the_baseline_and_far_clocks_fall_back_to_poll_time():
    tr = GcPauseTracker()
    tr.update(ms(100), NOW)
    assert tr.update(ms(5), NOW) == []  # NumGC went down: a new process
    pause, _ = ring_with(6)
    skewed = MemStats(num_gc=6, pause_ns=pause, pause_end=[1] * RING)  # a clock near 1970
    assert tr.update(skewed, NOW) == [(NOW, 6000.0)]


def test_series_points_use_design_names_and_the_name_mapper():
    tr = GcPauseTracker()
    m = MemStats(heap_inuse=5.0, heap_objects=6.0, num_gc=1, gc_cpu_fraction=0.5, pause_ns=[0] * RING)
    names = {p.name for p in memstats_points(m, NOW, tr, lambda s: s)}
    assert names == {"go.heap_inuse_bytes", "go.heap_objects", "go.gc.count", "go.gc.cpu_fraction"}
    labelled = {p.name for p in memstats_points(m, NOW, tr, lambda s: s + "@gw")}
    assert "go.heap_inuse_bytes@gw" in labelled
