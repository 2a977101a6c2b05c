"""Property tests for every reader: any bytes in, a Profile or a typed FormatError out, in bounded memory.

Short hypothesis runs (they are part of ``make test``); the long coverage-guided runs
are ``make fuzz`` (``tests/fuzz/run.py``). Inputs are raw bytes, seeds from
``tests/fuzz/corpus`` with byte-level mutations, and structured documents
(collapsed lines, speedscope JSON) with hostile values in every field. Memory is
bounded by tracemalloc's peak (numpy's buffers are traced too); time is bounded per
example by the readers' own limits (no wall-clock assertions on a shared machine).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import FormatError
from workbench.formats import ReadLimits, read_profiles
from workbench.formats.collapsed import read_collapsed
from workbench.formats.pprof import read_pprof
from workbench.formats.speedscope import read_speedscope
from workbench.model import Profile

CORPUS = Path(__file__).parent / "corpus"
PEAK_BYTES = 96 << 20  # for inputs of at most a few KiB, whatever they claim inside
LIMITS = ReadLimits(max_decompressed_bytes=16 << 20, max_frames=50_000, max_nodes=200_000, max_total_frames=2_000_000)

PROPS = settings(
    max_examples=int(os.environ.get("WB_PROP_EXAMPLES", "120")),
    deadline=None,  # a loaded CI box must not turn slowness into a failure; limits bound the work
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


def seeds(kind: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((CORPUS / kind).iterdir()) if p.is_file()][:40]


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    b = bytearray(draw(st.sampled_from(seeds(kind))))
    for _ in range(draw(st.integers(1, 8))):
        if not b:
            break
        i = draw(st.integers(0, len(b) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        if op == "flip":
            b[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del b[i : i + draw(st.integers(1, 64))]
        elif op == "insert":
            b[i:i] = draw(st.binary(min_size=1, max_size=16))
        else:
            b[i:i] = b[i : i + draw(st.integers(1, 64))]
    return bytes(b)


def check(read: Callable[[bytes], object], data: bytes) -> None:
    """The contract: a profile (or list of them) or a FormatError with a fix, in bounded memory."""
    tracemalloc.start()
    try:
        out = read(data)
    except FormatError as exc:
        assert exc.fix and "\n" not in str(exc)
        out = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"peak {peak} bytes for a {len(data)}-byte input"
    if out is not None:
        profiles = out if isinstance(out, list) else [out]
        for p in profiles:
            assert isinstance(p, Profile)
            assert p.n_nodes >= 1 and (p.parent[1:] < range(1, p.n_nodes)).all()  # parents precede children


def pprof(data: bytes) -> object:
    return read_pprof(data, limits=LIMITS)


def collapsed(data: bytes) -> object:
    return read_collapsed(data, limits=LIMITS)


def speedscope(data: bytes) -> object:
    return read_speedscope(data, limits=LIMITS)


# ---------------------------------------------------------------------------------- pprof


@PROPS
@given(st.binary(max_size=2048))
def test_pprof_any_bytes(data: bytes) -> None:
    check(pprof, data)


@PROPS
@given(mutated("pprof"))
def test_pprof_mutated_seeds(data: bytes) -> None:
    check(pprof, data)
    check(pprof, gzip.compress(data, 1))


# ------------------------------------------------------------------------------ collapsed

NAMES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["</script>", '"><img src=x onerror=alert(1)>', "]]>", "{{7*7}}", "\x00", "\x1b[31m", "a (b.py:0)"]
    ),
)
COUNTS = st.one_of(
    st.integers(-5, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "1e400", "0x10", "nan", "1_000", "٣"]),
)


@PROPS
@given(st.lists(st.tuples(st.lists(NAMES, max_size=30), COUNTS), max_size=20), st.sampled_from(["\n", "\r\n", "\r"]))
def test_collapsed_structured(lines: list[tuple[list[str], str]], eol: str) -> None:
    text = eol.join(f"{';'.join(stack)} {count}" for stack, count in lines)
    check(collapsed, text.encode("utf-8", "surrogatepass"))


@PROPS
@given(st.one_of(st.binary(max_size=2048), mutated("collapsed")))
def test_collapsed_any_bytes(data: bytes) -> None:
    check(collapsed, data)


# ----------------------------------------------------------------------------- speedscope

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**30), 10**30),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20,
)
FRAME = st.fixed_dictionaries({"name": NAMES}, optional={"file": JSON_VALUES, "line": JSON_VALUES, "col": JSON_VALUES})
PROFILE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["sampled", "evented", "other"]),
        "unit": st.sampled_from(["none", "nanoseconds", "bytes", "weird"]),
        "name": JSON_VALUES,
        "startValue": JSON_VALUES,
        "endValue": JSON_VALUES,
    },
    optional={
        "samples": st.lists(st.lists(st.integers(-2, 6), max_size=10), max_size=8),
        "weights": st.lists(st.one_of(st.integers(-1, 10**6), st.floats()), max_size=8),
        "events": st.lists(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["O", "C", "X"]), "at": JSON_VALUES, "frame": st.integers(-1, 6)}
            ),
            max_size=10,
        ),
    },
)


@PROPS
@given(st.lists(FRAME, max_size=6), st.lists(PROFILE, max_size=3), JSON_VALUES)
def test_speedscope_structured(
    frames: list[dict[str, object]], profiles: list[dict[str, object]], extra: object
) -> None:
    doc = {"$schema": "https://www.speedscope.app/file-format-schema.json", "shared": {"frames": frames}}
    doc["profiles"] = profiles
    doc["exporter"] = extra
    check(speedscope, json.dumps(doc, allow_nan=True).encode())


@PROPS
@given(st.binary(max_size=1024))
def test_speedscope_any_bytes(data: bytes) -> None:
    check(speedscope, b'{"$schema": "https://www.speedscope.app/file-format-schema.json", ' + data)


# --------------------------------------------------------------- files: wbs, memray, dispatch


def _read_file(suffix: str) -> Callable[[bytes], object]:
    def read(data: bytes) -> object:
        fd, path = tempfile.mkstemp(suffix=suffix)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return read_profiles(path, limits=LIMITS)
        finally:
            os.unlink(path)

    return read


@settings(PROPS, max_examples=40)
@given(st.binary(max_size=4096).map(lambda b: b"SQLite format 3\x00" + b))
def test_wbs_any_bytes(data: bytes) -> None:
    check(_read_file(".wbs"), data)


@settings(PROPS, max_examples=40)
@given(st.one_of(st.binary(max_size=2048).map(lambda b: b"memray" + b), st.binary(max_size=256)))
def test_memray_any_bytes(data: bytes) -> None:
    check(_read_file(".bin"), data)


@settings(PROPS, max_examples=60)
@given(st.binary(max_size=1024), st.sampled_from(["", ".json", ".gz", ".prof", ".dat"]))
def test_dispatch_sniffs_any_bytes(data: bytes, suffix: str) -> None:
    check(_read_file(suffix), data)
