"""Import of memray capture files (``memray run -o x.bin``) through memray's own FileReader.

A capture file holds every allocation of a run; memray's reader aggregates it by
stack for two views we turn into profiles: the heap at its high-water mark (what was
live at the peak) and, where the run ended with memory still allocated, the leaks at
exit. Both carry ``inuse_space`` and ``inuse_objects``. memray's stacks are leaf
first; we ask for at most ``max_depth`` frames (the allocation site side is the one
worth keeping) and put a ``[stack truncated]`` marker at the root of a cut stack.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FormatError
from ..model import INUSE_OBJECTS, INUSE_SPACE, TRUNCATED_STACK, Frame, FrameTable, Profile, Runtime, StackSet
from .limits import ReadLimits

if TYPE_CHECKING:
    from memray import AllocationRecord

SAMPLE_TYPES = (INUSE_SPACE, INUSE_OBJECTS)

# Frames memray reports for code with no Python source file behind it still run Python
# bytecode (frozen modules, exec'd strings); anything else in a hybrid trace is native.
_PY_SUFFIXES = (".py", ".pyw", ".pyx")


def frame_of(function: str, filename: str, lineno: int, hybrid: bool = True) -> Frame:
    """One memray stack element as a workbench frame; only hybrid (native) traces hold C frames."""
    is_python = not hybrid or filename.endswith(_PY_SUFFIXES) or (filename.startswith("<") and filename.endswith(">"))
    return Frame(function, filename, int(lineno), "", Runtime.PYTHON if is_python else Runtime.NATIVE)


def memray_version() -> str:
    from importlib.metadata import version

    return version("memray")


def _launcher_prefix(root_first: list[tuple[str, str, int]]) -> int:
    """How many root frames belong to ``memray run`` itself (its CLI and runpy), not the program.

    memray's own reporters hide these too; they sit above every stack and say nothing.
    Only a leading run is dropped, so the program's own frames are never touched.
    """
    n = 0
    for _fn, file, _line in root_first:
        norm = file.replace("\\", "/")
        if (
            norm.endswith("/bin/memray")
            or "/memray/commands/" in norm
            or "/memray/__main__" in norm
            or norm == "<frozen runpy>"
            or norm.endswith("/runpy.py")
        ):
            n += 1
            continue
        break
    return n if n < len(root_first) else 0


def _fix_for(message: str) -> str:
    if "incompatible with this version" in message:
        return (
            f"this workbench reads files of memray {memray_version()}; re-record with that version "
            "or open the file with the memray that wrote it (`memray flamegraph FILE`)"
        )
    if "does not look like" in message or "Failed to read input file header" in message:
        return "the file is truncated or is not a memray capture; re-record it with `memray run -o FILE script.py`"
    return "check the path and that the file is a complete `memray run` capture"


def _stacks_from_records(
    records: Iterable[AllocationRecord], table: FrameTable, max_depth: int, native: bool
) -> tuple[StackSet, int]:
    """Aggregate records by stack; returns the StackSet and how many stacks were cut."""
    trunc_id = -1
    by_stack: dict[tuple[int, ...], list[float]] = {}
    cut = 0
    for rec in records:
        trace = rec.hybrid_stack_trace(max_stacks=max_depth) if native else rec.stack_trace(max_stacks=max_depth)
        root_first = trace[::-1]
        skip = _launcher_prefix(root_first) if len(trace) < max_depth else 0
        ids = [table.intern(frame_of(fn, file, line, native)) for fn, file, line in root_first[skip:]]
        if len(trace) >= max_depth:
            # probably deeper than we asked for: the root side is gone, say so at the root
            if trunc_id < 0:
                trunc_id = table.intern(TRUNCATED_STACK)
            ids.insert(0, trunc_id)
            cut += 1
        key = tuple(ids)
        vals = by_stack.get(key)
        size = float(rec.size)
        count = float(rec.n_allocations)
        if vals is None:
            by_stack[key] = [size, count]
        else:
            vals[0] += size
            vals[1] += count
    stacks = list(by_stack)
    lengths = np.fromiter((len(s) for s in stacks), dtype=np.int64, count=len(stacks))
    offsets = np.zeros(len(stacks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((f for s in stacks for f in s), dtype=np.int64, count=int(offsets[-1]))
    values = np.asarray(list(by_stack.values()), dtype=np.float64).reshape(len(stacks), 2)
    return StackSet(table, flat, offsets, values), cut


def read_memray(path: str | os.PathLike[str], limits: ReadLimits | None = None) -> list[Profile]:
    """The high-water-mark heap of a memray capture, plus its leaks at exit when it has any.

    Raises ``FormatError`` (with a fix) for a missing, truncated, foreign or
    version-skewed file.
    """
    import memray

    lim = limits or ReadLimits()
    p = os.fspath(path)
    name = Path(p).name
    try:
        reader = memray.FileReader(p)
    except OSError as exc:
        msg = str(exc).split(": iostream error")[0]
        if not os.path.exists(p):
            raise FormatError("file not found", "check the path", path=p) from None
        raise FormatError(f"cannot read memray capture: {msg}", _fix_for(msg), path=p) from None
    try:
        meta = reader.metadata
        native = bool(meta.has_native_traces)
        table = FrameTable(max_frames=lim.max_frames)
        common = {
            "memray.version": memray_version(),
            "command_line": meta.command_line,
            "pid": str(meta.pid),
            "peak_bytes": str(meta.peak_memory),
            "total_allocations": str(meta.total_allocations),
            "native_traces": str(native).lower(),
            "python_allocator": meta.python_allocator,
            "file_format": meta.file_format.name,
        }
        duration_ns = max(0, int((meta.end_time - meta.start_time).total_seconds() * 1e9))
        views = (
            ("peak", "heap at its high-water mark", reader.get_high_watermark_allocation_records),
            ("leaks", "memory still allocated at exit", reader.get_leaked_allocation_records),
        )
        out: list[Profile] = []
        for kind, what, getter in views:
            try:
                stacks, cut = _stacks_from_records(getter(merge_threads=True), table, lim.max_depth, native)
            except (OSError, RuntimeError) as exc:
                raise FormatError(f"memray could not read the allocations: {exc}", _fix_for(str(exc)), path=p) from None
            if kind == "leaks" and len(stacks) == 0:
                continue  # the run freed everything: no leaks view
            prof = Profile(
                SAMPLE_TYPES, name=f"{name} ({kind})", source="memray", frames=table, limits=lim.profile_limits()
            )
            prof.add_stackset(stacks)
            prof.meta.update(common)
            prof.meta["view"] = what
            prof.meta["truncated_stacks"] = str(cut)
            prof.duration_ns = duration_ns
            prof.time_start = meta.start_time.timestamp()
            prof.time_end = meta.end_time.timestamp()
            out.append(prof)
        return out
    finally:
        reader.close()
