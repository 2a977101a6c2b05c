"""py-spy ``record -f raw`` output (collapsed stacks) into a StackSet.

py-spy writes ``frame;frame;... count`` lines, root first. With ``--threads`` the
first frame (after any ``process`` frames from ``--subprocesses``) is
``thread (TID): name``; Python frames are ``function (file:line)``. Our own parser
rather than ``read_collapsed`` whole because the thread frame needs handling: it
drives the thread filter and the tick count, and is dropped unless threads are asked for.

Frames are parsed by the collapsed reader's ``parse_frame``, so a live capture and
a saved py-spy raw file opened later intern to equal frames (diffs line up).

Everything here is untrusted text from the target (function and thread names), so
lines, stacks and the frame cache are all size-capped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from workbench.formats.collapsed import parse_frame
from workbench.model import TRUNCATED_STACK, Frame, FrameTable, StackSet

MAX_FRAMES_PER_STACK = 4096
MAX_LINE_BYTES = 4 << 20
MAX_FRAME_CACHE = 200_000

_THREAD = re.compile(r"^thread \((?P<tid>[0-9A-Fa-fx]+)\)(?:: (?P<name>.*))?$")
_PROCESS = re.compile(r'^process (?P<pid>\d+):"(?P<cmd>.*)"$', re.S)
# a process frame ends at the quote that is followed by the next process or thread frame
_PROCESS_FRAME = re.compile(r'process (?P<pid>\d+):"(?P<cmd>.*?)";(?=process \d+:"|thread \()', re.S)
_RECORD_START = re.compile(r'^(?:process \d+:"|thread \()')
MAX_CMDLINE_CHARS = 200


@dataclass(slots=True)
class RawChunk:
    """One chunk of py-spy output, aggregated by distinct stack."""

    stacks: StackSet
    samples: int  # stack traces kept (after the thread filter)
    ticks: int  # lower bound on sampling intervals: the busiest thread's trace count
    threads: dict[str, int] = field(default_factory=dict)  # thread label -> traces
    skipped_lines: int = 0


class FrameParser:
    """Text frame -> Frame, memoised (a capture sees the same few thousand frames every chunk)."""

    def __init__(self) -> None:
        self._cache: dict[str, Frame] = {}

    def frame(self, text: str) -> Frame:
        f = self._cache.get(text)
        if f is None:
            if len(self._cache) >= MAX_FRAME_CACHE:
                self._cache.clear()  # bounded: a pathological target just costs re-parsing
            f = parse_frame(text)  # the collapsed reader's, so live and imported frames are equal
            self._cache[text] = f
        return f


def thread_label(text: str) -> str | None:
    """``thread (123): MainThread`` -> ``MainThread (123)``; None if not a thread frame."""
    m = _THREAD.match(text)
    if m is None:
        return None
    name = m.group("name")
    return f"{name} ({m.group('tid')})" if name else f"thread {m.group('tid')}"


def records(lines: Iterable[bytes]) -> Iterator[str]:
    """Physical lines -> py-spy records.

    py-spy prints a ``--subprocesses`` command line verbatim, so a ``python -c`` script
    spreads one record over several lines. Our chunks always run with ``--threads``,
    so every record starts with ``process N:"`` or ``thread (``; any other line
    continues the previous record (its newline becomes a space).
    """
    cur: list[str] = []
    size = 0
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if _RECORD_START.match(line) and cur:
            yield " ".join(cur)
            cur, size = [], 0
        size += len(line)
        if size <= MAX_LINE_BYTES:  # an over-long record is cut and then fails to parse: skipped
            cur.append(line)
    if cur:
        yield " ".join(cur)


def _split_frames(text: str) -> list[str]:
    """Frames of one record; ``process`` frames are cut at their closing quote, not at ``;``."""
    parts: list[str] = []
    pos = 0
    while text.startswith("process ", pos):
        m = _PROCESS_FRAME.match(text, pos)
        if m is None:
            break
        cmd = " ".join(m.group("cmd").split())
        if len(cmd) > MAX_CMDLINE_CHARS:
            cmd = cmd[: MAX_CMDLINE_CHARS - 1] + "\u2026"
        parts.append(f'process {m.group("pid")}:"{cmd}"')
        pos = m.end()
    rest = text[pos:].split(";", MAX_FRAMES_PER_STACK)
    return parts + rest


def parse_raw(
    lines: Iterable[bytes],
    *,
    period_ns: float,
    keep_threads: bool,
    thread_filter: str = "",
    parser: FrameParser | None = None,
) -> RawChunk:
    """Aggregate raw lines into a StackSet with values (samples, samples * period_ns).

    ``keep_threads`` keeps the thread frame as the root (py-spy's ``--threads`` view);
    otherwise it is dropped after being used for the filter and the tick count.
    ``thread_filter`` keeps only threads whose name or id contains it.
    """
    parser = parser or FrameParser()
    table = FrameTable()
    agg: dict[tuple[int, ...], int] = {}
    per_thread: dict[str, int] = {}
    samples = 0
    skipped = 0
    trunc_id = -1
    needle = thread_filter.lower()
    for line in records(lines):
        text, sep, count_s = line.rpartition(" ")
        if not sep or not count_s.isdigit() or not text:
            if line.strip():
                skipped += 1
            continue
        count = int(count_s)
        parts = _split_frames(text)
        truncated = len(parts) > MAX_FRAMES_PER_STACK
        if truncated:
            parts = parts[: MAX_FRAMES_PER_STACK - 1]
        # the thread frame sits after the (optional) process frames
        t_idx = 0
        while t_idx < len(parts) and _PROCESS.match(parts[t_idx]):
            t_idx += 1
        label = thread_label(parts[t_idx]) if t_idx < len(parts) else None
        key_label = ";".join(parts[: t_idx + 1]) if label is not None else "?"
        if label is not None:
            if needle and needle not in parts[t_idx].lower():
                continue
            per_thread[key_label] = per_thread.get(key_label, 0) + count
            if not keep_threads:
                parts = parts[:t_idx] + parts[t_idx + 1 :]
        ids = [table.intern(parser.frame(p)) for p in parts]
        if truncated:
            if trunc_id < 0:
                trunc_id = table.intern(TRUNCATED_STACK)
            ids.append(trunc_id)
        key = tuple(ids)
        agg[key] = agg.get(key, 0) + count
        samples += count
    n = len(agg)
    offsets = np.zeros(n + 1, dtype=np.int64)
    lengths = np.fromiter((len(k) for k in agg), dtype=np.int64, count=n)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((f for k in agg for f in k), dtype=np.int64, count=int(offsets[-1]))
    counts = np.fromiter(agg.values(), dtype=np.float64, count=n)
    values = np.stack([counts, counts * period_ns], axis=1) if n else np.zeros((0, 2), dtype=np.float64)
    ticks = max(per_thread.values()) if per_thread else samples
    threads = {thread_label(k.rsplit(";", 1)[-1]) or k: v for k, v in per_thread.items()}
    return RawChunk(StackSet(table, flat, offsets, values), samples, ticks, threads, skipped)
