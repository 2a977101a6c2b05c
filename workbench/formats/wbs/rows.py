"""What the session store's writer thread turns into rows: queue items and the ``RowWriter``.

Items are batches as the session applied them, or snapshots of a whole profile, series,
info or findings list (at attach, at compaction and at close). Only the writer thread
touches a ``RowWriter``; it keeps the session's frames deduplicated across profiles.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ...model.findings import Finding
from ...model.frames import Frame, FrameTable
from ...model.profile import Profile, ProfileBatch, ProfileLimits, SampleType, StackSet
from ...model.session import MAX_FINDINGS, Batch, EventBatch, FindingsBatch, SeriesBatch, SessionInfo
from .schema import FloatArray, IntArray, pack, sample_types_json, sql_text


@dataclass(slots=True)
class ProfileSnapshot:
    """A profile that existed before the store attached (or one being saved whole)."""

    key: str
    profile: Profile


@dataclass(slots=True)
class ProfileHeader:
    """Final attributes of a profile (period, meta...) that batches do not carry."""

    key: str
    name: str
    source: str
    sample_types: tuple[SampleType, ...]
    default_sample_type: int
    period: float
    period_type: SampleType | None
    duration_ns: int
    meta: dict[str, str]
    limits: ProfileLimits


@dataclass(slots=True)
class SeriesSnapshot:
    name: str
    unit: str
    capacity: int
    buckets: FloatArray


@dataclass(slots=True)
class InfoItem:
    info: SessionInfo


@dataclass(slots=True)
class FindingsSnapshot:
    findings: list[Finding]


@dataclass(slots=True)
class Flush:
    done: threading.Event


Item = Batch | ProfileSnapshot | ProfileHeader | SeriesSnapshot | InfoItem | FindingsSnapshot | Flush


def _header_of(key: str, p: Profile) -> ProfileHeader:
    return ProfileHeader(
        key,
        p.name,
        p.source,
        p.sample_types,
        p.default_sample_type,
        p.period,
        p.period_type,
        p.duration_ns,
        dict(p.meta),
        p.limits,
    )


def profile_batches(p: Profile) -> Iterator[tuple[StackSet, float | None, float | None]]:
    """A whole profile as batches: one per time slice, plus the samples no slice covers."""
    covered = np.zeros_like(p.self_values)
    for s in sorted(p.slices, key=lambda s: (s.t0, s.t1)):
        np.add.at(covered, s.nodes, s.values)
        ss = p.paths(s.nodes)
        yield StackSet(ss.table, ss.frames, ss.offsets, s.values), s.t0, s.t1
    sv = p.self_values
    rest = sv - covered
    # where slices cover a value, their float sum may differ from it in the last bits:
    # that difference is rounding, not samples (untouched values pass through exactly)
    # (at most max_slices additions of float64: well under 1e-12 relative)
    rest[(covered != 0) & (np.abs(rest) <= 1e-12 * np.abs(sv))] = 0.0
    nodes = np.flatnonzero(np.any(rest != 0, axis=1)).astype(np.int64)
    if len(nodes):
        ss = p.paths(nodes)
        yield StackSet(ss.table, ss.frames, ss.offsets, rest[nodes]), None, None


def label_batch(p: Profile) -> StackSet | None:
    """The profile's labels as one labels-only batch (after ``profile_batches``), None without labels."""
    return p.labelled_stackset()


class RowWriter:
    """Turns items into rows. Only the store's writer thread touches it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.frame_ids: dict[Frame, int] = {}
        # per capture frame table: its ids -> our ids (-1 = not yet written)
        self.remaps: weakref.WeakKeyDictionary[FrameTable, IntArray] = weakref.WeakKeyDictionary()
        self.profiles: dict[str, tuple[int, tuple[SampleType, ...], dict[str, str]]] = {}
        self.series: dict[str, int] = {}

    def write(self, item: Item) -> None:
        if isinstance(item, ProfileBatch):
            self._profile_batch(item)
        elif isinstance(item, SeriesBatch):
            self._series_points(item)
        elif isinstance(item, FindingsBatch):
            if item.replace_target is not None:
                self.conn.execute("DELETE FROM findings WHERE target = ?", (sql_text(item.replace_target),))
            self._insert_findings(item.findings)
        elif isinstance(item, EventBatch):
            self.conn.execute(
                "INSERT INTO events (t, kind, text, target) VALUES (?, ?, ?, ?)",
                (item.t, sql_text(item.kind), sql_text(item.text), sql_text(item.target)),
            )
            self.conn.execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (MAX_FINDINGS,),
            )
        elif isinstance(item, ProfileSnapshot):
            h = _header_of(item.key, item.profile)
            self._profile_row(h, replace=True)
            for ss, t0, t1 in profile_batches(item.profile):
                self._stacks(self.profiles[item.key][0], StackSet(ss.table, ss.frames, ss.offsets, ss.values), t0, t1)
            lab = label_batch(item.profile)
            if lab is not None:
                self._stacks(self.profiles[item.key][0], lab, None, None, labels_only=True)
        elif isinstance(item, ProfileHeader):
            self._profile_row(item, replace=False)
        elif isinstance(item, SeriesSnapshot):
            sid = self._series_id(item.name, item.unit, item.capacity)
            self.conn.execute("DELETE FROM series_chunks WHERE series_id = ?", (sid,))
            self.conn.execute(
                "UPDATE series SET n_buckets = ?, buckets = ?, capacity = ? WHERE id = ?",
                (int(item.buckets.shape[1]), pack(item.buckets, "<f8"), item.capacity, sid),
            )
        elif isinstance(item, InfoItem):
            info = item.info
            rows = [
                ("created", repr(info.created)),
                ("title", sql_text(info.title)),
                ("targets", json.dumps(info.targets)),
            ]
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        elif isinstance(item, FindingsSnapshot):
            self.conn.execute("DELETE FROM findings")
            self._insert_findings(item.findings)

    # -- profiles
    def _profile_row(self, h: ProfileHeader, replace: bool) -> int:
        known = self.profiles.get(h.key)
        cols = (
            sql_text(h.name),
            sql_text(h.source),
            sample_types_json(h.sample_types),
            h.default_sample_type,
            h.period,
            sample_types_json((h.period_type,)) if h.period_type is not None else None,
            h.duration_ns,
            json.dumps(h.meta),
            h.limits.max_depth,
            h.limits.max_nodes,
        )
        if known is None:
            cur = self.conn.execute(
                "INSERT INTO profiles (name, source, sample_types, default_sample_type, period, period_type,"
                " duration_ns, meta, max_depth, max_nodes, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*cols, sql_text(h.key)),
            )
            pid = int(cur.lastrowid or 0)
        else:
            pid = known[0]
            self.conn.execute(
                "UPDATE profiles SET name = ?, source = ?, sample_types = ?, default_sample_type = ?, period = ?,"
                " period_type = ?, duration_ns = ?, meta = ?, max_depth = ?, max_nodes = ? WHERE id = ?",
                (*cols, pid),
            )
            if replace:
                self.conn.execute("DELETE FROM batches WHERE profile_id = ?", (pid,))
        self.profiles[h.key] = (pid, h.sample_types, dict(h.meta))
        return pid

    def _profile_batch(self, b: ProfileBatch) -> None:
        key = b.key.text  # profiles are stored by the key's text, as the session holds them
        known = self.profiles.get(key)
        # the session starts the profile afresh on replace or new sample types; mirror that
        fresh = known is None or b.replace or known[1] != b.sample_types
        meta = {} if fresh or known is None else dict(known[2])
        meta.update(b.meta)
        if fresh:
            # what the session does too: a new Profile named by the key, default attributes
            h = ProfileHeader(key, key, b.source, b.sample_types, 0, 0.0, None, 0, meta, ProfileLimits())
            self._profile_row(h, replace=True)
        elif known is not None and meta != known[2]:
            # only the metadata changed; keep attributes written by a snapshot (period, limits...)
            self.conn.execute("UPDATE profiles SET meta = ? WHERE id = ?", (json.dumps(meta), known[0]))
            self.profiles[key] = (known[0], known[1], meta)
        self._stacks(self.profiles[key][0], b.stacks, b.t0, b.t1)

    def _global_ids(self, table: FrameTable, fids: IntArray) -> IntArray:
        remap = self.remaps.get(table)
        if remap is None or len(remap) < len(table):
            grown = np.full(len(table), -1, dtype=np.int64)
            if remap is not None:
                grown[: len(remap)] = remap
            remap = grown
            self.remaps[table] = remap
        used = np.unique(fids)
        missing = used[remap[used] < 0]
        new_rows = []
        for fid in missing.tolist():
            fr = table[fid]
            gid = self.frame_ids.get(fr)
            if gid is None:
                gid = len(self.frame_ids)
                self.frame_ids[fr] = gid
                new_rows.append(
                    (gid, sql_text(fr.function), sql_text(fr.file), int(fr.line), sql_text(fr.module), str(fr.runtime))
                )
            remap[fid] = gid
        if new_rows:
            self.conn.executemany(
                "INSERT INTO frames (id, function, file, line, module, runtime) VALUES (?, ?, ?, ?, ?, ?)", new_rows
            )
        return remap[fids]

    def _stacks(self, pid: int, ss: StackSet, t0: float | None, t1: float | None, *, labels_only: bool = False) -> None:
        n = len(ss)
        if n == 0:
            return
        frames = self._global_ids(ss.table, ss.frames) if len(ss.frames) else ss.frames
        sets: str | None = None
        ids: bytes | None = None
        if ss.label_ids is not None and ss.label_table is not None and bool((ss.label_ids >= 0).any()):
            # only the sets this batch uses, renumbered densely
            used, local = np.unique(ss.label_ids[ss.label_ids >= 0], return_inverse=True)
            out_ids = np.full(n, -1, dtype=np.int64)
            out_ids[ss.label_ids >= 0] = local.reshape(-1)
            sets = json.dumps([[list(pair) for pair in ss.label_table[int(i)]] for i in used.tolist()])
            ids = pack(out_ids, "<i4")
        elif labels_only:
            return
        self.conn.execute(
            "INSERT INTO batches (profile_id, t0, t1, n_stacks, n_frames, lengths, frames, vals,"
            " label_sets, label_ids, labels_only) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                t0,
                t1,
                n,
                len(frames),
                pack(np.diff(ss.offsets), "<u4"),
                pack(frames, "<u4"),
                pack(ss.values, "<f8"),
                sets,
                ids,
                int(labels_only),
            ),
        )

    # -- series, findings
    def _series_id(self, name: str, unit: str, capacity: int) -> int:
        sid = self.series.get(name)
        if sid is None:
            cur = self.conn.execute(
                "INSERT INTO series (name, unit, capacity) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET unit = excluded.unit RETURNING id",
                (sql_text(name), sql_text(unit), capacity),
            )
            sid = int(cur.fetchone()[0])
            self.series[name] = sid
        return sid

    def _series_points(self, b: SeriesBatch) -> None:
        by_name: dict[str, tuple[str, list[float], list[float]]] = {}
        for pt in b.points:
            entry = by_name.setdefault(pt.name, (pt.unit, [], []))
            entry[1].append(pt.t)
            entry[2].append(pt.value)
        for name, (unit, ts, vs) in by_name.items():
            sid = self._series_id(name, unit, 0)
            self.conn.execute(
                "INSERT INTO series_chunks (series_id, n, t, v) VALUES (?, ?, ?, ?)",
                (sid, len(ts), pack(np.asarray(ts), "<f8"), pack(np.asarray(vs), "<f8")),
            )

    def _insert_findings(self, findings: list[Finding]) -> None:
        self.conn.executemany(
            "INSERT INTO findings (target, data) VALUES (?, ?)",
            [(sql_text(f.target), json.dumps(f.to_dict(), allow_nan=True)) for f in findings],
        )
        self.conn.execute(
            "DELETE FROM findings WHERE id <= (SELECT id FROM findings ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (MAX_FINDINGS,),
        )
