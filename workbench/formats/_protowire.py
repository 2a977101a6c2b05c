"""Bulk protobuf wire decoding with numpy: many small messages of one type at once.

A pprof profile holds hundreds of thousands of tiny ``Sample``/``Location`` messages.
Reading them field by field through protobuf message objects costs microseconds each
in Python (measured 1.5 s for 200k samples), so the top-level message is parsed by upb
with those repeated fields viewed as ``bytes`` (wire-compatible), and the small
messages are decoded here in parallel: one vectorised step per field *position*,
across all messages, never a Python loop per message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import FormatError

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

_MAX_VARINT = 10


def ranges(starts: I64, lengths: I64) -> I64:
    """Concatenation of ``arange(s, s+l)`` for each pair, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    out = np.ones(total, dtype=np.int64)
    out[0] = starts[0]
    ends = np.cumsum(lengths)[:-1]
    # at each range boundary jump from the previous range's last index to the next start
    out[ends] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    return np.cumsum(out)


def varints_at(buf: U8, pos: I64, end: I64, what: str) -> tuple[U64, I64]:
    """Decode one varint at each position (bounded by ``end``): values and byte lengths."""
    n = pos.shape[0]
    vals = np.zeros(n, dtype=np.uint64)
    lens = np.ones(n, dtype=np.int64)
    if n == 0:
        return vals, lens
    if (pos >= end).any():
        bad = int(pos[int(np.argmax(pos >= end))])
        raise FormatError(f"malformed varint in {what}", "the profile is corrupt", offset=bad)
    b0 = buf[pos]
    vals[:] = b0 & 0x7F
    # tags, small ids and lengths are mostly one byte: only the rest take the 10-byte path
    # continue byte by byte, only for the varints still open (no n x 10 matrix)
    sel = np.flatnonzero(b0 >= 0x80)
    k = 1
    while sel.size:
        if k >= _MAX_VARINT:
            bad = int(pos[sel[0]])
            raise FormatError(f"varint longer than 10 bytes in {what}", "the profile is corrupt", offset=bad)
        at = pos[sel] + k
        past = at >= end[sel]
        if past.any():
            bad = int(pos[sel[int(np.argmax(past))]])
            raise FormatError(f"malformed varint in {what}", "the profile is corrupt", offset=bad)
        bk = buf[at]
        vals[sel] |= (bk & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        lens[sel] += 1
        sel = sel[bk >= 0x80]
        k += 1
    return vals, lens


def packed_varints(buf: U8, starts: I64, lengths: I64, what: str) -> tuple[U64, I64]:
    """Decode packed varint payloads: all values, and how many came from each payload.

    Payloads must be disjoint and in buffer order (as ``walk_messages`` yields them).
    """
    nz = lengths > 0
    if not nz.any():
        return np.zeros(0, dtype=np.uint64), np.zeros(starts.shape[0], dtype=np.int64)
    # payload bytes selected with a difference array: one pass over the buffer, no index ranges
    edge = np.zeros(buf.shape[0] + 1, dtype=np.int8)
    edge[starts[nz]] += 1
    edge[(starts + lengths)[nz]] -= 1
    b = buf[np.cumsum(edge[:-1], dtype=np.int8).view(np.bool_)]
    term = (b & 0x80) == 0
    pos_end = np.cumsum(lengths)
    if not term[(pos_end - 1)[nz]].all():
        bad = int((starts + lengths - 1)[nz][int(np.argmin(term[(pos_end - 1)[nz]]))])
        raise FormatError(f"truncated packed varint in {what}", "the profile is corrupt", offset=bad)
    ends = np.flatnonzero(term)
    vlen = np.diff(ends, prepend=-1)
    if int(vlen.max()) > _MAX_VARINT:
        raise FormatError(f"varint longer than 10 bytes in {what}", "the profile is corrupt")
    # most varints are 1-2 bytes: fold in earlier bytes for the ones that are longer
    vals = (b[ends] & 0x7F).astype(np.uint64)
    longer = np.flatnonzero(vlen > 1)
    j = 1
    while longer.size:
        vals[longer] = (vals[longer] << np.uint64(7)) | (b[ends[longer] - j] & 0x7F).astype(np.uint64)
        j += 1
        longer = longer[vlen[longer] > j]
    # count per payload: terminators before each payload's end
    cum = np.zeros(b.shape[0] + 1, dtype=np.int64)
    np.cumsum(term, out=cum[1:])
    counts = cum[pos_end] - cum[pos_end - lengths]
    return vals, counts.astype(np.int64)


@dataclass(slots=True)
class Fields:
    """Every field of a batch of messages, in wire order per message.

    Row i: message ``msg[i]`` has field ``num[i]`` with wire type ``wt[i]``; for
    varints ``val[i]`` is the value, for length-delimited fields ``start[i]`` and
    ``val[i]`` are the payload offset and length.
    """

    msg: I64
    num: I64
    wt: I64
    val: U64
    start: I64

    def select(self, num: int, wt: int) -> tuple[I64, U64, I64]:
        m = (self.num == num) & (self.wt == wt)
        return self.msg[m], self.val[m], self.start[m]


def walk_messages(buf: U8, starts: I64, lengths: I64, what: str) -> Fields:
    """Split each message ``buf[start:start+len]`` into its fields (one round per field index)."""
    pos = starts.astype(np.int64, copy=True)
    end = starts + lengths
    active = np.flatnonzero(pos < end)
    out_msg: list[I64] = []
    out_num: list[I64] = []
    out_wt: list[I64] = []
    out_val: list[U64] = []
    out_start: list[I64] = []
    while active.size:
        p = pos[active]
        e = end[active]
        key, kl = varints_at(buf, p, e, what)
        wt = (key & np.uint64(7)).astype(np.int64)
        num = (key >> np.uint64(3)).astype(np.int64)
        p = p + kl
        val = np.zeros(active.size, dtype=np.uint64)
        start = np.zeros(active.size, dtype=np.int64)
        newpos = p.copy()
        vi = np.flatnonzero((wt == 0) | (wt == 2))
        if vi.size:
            v, vl = varints_at(buf, p[vi], e[vi], what)
            val[vi] = v
            newpos[vi] = p[vi] + vl
            li = vi[wt[vi] == 2]
            if li.size:
                ln = val[li]
                start[li] = newpos[li]
                if (ln > np.uint64(np.iinfo(np.int64).max)).any():
                    raise FormatError(f"field length out of range in {what}", "the profile is corrupt")
                newpos[li] = newpos[li] + ln.astype(np.int64)
        fixed = (wt == 1) | (wt == 5)
        if fixed.any():
            # fixed64/fixed32 are not in pprof's schema: skipped, like unknown fields
            newpos[fixed] = p[fixed] + np.where(wt[fixed] == 1, 8, 4)
            start[fixed] = p[fixed]
        if ((wt == 3) | (wt == 4) | (wt > 5)).any() or (num == 0).any():
            bad = int(p[int(np.argmax((wt == 3) | (wt == 4) | (wt > 5) | (num == 0)))])
            raise FormatError(f"invalid field tag in {what}", "the profile is corrupt", offset=bad)
        if (newpos > e).any():
            bad = int(p[int(np.argmax(newpos > e))])
            raise FormatError(f"field runs past the end of its message in {what}", "the profile is corrupt", offset=bad)
        out_msg.append(active)
        out_num.append(num)
        out_wt.append(wt)
        out_val.append(val)
        out_start.append(start)
        pos[active] = newpos
        active = active[newpos < e]
    if not out_msg:
        z = np.zeros(0, dtype=np.int64)
        return Fields(z, z, z, np.zeros(0, dtype=np.uint64), z)
    msg = np.concatenate(out_msg)
    # rounds were appended in field order, so a stable sort by message keeps wire order
    order = np.argsort(msg, kind="stable")
    return Fields(
        msg[order],
        np.concatenate(out_num)[order],
        np.concatenate(out_wt)[order],
        np.concatenate(out_val)[order],
        np.concatenate(out_start)[order],
    )


def repeated_varints(buf: U8, fields: Fields, num: int, n_msgs: int, what: str) -> tuple[U64, I64]:
    """A ``repeated`` varint field, packed or not: flat values in wire order and CSR offsets."""
    pm, plen, pstart = fields.select(num, 2)
    um, uval, _ = fields.select(num, 0)
    pvals, pcounts = packed_varints(buf, pstart, plen.astype(np.int64), what)
    if um.size == 0:
        owner = np.repeat(pm, pcounts)
        vals = pvals
    else:
        # Packed and unpacked occurrences (Go packs only lists longer than two): rows are
        # in (message, wire order), so each row's output position is the running count
        # of elements over the rows of this field.
        rows = np.flatnonzero(fields.num == num)
        is_packed = fields.wt[rows] == 2
        rows = rows[is_packed | (fields.wt[rows] == 0)]
        is_packed = fields.wt[rows] == 2
        cnt = np.ones(rows.size, dtype=np.int64)
        cnt[is_packed] = pcounts
        first = np.zeros(rows.size, dtype=np.int64)
        np.cumsum(cnt[:-1], out=first[1:])
        total = int(cnt.sum())
        vals = np.empty(total, dtype=np.uint64)
        vals[ranges(first[is_packed], pcounts)] = pvals
        vals[first[~is_packed]] = uval
        owner = np.repeat(fields.msg[rows], cnt)
    counts = np.bincount(owner, minlength=n_msgs).astype(np.int64)
    offsets = np.zeros(n_msgs + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return vals, offsets


def last_varint(fields: Fields, num: int, n_msgs: int, default: int = 0) -> U64:
    """A singular varint field per message (the last occurrence wins, as in protobuf)."""
    out = np.full(n_msgs, default, dtype=np.uint64)
    m, v, _ = fields.select(num, 0)
    if m.size:
        # rows are in wire order per message: the first hit in the reversed rows is the last one
        uniq, first = np.unique(m[::-1], return_index=True)
        out[uniq] = v[::-1][first]
    return out


# ---------------------------------------------------------------------- encoding
def encode_varints(v: U64) -> tuple[U8, I64]:
    """Varint bytes of every value, back to back, and each value's byte length."""
    nb = np.ones(v.shape[0], dtype=np.int64)
    t = v >> np.uint64(7)
    while t.any():
        nb += t > 0
        t = t >> np.uint64(7)
    ends = np.cumsum(nb)
    starts = ends - nb
    out = np.zeros(int(ends[-1]) if nb.size else 0, dtype=np.uint8)
    cur = v.copy()
    k = 0
    sel = np.arange(v.shape[0])
    while sel.size:
        more = nb[sel] > k + 1
        out[starts[sel] + k] = ((cur[sel] & np.uint64(0x7F)) | np.where(more, np.uint64(0x80), np.uint64(0))).astype(
            np.uint8
        )
        cur[sel] >>= np.uint64(7)
        k += 1
        sel = sel[more]
    return out, nb


def _excl(a: I64) -> I64:
    out = np.zeros(a.shape[0], dtype=np.int64)
    if a.shape[0] > 1:
        np.cumsum(a[:-1], out=out[1:])
    return out


# A "column" is the bytes of one piece of every message: a stream where message i's
# piece is the next ``lens[i]`` bytes. Messages are built by concatenating columns.
Column = tuple[U8, I64]


def const_col(byte: int, n: int) -> Column:
    """The same single byte (a field tag) in every message."""
    return np.full(n, byte, dtype=np.uint8), np.ones(n, dtype=np.int64)


def varint_col(values: U64) -> Column:
    return encode_varints(values.astype(np.uint64))


def packed_col(flat: U64, offsets: I64) -> Column:
    """A packed repeated varint payload per message (message i owns flat[offsets[i]:offsets[i+1]])."""
    b, nb = encode_varints(flat.astype(np.uint64))
    cum = np.zeros(nb.shape[0] + 1, dtype=np.int64)
    np.cumsum(nb, out=cum[1:])
    return b, cum[offsets[1:]] - cum[offsets[:-1]]


def concat_cols(cols: list[Column]) -> Column:
    """Message i = the i-th piece of each column, in order."""
    n = cols[0][1].shape[0]
    per = np.zeros(n, dtype=np.int64)
    for _, lens in cols:
        per += lens
    out = np.zeros(int(per.sum()), dtype=np.uint8)
    pos = _excl(per)
    for stream, lens in cols:
        if lens.shape[0] and int(lens.max()) == 1 and int(lens.min()) == 1:
            out[pos] = stream
        else:
            out[ranges(pos, lens)] = stream  # a column's stream is already in message order
        pos = pos + lens
    return out, per


def len_field(num: int, col: Column) -> Column:
    """Field ``num`` (length-delimited) wrapping each message's piece of ``col``."""
    n = col[1].shape[0]
    return concat_cols([const_col((num << 3) | 2, n), varint_col(col[1].astype(np.uint64)), col])


def varint_field(num: int, values: U64) -> list[Column]:
    return [const_col(num << 3, values.shape[0]), varint_col(values)]


def encode_samples(locs: U64, loc_off: I64, values: U64, k: int, field: int = 2) -> bytes:
    """Repeated pprof ``Sample`` entries (packed location_id = 1, packed value = 2) in bulk.

    The bytes are a valid run of top-level field ``field`` entries: protobuf merges
    concatenated fields, so they can follow the serialized rest of the Profile.
    """
    n = loc_off.shape[0] - 1
    if n == 0:
        return b""
    voff = np.arange(n + 1, dtype=np.int64) * k
    sample = concat_cols([len_field(1, packed_col(locs, loc_off)), len_field(2, packed_col(values, voff))])
    return len_field(field, sample)[0].tobytes()


def encode_messages(field: int, columns: list[Column]) -> bytes:
    """Repeated top-level field ``field`` whose messages are the concatenated columns."""
    if not columns or columns[0][1].shape[0] == 0:
        return b""
    return len_field(field, concat_cols(columns))[0].tobytes()
