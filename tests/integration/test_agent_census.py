"""The in-target census, run in this process: naming, bounds, and that it runs no user code.

The agent source is exec'd the way the bootstrap does it (a fresh namespace named
``__workbench_agent__``), so its own objects are excluded exactly as in a target.
"""

from __future__ import annotations

import collections
import gc
import io
import sys
import tracemalloc
import types
from typing import Any, ClassVar

import pytest
from workbench_builtins.agent.inject import AGENT_SOURCE

TOUCHED: list[str] = []


def _agent_ns() -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__workbench_agent__"}
    exec(compile(AGENT_SOURCE.read_text(), str(AGENT_SOURCE), "exec"), ns)
    return ns


class Tricky:
    """Every hook here records that user code ran; the census must not trigger any."""

    def __init__(self) -> None:
        self.items = list(range(64))

    def __getattr__(self, name: str) -> Any:
        TOUCHED.append(f"getattr {name}")
        raise AttributeError(name)

    @property
    def lazy(self) -> dict[int, int]:
        TOUCHED.append("property")
        return {i: i for i in range(100)}

    def __sizeof__(self) -> int:
        TOUCHED.append("sizeof")
        return 1


class Proxy:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        TOUCHED.append("__class__")
        return dict

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        TOUCHED.append("__dict__ property")
        return {"x": list(range(100))}


class SneakyDict(dict):  # type: ignore[type-arg]
    def __len__(self) -> int:
        TOUCHED.append("dict __len__")
        return 0

    def items(self):  # type: ignore[no-untyped-def, override]
        TOUCHED.append("dict items")
        return super().items()

    def __reversed__(self):  # type: ignore[no-untyped-def, override]
        TOUCHED.append("dict __reversed__")
        return super().__reversed__()


class SneakyList(list):  # type: ignore[type-arg]
    def __iter__(self):  # type: ignore[no-untyped-def, override]
        TOUCHED.append("list __iter__")
        return super().__iter__()

    def __getitem__(self, i):  # type: ignore[no-untyped-def, override]
        TOUCHED.append("list __getitem__")
        return super().__getitem__(i)


class Slotted:
    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = collections.deque(range(80))


class Shelf:
    big_class_attr: ClassVar[dict[int, str]] = {i: str(i) for i in range(50)}

    def __init__(self) -> None:
        self.blob = io.BytesIO(b"x" * 40000)
        self.sizes = [Tricky() for _ in range(40)]  # instances whose __sizeof__ is user code


def test_census_names_and_runs_no_user_code(monkeypatch: pytest.MonkeyPatch) -> None:
    gc.collect()  # a census walks every object: no garbage of earlier tests (a window turns automatic GC off)
    tracemalloc.start(2)  # the fill-site lookup reads the newest entries: that must run no user code either
    try:
        _census_no_user_code(monkeypatch)
    finally:
        tracemalloc.stop()


def _census_no_user_code(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("wbtest_app")
    mod.__dict__.update(
        CACHE=list(range(100)),
        tricky=Tricky(),
        proxy=Proxy(),
        slotted=Slotted(),
        shelf=Shelf(),
        Shelf=Shelf,
        small={1: 2},
        # big enough to rank among the 50 largest, whose fill sites are looked up
        SNEAKY_D=SneakyDict((str(i), object()) for i in range(50_000)),
        SNEAKY_L=SneakyList(object() for _ in range(100_000)),
    )
    Shelf.__module__ = "wbtest_app"
    monkeypatch.setitem(sys.modules, "wbtest_app", mod)
    ns = _agent_ns()
    agent = ns["Agent"]({"token": "t", "port_file": "/nonexistent", "census_budget_s": 10.0})
    TOUCHED.clear()
    report = agent.census()
    assert TOUCHED == []
    by_name = {c["name"]: c for c in report["containers"]}
    assert by_name["wbtest_app.CACHE"]["len"] == 100
    assert by_name["wbtest_app.SNEAKY_D"]["len"] == 50_000 and by_name["wbtest_app.SNEAKY_D"]["bytes"] > 0
    assert by_name["wbtest_app.SNEAKY_L"]["len"] == 100_000
    for name in ("wbtest_app.SNEAKY_L", "wbtest_app.SNEAKY_D"):  # where their newest entries were made
        assert f"({__file__}:" in by_name[name]["site"][-1], by_name[name]
        assert by_name[name]["where"] == by_name[name]["site"][-1]
    assert by_name["Tricky.items"]["len"] == 64
    assert by_name["Slotted.buf"]["len"] == 80
    assert by_name["Shelf.big_class_attr"]["len"] == 50
    assert by_name["Shelf.blob"]["kind"] == "buffer" and by_name["Shelf.blob"]["bytes"] >= 40000
    assert "wbtest_app.small" not in by_name
    assert not any("lazy" in n or n.endswith(".x") for n in by_name)
    assert not any(n.startswith(("Agent.", "_Census.", "_Reader.")) for n in by_name)
    assert report["partial"] is False and report["phase"] == "done"


class SessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, str]] = {}
        self.buffer = bytearray()

    def touch(self, i: int) -> None:
        self._sessions[f"s{i}"] = {"token": "x" * 64}
        self.buffer += b"m" * 512


def test_growing_container_gets_its_fill_site_from_a_short_tracemalloc_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mod = types.ModuleType("wbtest_fill")
    mod.__file__ = __file__
    mod.STORE = SessionStore()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wbtest_fill", mod)
    store = mod.STORE  # type: ignore[attr-defined]
    ns = _agent_ns()
    agent = ns["Agent"]({"token": "t", "port_file": "/nonexistent", "census_budget_s": 10.0})
    assert not tracemalloc.is_tracing()
    i = 0

    def fill(n: int) -> None:
        nonlocal i
        for _ in range(n):
            store.touch(i)
            i += 1

    fill(100)
    agent.census()  # first sight: nothing to compare with
    fill(100)
    agent.census()  # it grew: a window opens
    assert tracemalloc.is_tracing() and agent.fill_window_open()
    fill(1000)
    report = agent.census()  # the window is read and closed
    assert not tracemalloc.is_tracing() and not agent.fill_window_open()
    by_name = {c["name"]: c for c in report["containers"]}
    line = SessionStore.touch.__code__.co_firstlineno
    for name, off in (("SessionStore._sessions", 1), ("SessionStore.buffer", 2)):
        where = by_name[name]["where"]
        assert where == f"SessionStore.touch ({__file__}:{line + off})", where
        assert by_name[name]["site"][-1] == where
    # the site stays known without tracing again
    fill(100)
    again = {c["name"]: c for c in agent.census()["containers"]}
    assert again["SessionStore._sessions"]["where"] == by_name["SessionStore._sessions"]["where"]
    assert not tracemalloc.is_tracing()


def test_census_budget_cuts_and_resumes() -> None:
    gc.collect()  # its budget is timed over every object: not over the garbage of earlier tests
    holders = [Tricky() for _ in range(20000)]  # 20000 owners of a 64-item list: a slow heap
    ns = _agent_ns()
    agent = ns["Agent"]({"token": "t", "port_file": "/nonexistent", "census_budget_s": 0.05})
    first = agent.census()
    assert first["partial"] is True and "heap" in first["phase"] and first["dur_s"] < 1.0
    # the heap scan goes on where it was cut: a later census finishes the sweep
    censuses = 1
    while censuses < 100:
        r = agent.census()
        censuses += 1
        if "heap" not in r["phase"]:
            break
    assert "heap" not in r["phase"] and censuses > 2, (r["phase"], r["error"], censuses)
    assert len(holders) == 20000
