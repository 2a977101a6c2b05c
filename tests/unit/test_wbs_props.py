"""Random sessions survive save/load exactly (hypothesis)."""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import FormatError
from workbench.formats.wbs import load_session, save_session
from workbench.model import SAMPLES, WALL_NS, Frame, Profile, Runtime, Session

frame_st = st.builds(
    Frame,
    st.text(min_size=0, max_size=12),
    st.text(max_size=8),
    st.integers(0, 2**31 - 1),
    st.text(max_size=4),
    st.sampled_from(list(Runtime)),
)
stacks_st = st.lists(
    st.tuples(
        st.lists(frame_st, max_size=6),
        st.tuples(st.integers(0, 2**40), st.one_of(st.integers(0, 2**50).map(float), st.just(5e-324))),
        st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)),
    ),
    max_size=20,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks_st)
def test_random_profiles_round_trip(stacks):
    p = Profile([SAMPLES, WALL_NS], name="p\n<x>")
    for frames, (a, b), t in stacks:
        p.add_stack(frames, [float(a), b], t0=t, t1=None if t is None else t + 0.5)
    s = Session()
    s.profiles["k;\x00"] = p
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.wbs"
        save_session(s, path)
        q = load_session(path).profiles["k;\x00"]
    assert q.name == p.name

    def stacks_of(prof, window=None):
        src = prof if window is None else prof.cut(*window)
        out = {}
        for n in range(prof.n_nodes):
            v = tuple(src.self_values[n].tolist())
            if any(v):
                key = tuple(prof.stack_frames(n))
                out[key] = tuple(x + y for x, y in zip(out.get(key, (0, 0)), v, strict=True))
        return out

    assert stacks_of(q) == stacks_of(p)
    assert stacks_of(q, (0, 5e5)) == stacks_of(p, (0, 5e5))
    assert q.totals().tolist() == p.totals().tolist()


_CLEAN: list[bytes] = []


def _clean_file() -> bytes:
    if not _CLEAN:
        s = Session()
        p = Profile([SAMPLES], name="p")
        for i in range(30):
            p.add_stack([Frame("main"), Frame(f"f{i}", "x.py", i)], [i + 1], t0=float(i), t1=i + 1.0)
        s.profiles["p"] = p
        with tempfile.TemporaryDirectory() as d:
            save_session(s, Path(d) / "c.wbs")
            _CLEAN.append((Path(d) / "c.wbs").read_bytes())
    return _CLEAN[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=8),
    st.one_of(st.none(), st.integers(0, 2**20)),
)
def test_damaged_files_load_or_fail_with_format_error(flips, cut):
    data = bytearray(_clean_file())
    for pos, byte in flips:
        data[100 + pos % (len(data) - 100)] = byte  # keep the header so SQLite parses further
    if cut is not None:
        del data[cut % len(data) :]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "d.wbs"
        path.write_bytes(bytes(data))
        try:
            load_session(path)
        except FormatError as exc:
            assert "\n" not in str(exc) and "fix:" in str(exc)
