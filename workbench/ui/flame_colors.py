"""Flame graph palettes as small fixed colour tables, so paint can batch boxes per colour.

Every box gets a palette index (not a free colour): painting then costs one
``setBrush`` + ``drawRects`` per index in use instead of one brush per box.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

from ..model.frames import Frame, FrameTable, Runtime

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

COLOR_PACKAGE = "package"
COLOR_RUNTIME = "runtime"
COLOR_DIFF = "diff"
COLOR_MODES = (COLOR_PACKAGE, COLOR_RUNTIME, COLOR_DIFF)

N_WARM = 24
DIFF_STEPS = 10  # shades per side; index DIFF_STEPS is "unchanged"


def _warm(i: int) -> tuple[int, int, int]:
    # flamegraph.pl's "hot" scheme: red 205-255, green 0-230, blue 0-55
    t = (i * 7 % N_WARM) / (N_WARM - 1)
    return (205 + int(50 * t), int(230 * ((i * 11 % N_WARM) / (N_WARM - 1))), int(55 * t))


WARM: list[tuple[int, int, int]] = [_warm(i) for i in range(N_WARM)]

RUNTIME_COLORS: dict[Runtime, list[tuple[int, int, int]]] = {
    Runtime.PYTHON: [(98, 160, 234), (120, 178, 240), (80, 140, 220)],
    Runtime.GO: [(80, 200, 200), (100, 215, 210), (60, 180, 185)],
    Runtime.NATIVE: [(240, 140, 80), (235, 160, 100), (225, 120, 70)],
    Runtime.NODE: [(120, 200, 110), (140, 210, 130), (100, 185, 95)],
    Runtime.OTHER: [(185, 185, 185), (200, 200, 200), (170, 170, 170)],
}
RUNTIME_ORDER = list(RUNTIME_COLORS)


def _diff_colors() -> list[tuple[int, int, int]]:
    # blue (shrank) ... white ... red (grew), like flamegraph.pl's differential mode
    out: list[tuple[int, int, int]] = []
    for i in range(-DIFF_STEPS, DIFF_STEPS + 1):
        t = abs(i) / DIFF_STEPS
        v = int(235 - 175 * t)
        out.append((255, v, v) if i > 0 else (v, v, 255) if i < 0 else (235, 235, 235))
    return out


DIFF_COLORS = _diff_colors()


def palette(mode: str) -> list[tuple[int, int, int]]:
    if mode == COLOR_RUNTIME:
        return [c for rt in RUNTIME_ORDER for c in RUNTIME_COLORS[rt]]
    if mode == COLOR_DIFF:
        return DIFF_COLORS
    return WARM


def _package_index(frame: Frame) -> int:
    return zlib.crc32(frame.package().encode("utf-8", "replace")) % N_WARM


def _runtime_index(frame: Frame) -> int:
    shade = zlib.crc32(frame.package().encode("utf-8", "replace")) % 3
    return RUNTIME_ORDER.index(frame.runtime if frame.runtime in RUNTIME_COLORS else Runtime.OTHER) * 3 + shade


class FramePaletteCache:
    """Palette index per frame id, extended incrementally as the append-only table grows."""

    def __init__(self) -> None:
        self._table: FrameTable | None = None
        self._idx: dict[str, list[int]] = {COLOR_PACKAGE: [], COLOR_RUNTIME: []}

    def get(self, frames: FrameTable, mode: str) -> IntArray:
        if frames is not self._table:
            self._table = frames
            self._idx = {COLOR_PACKAGE: [], COLOR_RUNTIME: []}
        fn = _runtime_index if mode == COLOR_RUNTIME else _package_index
        lst = self._idx[COLOR_RUNTIME if mode == COLOR_RUNTIME else COLOR_PACKAGE]
        for i in range(len(lst), len(frames)):
            lst.append(fn(frames[i]))
        return np.asarray(lst, dtype=np.int64)


def diff_index(delta: FloatArray) -> IntArray:
    """Palette index for a normalised delta in [-1, 1] per node."""
    d = np.clip(np.nan_to_num(delta), -1.0, 1.0)
    return (np.rint(d * DIFF_STEPS).astype(np.int64) + DIFF_STEPS).astype(np.int64)
