"""Column selection and cumulative deltas: the per-fetch work on decoded profiles (no network)."""

import numpy as np
from workbench_builtins.pprof_fetch.profiles import CumulativeDelta, column_indices, select_columns

from workbench.model import ALLOC_OBJECTS, ALLOC_SPACE, INUSE_OBJECTS, INUSE_SPACE, Frame, FrameTable, Profile
from workbench.model.profile import stackset_from_lists

HEAP_TYPES = (ALLOC_OBJECTS, ALLOC_SPACE, INUSE_OBJECTS, INUSE_SPACE)  # Go's heap profile order


def heap_profile() -> Profile:
    p = Profile(HEAP_TYPES)
    main, cache, tmp = Frame("main.main"), Frame("main.fill"), Frame("main.scratch")
    p.add_stack([main, cache], [10, 1000, 5, 500])  # alloc and still in use
    p.add_stack([main, tmp], [20, 2000, 0, 0])  # allocated and freed
    return p


def stacks_of(ss) -> dict[tuple[str, ...], list[float]]:
    return {tuple(ss.table[int(f)].function for f in ss.stack(i)): list(ss.values[i]) for i in range(len(ss))}


def test_select_columns_drops_rows_that_are_zero_in_the_chosen_columns():
    p = heap_profile()
    cols = column_indices(p, ("inuse_space", "inuse_objects"))
    assert cols == [3, 2]
    ss, types = select_columns(p, cols)
    assert types == (INUSE_SPACE, INUSE_OBJECTS)
    assert stacks_of(ss) == {("main.main", "main.fill"): [500.0, 5.0]}
    alloc, _ = select_columns(p, column_indices(p, ("alloc_space", "alloc_objects")))
    assert stacks_of(alloc) == {
        ("main.main", "main.fill"): [1000.0, 10.0],
        ("main.main", "main.scratch"): [2000.0, 20.0],
    }
    assert column_indices(p, ("cpu",)) is None


def _ss(table: FrameTable, rows: dict[tuple[str, ...], float]):
    stacks = [[table.intern(Frame(f)) for f in k] for k in rows]
    return stackset_from_lists(table, stacks, [[v] for v in rows.values()])


def test_cumulative_delta_reports_growth_per_stack():
    d = CumulativeDelta((ALLOC_SPACE,))
    t = FrameTable()
    first, base = d.update(_ss(t, {("a", "b"): 100, ("a", "c"): 50}))
    assert base and stacks_of(first) == {("a", "b"): [100.0], ("a", "c"): [50.0]}
    t2 = FrameTable()  # every fetch decodes into a fresh frame table
    second, base2 = d.update(_ss(t2, {("a", "b"): 130, ("a", "c"): 50, ("a", "d"): 7}))
    assert not base2
    assert stacks_of(second) == {("a", "b"): [30.0], ("a", "d"): [7.0]}
    third, _ = d.update(_ss(FrameTable(), {("a", "b"): 130, ("a", "c"): 50, ("a", "d"): 7}))
    assert len(third) == 0  # nothing new


def test_a_service_restart_starts_a_new_baseline():
    d = CumulativeDelta((ALLOC_SPACE,))
    d.update(_ss(FrameTable(), {("a", "b"): 1000}))
    after, base = d.update(_ss(FrameTable(), {("a", "b"): 10}))
    assert base and d.restarts == 1
    assert stacks_of(after) == {("a", "b"): [10.0]}


def test_select_columns_keeps_deep_stacks_intact():
    p = Profile(HEAP_TYPES)
    deep = [Frame(f"f{i}") for i in range(3000)]
    p.add_stack(deep, [1, 1, 0, 0])
    p.add_stack(deep[:10], [1, 1, 1, 1])
    ss, _ = select_columns(p, [3])
    assert len(ss) == 1 and len(ss.stack(0)) == 10
    ss2, _ = select_columns(p, [0])
    lengths = sorted(int(n) for n in np.diff(ss2.offsets))
    assert lengths == [10, 3000]


def test_profile_choices_cover_the_cli_and_leaks():
    from workbench_builtins.pprof_fetch.capture import PROFILE_CHOICES, _profile_kinds

    assert {"cpu", "heap", "allocs", "goroutine", "mutex", "block"} <= set(PROFILE_CHOICES)
    assert _profile_kinds("leaks") == ["heap", "goroutine"]  # what `workbench leaks --url` asks for
    assert _profile_kinds("none") == []
    assert _profile_kinds("auto") == ["cpu", "heap", "goroutine"]  # a live session feeds the leak engine too
    assert len(_profile_kinds("all")) == 6
