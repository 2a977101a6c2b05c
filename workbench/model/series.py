"""Bounded time series: a ring of buckets that coarsens its past instead of growing.

Each bucket keeps (t_first, t_last, min, max, last, count). When the buffer is full
the oldest half is merged pairwise, so recent data keeps full resolution and an
8-hour session still holds ``capacity`` buckets. Min and max survive merging, which
is what a chart needs to show spikes after downsampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_CAPACITY = 4096


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    name: str
    t: float
    value: float
    unit: str = ""


class RingSeries:
    """One named metric over time, bounded to ``capacity`` buckets."""

    _FIELDS = ("t0", "t1", "vmin", "vmax", "vlast", "count")

    def __init__(self, name: str, unit: str = "", capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 8 or capacity % 2:
            raise ValueError("capacity must be an even number >= 8")
        self.name = name
        self.unit = unit
        self.capacity = capacity
        self._n = 0
        self._data = np.zeros((6, capacity), dtype=np.float64)
        self.total_points = 0
        self.max_value = float("-inf")
        self.version = 0

    def __len__(self) -> int:
        return self._n

    def append(self, t: float, value: float) -> None:
        if self._n == self.capacity:
            self._compact()
        d = self._data
        i = self._n
        d[:, i] = (t, t, value, value, value, 1.0)
        self._n += 1
        self.total_points += 1
        if value > self.max_value:
            self.max_value = float(value)
        self.version += 1

    def extend(self, ts: npt.ArrayLike, values: npt.ArrayLike) -> None:
        for t, v in zip(np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64), strict=True):
            self.append(float(t), float(v))

    def _compact(self) -> None:
        half = self._n // 2
        d = self._data
        a = np.arange(0, half, 2)
        b = a + 1
        q = len(a)
        merged = np.empty((6, q), dtype=np.float64)
        merged[0] = d[0, a]
        merged[1] = d[1, b]
        merged[2] = np.minimum(d[2, a], d[2, b])
        merged[3] = np.maximum(d[3, a], d[3, b])
        merged[4] = d[4, b]
        merged[5] = d[5, a] + d[5, b]
        rest = d[:, half : self._n].copy()
        d[:, :q] = merged
        d[:, q : q + rest.shape[1]] = rest
        self._n = q + rest.shape[1]

    # ------------------------------------------------------------ read side
    @property
    def times(self) -> FloatArray:
        """Bucket time: the last sample's time, so a live chart ends at 'now'."""
        return self._data[1, : self._n].copy()

    @property
    def values(self) -> FloatArray:
        return self._data[4, : self._n].copy()

    @property
    def mins(self) -> FloatArray:
        return self._data[2, : self._n].copy()

    @property
    def maxs(self) -> FloatArray:
        return self._data[3, : self._n].copy()

    @property
    def counts(self) -> FloatArray:
        return self._data[5, : self._n].copy()

    def last(self) -> float | None:
        return float(self._data[4, self._n - 1]) if self._n else None

    def window(self, t0: float, t1: float) -> tuple[FloatArray, FloatArray]:
        t = self._data[1, : self._n]
        m = (t >= t0) & (t < t1)
        return t[m].copy(), self._data[4, : self._n][m].copy()

    def buckets(self) -> FloatArray:
        """All bucket fields (6 x n) for storage."""
        return self._data[:, : self._n].copy()

    @classmethod
    def from_buckets(cls, name: str, unit: str, data: FloatArray, capacity: int = DEFAULT_CAPACITY) -> RingSeries:
        s = cls(name, unit, capacity=max(capacity, ((data.shape[1] + 1) // 2) * 2, 8))
        n = data.shape[1]
        s._data[:, :n] = data
        s._n = n
        s.total_points = int(data[5].sum()) if n else 0
        s.max_value = float(data[3].max()) if n else float("-inf")
        return s
