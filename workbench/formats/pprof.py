"""pprof protobuf (``profile.proto``), gzipped or raw: read into and write from the model.

Reading: upb parses the top-level message (see ``_pprof_schema``'s wire view), then
samples, locations, lines and functions are decoded in bulk with numpy
(``_protowire``), checked (string indices, ids, dangling references, value counts),
mapped location -> frames with array indexing (inline frames: a Location's Lines are
leaf first, the last one is the caller), and every stack is reversed from pprof's
leaf-first order to the model's root-first order in one vectorised step.

Labels: their keys are listed in ``meta["label_keys"]``; ``label_roots`` turns the
chosen keys (e.g. ``thread``, ``goroutine``) into a root pseudo-frame per value, so a
per-thread view survives the trip into a call tree.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import FormatError, LimitExceeded
from ..model import Frame, FrameTable, Profile, Runtime, SampleType, StackSet
from ..model.labels import LabelTable, make_set
from ._protowire import (
    Column,
    concat_cols,
    encode_messages,
    encode_samples,
    last_varint,
    len_field,
    ranges,
    repeated_varints,
    varint_field,
    walk_messages,
)
from .collapsed import _runtime_of
from .limits import ReadLimits, maybe_gunzip

I64 = npt.NDArray[np.int64]

# Label keys that name a thread or goroutine (Go's pprof.Do labels, py-spy/async-profiler style).
THREAD_LABEL_KEYS = ("thread", "thread_id", "thread_name", "thread id", "goroutine", "goid")

_FIX = "the profile is corrupt or not a pprof file; fetch or export it again"


def _err(message: str, **kw: int) -> FormatError:
    return FormatError(message, _FIX, offset=kw.get("offset"))


class _Strings:
    """The string table with index checks (every reference is untrusted)."""

    def __init__(self, raw: Sequence[bytes]) -> None:
        self.items = [b.decode("utf-8", errors="replace") for b in raw]
        if self.items and self.items[0] != "":
            raise _err("string_table[0] must be the empty string")
        self.n = len(self.items)

    def get(self, idx: int, what: str) -> str:
        if idx < 0 or idx >= max(self.n, 1):
            raise _err(f"{what} refers to string {idx}, but the string table has {self.n} entries")
        return self.items[idx] if self.n else ""

    def check(self, idx: npt.NDArray[np.int64], what: str) -> None:
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= max(self.n, 1)):
            bad = int(idx[(idx < 0) | (idx >= max(self.n, 1))][0])
            raise _err(f"{what} refers to string {bad}, but the string table has {self.n} entries")


def _as_i64(v: npt.NDArray[np.uint64]) -> I64:
    """int64 fields arrive as uint64 varints; two's complement view gives the signed value."""
    return v.view(np.int64)


def _id_index(ids: npt.NDArray[np.uint64], what: str) -> tuple[npt.NDArray[np.uint64], I64]:
    """Check ids (non-zero, unique) and return (sorted ids, their message indices)."""
    if ids.size and (ids == 0).any():
        raise _err(f"{what} id 0 is reserved (ids start at 1)")
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    if sid.size > 1 and (sid[1:] == sid[:-1]).any():
        dup = int(sid[1:][sid[1:] == sid[:-1]][0])
        raise _err(f"{what} id {dup} appears more than once")
    return sid, order.astype(np.int64)


def _lookup(sid: npt.NDArray[np.uint64], order: I64, wanted: npt.NDArray[np.uint64], what: str, owner: str) -> I64:
    """Message index of each wanted id; a dangling id is a FormatError."""
    if wanted.size == 0:
        return np.zeros(0, dtype=np.int64)
    if sid.size and int(sid[-1]) <= 4 * sid.size + 1024:
        # ids are dense (Go and our writer number them 1..n): a direct table beats a search
        direct = np.full(int(sid[-1]) + 2, -1, dtype=np.int64)
        direct[sid.astype(np.int64)] = order
        got = direct[np.minimum(wanted, np.uint64(sid[-1] + 1)).astype(np.int64)]
        if (got < 0).any():
            bad = int(wanted[got < 0][0])
            raise _err(f"{owner} refers to {what} id {bad}, which is not in the profile")
        return got
    pos = np.searchsorted(sid, wanted)
    pos_c = np.minimum(pos, max(sid.size - 1, 0))
    ok = (pos < sid.size) & (sid[pos_c] == wanted) if sid.size else np.zeros(wanted.size, dtype=bool)
    if not ok.all():
        bad = int(wanted[~ok][0])
        raise _err(f"{owner} refers to {what} id {bad}, which is not in the profile")
    return order[pos_c]


def read_pprof(
    data: bytes,
    limits: ReadLimits | None = None,
    name: str = "pprof",
    label_roots: Sequence[str] | None = None,
) -> Profile:
    """Decode a pprof profile (gzip or raw) into a Profile with every sample type."""
    from google.protobuf.message import DecodeError

    from ._pprof_schema import ProfileWireMsg

    lim = limits or ReadLimits()
    raw = maybe_gunzip(data, lim)
    try:
        msg = ProfileWireMsg.FromString(raw)
    except DecodeError as exc:
        raise FormatError(f"not a valid pprof protobuf ({exc})", _FIX) from None
    strings = _Strings(msg.string_table)

    # ------------------------------------------------------------ sample types
    sample_types: list[SampleType] = []
    for i, vt in enumerate(msg.sample_type):
        sample_types.append(
            SampleType(strings.get(vt.type, f"sample_type[{i}].type"), strings.get(vt.unit, f"sample_type[{i}].unit"))
        )
    if not sample_types:
        raise FormatError("the profile declares no sample types", _FIX)
    k = len(sample_types)

    # --------------------------------------------------------------- functions
    fbufs = list(msg.function)
    fbuf, fstart, flen = _concat(fbufs)
    ff = walk_messages(fbuf, fstart, flen, "function")
    nf = len(fbufs)
    f_ids = last_varint(ff, 1, nf)
    f_name = _as_i64(last_varint(ff, 2, nf))
    f_sys = _as_i64(last_varint(ff, 3, nf))
    f_file = _as_i64(last_varint(ff, 4, nf))
    strings.check(f_sys, "a function system name")
    # some writers fill only system_name (the mangled symbol): better than no name
    f_name = np.where(f_name == 0, f_sys, f_name)
    strings.check(f_name, "a function name")
    strings.check(f_file, "a function file name")
    f_sid, f_order = _id_index(f_ids, "function")

    # --------------------------------------------------------------- mappings
    map_ids: dict[int, str] = {}
    for m in msg.mapping:
        if m.id == 0:
            raise _err("mapping id 0 is reserved (ids start at 1)")
        map_ids[int(m.id)] = strings.get(m.filename, "a mapping file name")

    # --------------------------------------------------------------- locations
    lbufs = list(msg.location)
    lbuf, lstart, llen = _concat(lbufs)
    lf = walk_messages(lbuf, lstart, llen, "location")
    nl = len(lbufs)
    l_ids = last_varint(lf, 1, nl)
    l_map = last_varint(lf, 2, nl)
    l_addr = last_varint(lf, 3, nl)
    l_sid, l_order = _id_index(l_ids, "location")
    if l_map.size and (l_map != 0).any():
        known = np.fromiter(map_ids, dtype=np.uint64, count=len(map_ids))
        bad = ~np.isin(l_map, known) & (l_map != 0)
        if bad.any():
            raise _err(f"a location refers to mapping id {int(l_map[bad][0])}, which is not in the profile")
    line_owner, line_len, line_start = lf.select(4, 2)
    lines = walk_messages(lbuf, line_start, line_len.astype(np.int64), "location line")
    n_lines = line_owner.size
    ln_fid = last_varint(lines, 1, n_lines)
    ln_line = _as_i64(last_varint(lines, 2, n_lines))
    ln_func = _lookup(f_sid, f_order, ln_fid, "function", "a location line")

    # ----------------------------------------------------- frames per location
    table = FrameTable(max_frames=lim.max_frames)
    # distinct (function, line) pairs become frames; a loop over distinct pairs only
    line_key = (ln_func << 32) | np.clip(ln_line, 0, 0xFFFFFFFF)
    uniq_keys, line_inv = np.unique(line_key, return_inverse=True)
    fnames = strings.items
    key_fid = np.empty(uniq_keys.size, dtype=np.int64)
    f_name_l = f_name.tolist()
    f_file_l = f_file.tolist()
    for j, key in enumerate(uniq_keys.tolist()):
        fi = key >> 32
        ln = key & 0xFFFFFFFF
        file = fnames[f_file_l[fi]] if fnames else ""
        func = fnames[f_name_l[fi]] if fnames else ""
        key_fid[j] = table.intern(Frame(func or "?", file, ln, runtime=_runtime_of(file, False)))
    line_frame = key_fid[line_inv] if n_lines else np.zeros(0, dtype=np.int64)
    # CSR: location -> its frames, leaf first; a location with no lines is its address
    per_loc = np.bincount(line_owner, minlength=nl).astype(np.int64)
    no_lines = np.flatnonzero(per_loc == 0)
    per_loc[no_lines] = 1
    loc_off = np.zeros(nl + 1, dtype=np.int64)
    np.cumsum(per_loc, out=loc_off[1:])
    loc_frames = np.empty(int(loc_off[-1]), dtype=np.int64)
    if n_lines:
        # lines arrive sorted by owner location in wire order: position within the owner
        within = np.arange(n_lines, dtype=np.int64) - np.repeat(
            np.concatenate([[0], np.cumsum(np.bincount(line_owner, minlength=nl))[:-1]]),
            np.bincount(line_owner, minlength=nl),
        )
        loc_frames[loc_off[line_owner] + within] = line_frame
    for li in no_lines.tolist():
        addr = int(l_addr[li])
        mfile = map_ids.get(int(l_map[li]), "")
        loc_frames[loc_off[li]] = table.intern(Frame(f"0x{addr:x}", mfile, 0, runtime=Runtime.NATIVE))

    # ----------------------------------------------------------------- samples
    sbufs = list(msg.sample)
    ns = len(sbufs)
    sbuf, sstart, slen = _concat(sbufs)
    del sbufs
    sf = walk_messages(sbuf, sstart, slen, "sample")
    s_loc, s_loc_off = repeated_varints(sbuf, sf, 1, ns, "sample location_id")
    s_val, s_val_off = repeated_varints(sbuf, sf, 2, ns, "sample value")
    n_vals = np.diff(s_val_off)
    if ns and (n_vals != k).any():
        i = int(np.flatnonzero(n_vals != k)[0])
        raise _err(f"sample {i} has {int(n_vals[i])} values but the profile declares {k} sample types")
    values = _as_i64(s_val).reshape(ns, k)
    if values.size and (values < 0).any():
        i = int(np.flatnonzero((values < 0).any(axis=1))[0])
        raise FormatError(
            f"sample {i} has a negative value",
            "negative values come from diff profiles (pprof -diff_base), which are not supported; "
            "open the two profiles and diff them in the workbench",
        )
    loc_idx = _lookup(l_sid, l_order, s_loc, "location", "a sample")

    # Expand locations to frames (leaf first), then reverse the whole flat array: that
    # turns every stack root first and merely reverses the order of the samples, which
    # the call tree does not care about (values and labels are reversed to match).
    n_per = per_loc[loc_idx]
    if no_lines.size == 0 and n_lines == nl:
        flat_leaf_first = loc_frames[loc_idx]  # one line per location: no expansion
        leaf_off = s_loc_off
    else:
        cs = np.zeros(n_per.size + 1, dtype=np.int64)
        np.cumsum(n_per, out=cs[1:])
        total = int(cs[-1])
        if total > lim.max_total_frames:
            raise LimitExceeded(
                f"the profile's stacks expand to {total} frames (limit {lim.max_total_frames})",
                "raise ReadLimits.max_total_frames if the file is trusted",
            )
        flat_leaf_first = loc_frames[ranges(loc_off[loc_idx], n_per)]
        leaf_off = cs[s_loc_off]
    flat = flat_leaf_first[::-1].copy()
    offsets = (leaf_off[-1] - leaf_off[::-1]).astype(np.int64)
    values = values[::-1]

    # ------------------------------------------------------------------ labels
    meta: dict[str, str] = {"format": "pprof", "samples": str(ns)}
    label_ids: I64 | None = None
    label_table: LabelTable | None = None
    lab_owner, lab_len, lab_start = sf.select(3, 2)
    if lab_owner.size:
        lab = walk_messages(sbuf, lab_start, lab_len.astype(np.int64), "sample label")
        nlab = lab_owner.size
        lab_key = _as_i64(last_varint(lab, 1, nlab))
        lab_str = _as_i64(last_varint(lab, 2, nlab))
        lab_num = _as_i64(last_varint(lab, 3, nlab))
        strings.check(lab_key, "a label key")
        strings.check(lab_str, "a label value")
        keys = sorted({fnames[i] for i in np.unique(lab_key).tolist()})
        meta["label_keys"] = ",".join(keys)
        label_ids, label_table = _label_sets(ns - 1 - lab_owner, lab_key, lab_str, lab_num, strings=fnames, ns=ns)
        if label_roots:
            flat, offsets = _prepend_label_frames(
                table,
                flat,
                offsets,
                lab_owner=ns - 1 - lab_owner,
                lab_key=lab_key,
                lab_str=lab_str,
                lab_num=lab_num,
                strings=fnames,
                roots=label_roots,
            )

    # ----------------------------------------------------------------- profile
    default = k - 1  # pprof: unset default_sample_type means the last type
    if msg.default_sample_type:
        want = strings.get(msg.default_sample_type, "default_sample_type")
        default = next((i for i, st in enumerate(sample_types) if st.type == want), default)
    profile = Profile(sample_types, name=name, frames=table, limits=lim.profile_limits(), default_sample_type=default)
    profile.meta.update(meta)
    if msg.HasField("period_type"):
        pt = msg.period_type
        profile.period_type = SampleType(
            strings.get(pt.type, "period_type.type"), strings.get(pt.unit, "period_type.unit")
        )
    profile.period = float(msg.period)
    profile.duration_ns = int(msg.duration_nanos)
    comments = [strings.get(c, "a comment") for c in msg.comment]
    if comments:
        profile.meta["comments"] = "; ".join(comments)
    if msg.drop_frames:
        profile.meta["drop_frames"] = strings.get(msg.drop_frames, "drop_frames")
    if msg.keep_frames:
        profile.meta["keep_frames"] = strings.get(msg.keep_frames, "keep_frames")
    if any(f.runtime == Runtime.GO for f in table):
        profile.source = "go"
    t0 = msg.time_nanos / 1e9 if msg.time_nanos > 0 else None
    t1 = None if t0 is None else t0 + max(0, msg.duration_nanos) / 1e9
    profile.add_stackset(StackSet(table, flat, offsets, values.astype(np.float64), label_ids, label_table), t0, t1)
    if label_table is not None and label_table.overflowed:
        profile.meta["label_sets_folded"] = str(label_table.overflowed)
    return profile


def _label_sets(
    owner: I64, lab_key: I64, lab_str: I64, lab_num: I64, *, strings: list[str], ns: int
) -> tuple[I64, LabelTable]:
    """A label set id per sample (-1: none) and their table; ``owner`` is each label's sample."""
    table = LabelTable()
    ids = np.full(ns, -1, dtype=np.int64)
    order = np.argsort(owner, kind="stable")
    own = owner[order]
    trip = np.stack([lab_key[order], lab_str[order], lab_num[order]], axis=1).tolist()
    starts = np.flatnonzero(np.concatenate([[True], own[1:] != own[:-1]])) if own.size else own
    ends = np.append(starts[1:], own.size)
    seen: dict[tuple[tuple[int, int, int], ...], int] = {}
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        key = tuple(tuple(t) for t in trip[a:b])
        lid = seen.get(key)
        if lid is None:
            # a numeric label (no string value) is kept as its decimal text
            pairs = [(strings[k], strings[sv] if sv else str(nv)) for k, sv, nv in key]
            lid = seen[key] = table.intern(make_set(pairs))
        ids[int(own[a])] = lid
    return ids, table


def _concat(parts: list[bytes]) -> tuple[npt.NDArray[np.uint8], I64, I64]:
    """Join small messages into one buffer with their (start, length)."""
    lens = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    starts = np.zeros(len(parts), dtype=np.int64)
    if len(parts) > 1:
        np.cumsum(lens[:-1], out=starts[1:])
    buf = np.frombuffer(b"".join(parts), dtype=np.uint8) if parts else np.zeros(0, dtype=np.uint8)
    return buf, starts, lens


def _prepend_label_frames(
    table: FrameTable,
    flat: I64,
    offsets: I64,
    *,
    lab_owner: I64,
    lab_key: I64,
    lab_str: I64,
    lab_num: I64,
    strings: list[str],
    roots: Sequence[str],
) -> tuple[I64, I64]:
    """Put one ``key=value`` pseudo-frame per chosen label at the root of each labelled sample."""
    ns = offsets.size - 1
    key_rank = {k: r for r, k in enumerate(roots)}
    rank = np.array([key_rank.get(strings[i], -1) for i in lab_key.tolist()], dtype=np.int64)
    sel = np.flatnonzero(rank >= 0)
    if sel.size == 0:
        return flat, offsets
    # one frame per distinct (key, str, num)
    trip = np.stack([lab_key[sel], lab_str[sel], lab_num[sel]], axis=1)
    uniq, inv = np.unique(trip, axis=0, return_inverse=True)
    ufid = np.array(
        [
            table.intern(Frame(f"{strings[kk]}={strings[sv] if sv else nv}", module="label", runtime=Runtime.OTHER))
            for kk, sv, nv in uniq.tolist()
        ],
        dtype=np.int64,
    )
    pre_owner = lab_owner[sel]
    pre_frame = ufid[inv.reshape(-1)]
    # order: by sample, then by the rank of the key in ``roots``
    order = np.lexsort((rank[sel], pre_owner))
    pre_owner, pre_frame = pre_owner[order], pre_frame[order]
    pre_count = np.bincount(pre_owner, minlength=ns).astype(np.int64)
    lengths = np.diff(offsets) + pre_count
    new_off = np.zeros(ns + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_off[1:])
    out = np.empty(int(new_off[-1]), dtype=np.int64)
    pre_start = np.concatenate([[0], np.cumsum(pre_count)[:-1]])
    within_pre = np.arange(pre_owner.size, dtype=np.int64) - pre_start[pre_owner]
    out[new_off[pre_owner] + within_pre] = pre_frame
    if flat.size:
        s_of = np.repeat(np.arange(ns, dtype=np.int64), np.diff(offsets))
        within = np.arange(flat.size, dtype=np.int64) - offsets[s_of]
        out[new_off[s_of] + pre_count[s_of] + within] = flat
    return out, new_off


# ---------------------------------------------------------------------- writing
def _clean(text: str) -> str:
    """proto3 strings must be valid UTF-8: lone surrogates become U+FFFD."""
    return text.encode("utf-8", errors="replace").decode("utf-8")


def write_pprof(profile: Profile) -> bytes:
    """Gzipped pprof with every sample type, period, duration and one location per frame.

    Functions, locations and samples are encoded in bulk (``_protowire`` columns); only
    the string table is built with a Python dict, one entry per distinct string.
    """
    from ._pprof_schema import ProfileMsg, ValueTypeMsg

    strings: dict[str, int] = {"": 0}

    def s(text: str) -> int:
        return strings.setdefault(text, len(strings))

    out = ProfileMsg()
    for st in profile.sample_types:
        out.sample_type.append(ValueTypeMsg(type=s(_clean(st.type)), unit=s(_clean(st.unit))))
    ss = profile.to_stackset(labels=True)
    used = np.unique(ss.frames) if ss.frames.size else np.zeros(0, dtype=np.int64)
    frames = [profile.frames[f] for f in used.tolist()]
    name_idx = np.fromiter((s(_clean(f.function)) for f in frames), dtype=np.int64, count=len(frames))
    file_idx = np.fromiter((s(_clean(f.file)) for f in frames), dtype=np.int64, count=len(frames))
    line_no = np.fromiter((min(max(0, f.line), 2**31 - 1) for f in frames), dtype=np.int64, count=len(frames))
    # one Function per distinct (name, file), one Location per frame (id = frame id + 1)
    pair = (name_idx << 32) | file_idx
    upair, func_of = np.unique(pair, return_inverse=True)
    func_id = (np.arange(upair.size, dtype=np.int64) + 1).astype(np.uint64)
    # no system_name: pprof would run its C++/Rust demangler over a name equal to it,
    # which turns "<module>" into ""
    functions = encode_messages(
        5,
        [
            *_vf(1, func_id),
            *_vf(2, (upair >> 32).astype(np.uint64)),
            *_vf(4, (upair & 0xFFFFFFFF).astype(np.uint64)),
        ],
    )
    line = concat_cols([*_vf(1, func_id[func_of.reshape(-1)]), *_vf(2, line_no.astype(np.uint64))])
    locations = encode_messages(4, [*_vf(1, (used + 1).astype(np.uint64)), len_field(4, line)])
    # samples: leaf-first location ids come from reversing the whole flat array (which
    # also reverses the sample order, harmless)
    vals = np.rint(ss.values[::-1]).astype(np.int64)
    locs = (ss.frames[::-1] + 1).astype(np.uint64)
    loc_off = (ss.offsets[-1] - ss.offsets[::-1]).astype(np.int64)
    samples = encode_samples(locs, loc_off, vals.reshape(-1).view(np.uint64), len(profile.sample_types))
    if ss.label_ids is not None and ss.label_table is not None:
        # the encoded run is reversed: stack i of ss is its entry n-1-i
        _label_samples(out, ss, s)
        samples = _drop_labelled(locs, loc_off, vals, ss.label_ids[::-1], len(profile.sample_types))
    if profile.period_type is not None:
        out.period_type.CopyFrom(
            ValueTypeMsg(type=s(_clean(profile.period_type.type)), unit=s(_clean(profile.period_type.unit)))
        )
    out.period = round(profile.period)
    out.duration_nanos = int(profile.duration_ns)
    if profile.time_start is not None:
        out.time_nanos = int(profile.time_start * 1e9)
    default = profile.default_sample_type
    if 0 <= default < len(profile.sample_types) - 1:
        # unset means "the last type", so only a non-last default needs saying
        out.default_sample_type = s(_clean(profile.sample_types[default].type))
    out.string_table.extend(strings)
    return gzip.compress(out.SerializeToString() + functions + locations + samples, compresslevel=6)


def _drop_labelled(locs: npt.NDArray[np.uint64], loc_off: I64, vals: I64, ids_rev: I64, k: int) -> bytes:
    """The bulk-encoded samples of the unlabelled stacks only (labelled ones go with their labels)."""
    keep = np.flatnonzero(ids_rev < 0)
    lengths = np.diff(loc_off)[keep]
    off = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    flat = locs[ranges(loc_off[:-1][keep], lengths)] if len(keep) else locs[:0]
    return encode_samples(flat, off, vals[keep].reshape(-1).view(np.uint64), k)


def _label_samples(out: Any, ss: StackSet, s: Callable[[str], int]) -> None:
    """Labelled stacks as ``Sample`` messages with their ``label`` entries (at most the
    label store's capped entries, so building messages one by one stays bounded)."""
    from ._pprof_schema import LabelMsg, SampleMsg

    assert ss.label_ids is not None and ss.label_table is not None
    table = ss.label_table
    labels_of: dict[int, list[Any]] = {}
    for i in np.flatnonzero(ss.label_ids >= 0).tolist():
        lid = int(ss.label_ids[i])
        msgs = labels_of.get(lid)
        if msgs is None:
            msgs = labels_of[lid] = [LabelMsg(key=s(_clean(k)), str=s(_clean(v))) for k, v in table[lid]]
        frames = ss.frames[ss.offsets[i] : ss.offsets[i + 1]][::-1]  # leaf first
        out.sample.append(
            SampleMsg(
                location_id=(frames + 1).tolist(),
                value=np.rint(ss.values[i]).astype(np.int64).tolist(),
                label=msgs,
            )
        )


def _vf(num: int, values: npt.NDArray[np.uint64]) -> list[Column]:
    return varint_field(num, values)
