"""Trigger rules: syntax, the engine's firing logic on a fed session, and a real target crossing a threshold."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from tests.helpers.targets import run_target
from workbench.capture.api import CaptureStatus, Sink
from workbench.capture.triggers import TriggerEngine, TriggerSyntaxError, parse_trigger
from workbench.cli.main import main
from workbench.formats.wbs import load_session
from workbench.model import (
    SAMPLES,
    Frame,
    FrameTable,
    ProfileBatch,
    SeriesBatch,
    SeriesPoint,
    Session,
    stackset_from_lists,
)

# ----------------------------------------------------------------------------------- syntax


def test_parse_rules() -> None:
    r = parse_trigger("process.rss_bytes>200e6 for 5s -> cpu 10s")
    assert (r.metric, r.op, r.threshold, r.for_s, r.kind, r.capture_s, r.rate) == (
        "process.rss_bytes",
        ">",
        200e6,
        5.0,
        "cpu",
        10.0,
        False,
    )
    r = parse_trigger("rate(pool.*.wait_count) >= 5 for 500ms -> heap 1m")
    assert (r.metric, r.op, r.for_s, r.kind, r.capture_s, r.rate) == (
        "pool.*.wait_count",
        ">=",
        0.5,
        "heap",
        60.0,
        True,
    )
    assert r.matches("pool.db.wait_count") and not r.matches("pool.db.wait_s")
    assert parse_trigger("python.gc.pause_s>0.05->cpu 2").for_s == 0.0


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("rss > lots -> cpu 5s", "cannot read trigger 'rss > lots -> cpu 5s'"),
        ("x>>1 -> cpu 5s", "cannot read trigger 'x>>1 -> cpu 5s'"),
        (
            "x>1 -> disk 5s",
            "trigger 'x>1 -> disk 5s' captures 'disk'; fix: capture one of cpu, wall, heap, allocs, goroutine, mutex, block",
        ),
        ("x>1 -> cpu 0s", "trigger 'x>1 -> cpu 0s' captures for 0 s"),
        ("x>1 -> cpu 2h", "cannot read trigger"),
    ],
)
def test_bad_rules_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: str, message: str
) -> None:
    with pytest.raises(TriggerSyntaxError):
        parse_trigger(rule)
    rc = main(["record", "--pid", "1", "--trigger", rule, "-o", str(tmp_path / "x.wbs")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "; fix: " in err and message in err, err
    assert not (tmp_path / "x.wbs").exists()  # refused before attaching to anything


# ------------------------------------------------------------------------- engine on a feed


class _OneShot:
    """A finished capture: puts one profile batch into the sink when started (stands in for a backend's output)."""

    def __init__(self, sink: Sink, kind: str) -> None:
        table = FrameTable()
        stacks = stackset_from_lists(table, [[table.intern(Frame("main")), table.intern(Frame(kind))]], [[3.0]])
        sink.put(ProfileBatch(f"src:{kind}", (SAMPLES,), stacks, 0.0, 1.0, source="src"))
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.stopped.set()

    def status(self) -> CaptureStatus:
        return CaptureStatus(running=False)

    def join(self, timeout: float | None = None) -> bool:
        return True


def feed(session: Session, name: str, points: list[tuple[float, float]]) -> None:
    for t, v in points:
        session.put(SeriesBatch([SeriesPoint(name, t, v, "")]))


def engine(session: Session, *rules: str, starts: list[str]) -> TriggerEngine:
    def starter(kind: str, seconds: float, sink: Sink) -> _OneShot:
        starts.append(kind)
        return _OneShot(sink, kind)

    return TriggerEngine(session, [parse_trigger(r) for r in rules], starter, target="pid:1").start()


def wait_events(session: Session, kind: str, n: int) -> None:
    import time

    deadline = time.monotonic() + 10
    while sum(e.kind == kind for e in session.events) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def test_fires_once_the_condition_held_for_its_duration() -> None:
    s = Session()
    starts: list[str] = []
    eng = engine(s, "process.rss_bytes>100 for 2s -> cpu 0.05s", starts=starts)
    feed(s, "process.rss_bytes", [(0, 50), (1, 150), (2, 150)])  # held 1 s only
    assert eng.stats.fired == 0
    feed(s, "process.rss_bytes", [(3, 160)])  # held 2 s
    wait_events(s, "trigger-done", 1)
    feed(s, "process.rss_bytes", [(4, 170), (5, 180)])  # same excursion: no second firing
    eng.stop()
    assert eng.stats.fired == 1 and eng.stats.captured == 1 and starts == ["cpu"]
    assert s.profile_keys() == ["trigger1:src:cpu"]
    assert s.profiles["trigger1:src:cpu"].meta["trigger"] == "trigger1"
    [fired] = [e for e in s.events if e.kind == "trigger"]
    assert fired.text.startswith("trigger1: process.rss_bytes=160 (process.rss_bytes>100 for 2s -> cpu 0.05s)")
    assert fired.target == "pid:1"


def test_rearms_after_the_condition_turns_false() -> None:
    s = Session()
    starts: list[str] = []
    eng = engine(s, "process.cpu_percent>=80 -> heap 0.01s", starts=starts)
    feed(s, "process.cpu_percent", [(0, 90)])
    wait_events(s, "trigger-done", 1)
    while eng._busy.is_set():  # the worker frees itself just after marking the end
        threading.Event().wait(0.01)
    feed(s, "process.cpu_percent", [(1, 10), (2, 95)])
    wait_events(s, "trigger-done", 2)
    eng.stop()
    assert starts == ["heap", "heap"]
    assert sorted(s.profile_keys()) == ["trigger1:src:heap", "trigger2:src:heap"]


def test_rate_of_a_counter_with_a_glob() -> None:
    s = Session()
    starts: list[str] = []
    eng = engine(s, "rate(pool.*.wait_count)>5 for 1s -> cpu 0.01s", starts=starts)
    feed(s, "pool.db.wait_s", [(0, 0), (1, 100), (2, 200)])  # not a match
    feed(s, "pool.db.wait_count", [(0, 0), (1, 3), (2, 6)])  # 3/s: below
    assert eng.stats.fired == 0
    feed(s, "pool.db.wait_count", [(3, 20), (4, 40)])  # 14/s, then 20/s for 1 s
    wait_events(s, "trigger-done", 1)
    eng.stop()
    assert starts == ["cpu"] and eng.stats.fired == 1


def test_a_failing_start_is_marked_not_raised() -> None:
    from workbench.errors import TargetNotFound

    s = Session()

    def starter(kind: str, seconds: float, sink: Sink) -> _OneShot:
        raise TargetNotFound("no process with PID 1", "check the PID")

    eng = TriggerEngine(s, [parse_trigger("go.goroutines>10 -> cpu 1s")], starter).start()
    feed(s, "go.goroutines", [(0, 11)])
    wait_events(s, "trigger-failed", 1)
    eng.stop()
    assert eng.stats.failed == 1
    assert [e.text for e in s.events if e.kind == "trigger-failed"] == [
        "trigger1: no process with PID 1; fix: check the PID"
    ]


# --------------------------------------------------------------------------- a real target

# RSS starts small, then ~150 MB is held while a hot loop runs: the rule must fire and py-spy see the loop
GROWS = textwrap.dedent(
    """
    import time
    print("TARGET_READY", flush=True)
    time.sleep(1.5)
    hold = [bytearray(1 << 20) for _ in range(150)]
    for b in hold:
        b[::4096] = b"x" * len(b[::4096])  # touch every page so RSS really grows

    def busy_after_growth():
        x = 0
        for i in range(100_000):
            x += i % 7
        return x

    while True:
        busy_after_growth()
    """
)


def test_record_with_a_trigger_on_a_real_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.wbs"
    rule = "process.rss_bytes>100e6 for 1s -> cpu 2s"
    with run_target(GROWS) as proc:
        rc = main(
            ["record", "--pid", str(proc.pid), "--source", "procstats", "--trigger", rule, "-d", "8", "-o", str(out)]
        )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "triggers: 1 fired, 1 captured" in err, err
    session = load_session(str(out))
    [key] = [k for k in session.profile_keys() if k.startswith("trigger1:pyspy:")]
    prof = session.profiles[key]
    assert prof.totals()[0] > 0
    assert "busy_after_growth" in {f.function for f in prof.frames}
    kinds = [e.kind for e in session.events]
    assert "trigger" in kinds and "trigger-done" in kinds
    fired = next(e for e in session.events if e.kind == "trigger")
    rss = session.series["process.rss_bytes"]
    assert rss.max_value > 100e6
    assert fired.t >= float(rss.times[0]) + 1.0  # after the threshold held for its second
