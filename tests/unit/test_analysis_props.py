"""Properties of the analysis operations on random profiles (hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.analysis.diff import diff
from workbench.analysis.filters import focus, hide, ignore, show
from workbench.analysis.invert import invert
from workbench.analysis.prune import prune
from workbench.analysis.sandwich import callees, callers
from workbench.analysis.top import top_functions
from workbench.model import SAMPLES, Frame, Profile

NAMES = ["a", "b", "c", "d", "e"]

stacks_st = st.lists(
    st.tuples(st.lists(st.sampled_from(NAMES), min_size=0, max_size=8), st.integers(1, 50)),
    min_size=0,
    max_size=25,
)


def build(stacks):
    p = Profile([SAMPLES])
    for i, (names, v) in enumerate(stacks):
        p.add_stack([Frame(n) for n in names], [v], t0=float(i), t1=float(i) + 1)
    return p


def as_dict(p):
    ss = p.to_stackset()
    out = {}
    for i in range(len(ss)):
        key = tuple(p.frames[int(f)].function for f in ss.stack(i))
        out[key] = out.get(key, 0) + float(ss.values[i, 0])
    return {k: v for k, v in out.items() if v}


def expected(stacks):
    out = {}
    for names, v in stacks:
        out[tuple(names)] = out.get(tuple(names), 0) + v
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks_st, st.sampled_from(NAMES))
def test_operations_agree_with_a_plain_python_model(stacks, name):
    p = build(stacks)
    total = float(sum(v for _, v in stacks))
    assert as_dict(invert(invert(p))) == expected(stacks)
    assert {k[::-1]: v for k, v in as_dict(invert(p)).items()} == expected(stacks)
    rx = f"^{name}$"
    has = [(n, v) for n, v in stacks if name in n]
    assert as_dict(focus(p, rx)) == expected(has)
    assert as_dict(ignore(p, rx)) == expected([(n, v) for n, v in stacks if name not in n])
    assert as_dict(hide(p, rx)) == expected([([x for x in n if x != name], v) for n, v in stacks])
    assert as_dict(show(p, rx)) == expected([([x for x in n if x == name], v) for n, v in stacks])
    rows = {r.frame.function: r for r in top_functions(p)}
    for fn in NAMES:
        want_total = sum(v for n, v in stacks if fn in n)
        want_self = sum(v for n, v in stacks if n and n[-1] == fn)
        got = rows.get(fn)
        assert (got.total_values[0] if got else 0) == want_total
        assert (got.self_values[0] if got else 0) == want_self
    fid = p.frames.find(Frame(name))
    if fid is not None:
        assert as_dict(callees(p, fid)) == expected([(n[n.index(name) :], v) for n, v in has])
        last = [len(n) - 1 - n[::-1].index(name) for n, _ in has]
        assert as_dict(callers(p, fid)) == expected(
            [(n[: i + 1][::-1], v) for (n, v), i in zip(has, last, strict=True)]
        )
    for budget in (1, 3, 10):
        q = prune(p, budget)
        assert float(q.totals()[0]) == total
    d = diff(p, invert(p), normalize=False)
    assert np.all(d.base_total[0] == total) and np.all(d.delta_total[0] == 0)
    # windows survive every transform
    if stacks:
        mid = len(stacks) / 2
        want = float(sum(v for _, v in stacks[: int(np.ceil(mid))]))
        assert float(invert(p).cut(0, np.ceil(mid)).totals()[0]) == want
        assert float(prune(p, 3).cut(0, np.ceil(mid)).totals()[0]) == want
