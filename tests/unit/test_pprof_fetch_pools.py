"""Pools from expvar DBStats at any depth, Prometheus pool families, and the saturation finding."""

from workbench_builtins.pprof_fetch.pools import MAX_DEPTH, find_dbstats, safe_pool_name
from workbench_builtins.pprof_fetch.prom import parse_metrics
from workbench_builtins.pprof_fetch.saturation import FIX_TEXT, SaturationWatch


def dbstats(*, max_open=10, open_=3, in_use=2, idle=1, waits=0, wait_ns=0):
    return {
        "MaxOpenConnections": max_open,
        "OpenConnections": open_,
        "InUse": in_use,
        "Idle": idle,
        "WaitCount": waits,
        "WaitDuration": wait_ns,
        "MaxIdleClosed": 0,
        "MaxIdleTimeClosed": 0,
        "MaxLifetimeClosed": 0,
    }


def test_dbstats_found_at_any_key_and_depth_in_document_order():
    doc = {
        "cmdline": ["svc"],
        "memstats": {"HeapInuse": 1},
        "db": dbstats(max_open=4),
        "services": {"orders": {"primary": dbstats(max_open=8), "replicas": [dbstats(max_open=2)]}},
        "other": {"InUse": 3, "Idle": 1, "OpenConnections": 4},  # too few DBStats fields: not a pool
    }
    pools = find_dbstats(doc)
    assert [(p.name, p.max_open) for p in pools] == [
        ("db", 4),
        ("services.orders.primary", 8),
        ("services.orders.replicas.0", 2),
    ]
    p = pools[0]
    assert (p.open, p.in_use, p.idle, p.wait_count) == (3, 2, 1, 0)


def test_wait_duration_nanoseconds_become_seconds():
    (p,) = find_dbstats({"db": dbstats(waits=5, wait_ns=2_500_000_000)})
    assert p.wait_s == 2.5
    names = {pt.name for pt in p.points(1.0, lambda s: s)}
    assert names == {f"pool.db.{f}" for f in ("open", "in_use", "idle", "wait_count", "wait_s", "max_open")}


def test_walk_is_bounded_and_iterative_on_hostile_nesting():
    deep: dict = {}
    cur = deep
    for _ in range(100_000):  # far past Python's recursion limit
        nxt: dict = {}
        cur["k"] = nxt
        cur = nxt
    cur["db"] = dbstats()
    assert find_dbstats(deep) == []  # below MAX_DEPTH: not visited, no RecursionError
    shallow = {"a": {"b": dbstats()}}
    assert find_dbstats(shallow, max_depth=MAX_DEPTH)[0].name == "a.b"
    wide = {str(i): [dbstats()] for i in range(1000)}
    assert len(find_dbstats(wide)) == 64  # pool count cap


def test_pool_names_are_sanitised():
    assert safe_pool_name("<script>alert(1)</script>") == "script_alert_1_script"
    assert safe_pool_name("a b\nc") == "a_b_c"
    assert len(safe_pool_name("x" * 1000)) == 80
    doc = {"a b": dbstats(), "a\tb": dbstats()}
    assert [p.name for p in find_dbstats(doc)] == ["a_b", "a_b_2"]


METRICS = """# TYPE go_goroutines gauge
go_goroutines 42
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.5e+06
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0.5"} 0.0001
go_gc_duration_seconds_sum 0.25
go_gc_duration_seconds_count 17
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 3.5
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2.5e+07
# TYPE go_sql_max_open_connections gauge
go_sql_max_open_connections{db_name="orders"} 10
go_sql_open_connections{db_name="orders"} 10
go_sql_in_use_connections{db_name="orders"} 10
go_sql_idle_connections{db_name="orders"} 0
# TYPE go_sql_wait_count counter
go_sql_wait_count_total{db_name="orders"} 120
# TYPE go_sql_wait_duration_seconds counter
go_sql_wait_duration_seconds_total{db_name="orders"} 4.5
# TYPE go_sql_max_idle_closed counter
go_sql_max_idle_closed_total{db_name="orders"} 3
go_sql_stats_connections_max_open{db_name="users"} 5
go_sql_stats_connections_open{db_name="users"} 2
go_sql_stats_connections_in_use{db_name="users"} 1
go_sql_stats_connections_idle{db_name="users"} 1
go_sql_stats_connections_waited_for{db_name="users"} 7
go_sql_stats_connections_blocked_seconds{db_name="users"} 0.5
pgxpool_acquired_conns{db="main"} 3
pgxpool_idle_conns{db="main"} 1
pgxpool_total_conns{db="main"} 4
pgxpool_max_conns{db="main"} 4
pgxpool_empty_acquire_count{db="main"} 11
go_redis_pool_stats_total_conns 6
go_redis_pool_stats_idle_conns 2
"""


def test_prometheus_runtime_and_pool_families():
    snap = parse_metrics(METRICS)
    assert snap.runtime["go.goroutines"] == (42.0, "count")
    assert snap.runtime["go.heap_inuse_bytes"] == (1.5e6, "bytes")
    assert snap.runtime["go.gc.count"] == (17.0, "count")
    assert snap.runtime["process.rss_bytes"][0] == 2.5e7
    assert snap.cpu_seconds == 3.5 and snap.gc_pause_sum_s == 0.25
    pools = {p.name: p for p in snap.pools}
    assert set(pools) == {"orders", "users", "pgxpool.main", "go_redis_pool_stats"}
    o = pools["orders"]
    assert (o.open, o.in_use, o.idle, o.max_open, o.wait_count, o.wait_s) == (10, 10, 0, 10, 120, 4.5)
    u = pools["users"]
    assert (u.max_open, u.wait_count, u.wait_s) == (5, 7, 0.5)
    g = pools["pgxpool.main"]
    assert (g.open, g.in_use, g.idle, g.max_open, g.wait_count) == (4, 3, 1, 4, 11)
    r = pools["go_redis_pool_stats"]
    assert (r.open, r.idle, r.in_use) == (6, 2, 4)  # in use derived from total - idle


def test_bad_prometheus_text_is_a_typed_error():
    import pytest

    from workbench.errors import FormatError

    with pytest.raises(FormatError, match="not valid Prometheus text"):
        parse_metrics('go_goroutines{a="} 1\n')


def _sample(in_use, waits, max_open=4, open_=None, idle=0):
    (p,) = find_dbstats(
        {
            "db": dbstats(
                max_open=max_open, open_=in_use if open_ is None else open_, in_use=in_use, idle=idle, waits=waits
            )
        }
    )
    return p


def test_saturated_pool_with_rising_waits_is_a_finding():
    w = SaturationWatch("http://svc")
    found = [w.update(_sample(4, 10 * i), float(i)) for i in range(4)]
    f = found[2]  # three polls at max over 2 s with waits rising
    assert found[:2] == [None, None] and f is not None
    assert found[3] is None  # re-emitted at most every reemit_s
    assert f.kind == "pool" and f.name == "db"
    assert FIX_TEXT in f.evidence and "4 of 4" in f.evidence
    assert f.growth_per_min > 0 and 0 < f.confidence <= 0.95
    assert f.target == "http://svc#pool:db"
    again = w.update(_sample(4, 200), 13.0)
    assert again is not None and again.target == f.target  # replaces the earlier one in the session


def test_no_finding_without_waits_below_max_or_unlimited():
    flat = SaturationWatch("t")
    assert all(flat.update(_sample(4, 5), float(i)) is None for i in range(10))  # at max, nobody waits
    below = SaturationWatch("t")
    assert all(below.update(_sample(3, 10 * i, open_=4, idle=1), float(i)) is None for i in range(10))
    unlimited = SaturationWatch("t")
    assert all(unlimited.update(_sample(50, 10 * i, max_open=0), float(i)) is None for i in range(10))
    dip = SaturationWatch("t")
    for i, in_use in enumerate([4, 4, 3, 4, 4]):  # the stretch at max is broken by a dip
        assert dip.update(_sample(in_use, 10 * i), float(i)) is None
