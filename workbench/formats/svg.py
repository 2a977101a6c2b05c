"""Interactive, self-contained SVG flame graph export (the flamegraph.pl / inferno kind).

The file opens in any browser with no network: click a frame to zoom, "Reset Zoom",
"Search" (regex or substring) with "Matched: x%", hover details; the view is kept in the
address (``?x=<box>&s=<term>``) so a link reopens it. Without script (an ``<img>`` tag,
a PR preview) it still shows every box, label and ``<title>`` tooltip.

Names come from profiled programs and are untrusted. Every piece of markup goes
through ``_SvgWriter``, whose tag and attribute names are fixed identifiers and whose
values are sanitised (``clean_name``) and XML-escaped; the data the script needs is a
JSON blob with ``<``, ``>`` and ``&`` written as ``\\u`` escapes, so neither ``]]>``
nor ``</script>`` can appear in it. The script only ever sets ``textContent`` and
numeric attributes, never markup.

Layout is computed from the profile's flat arrays with numpy, one level at a time
(no recursion over depth). Frames narrower than ``MIN_WIDTH_PX`` are pruned together
with their subtrees (flamegraph.pl's ``--minwidth``) and at most ``MAX_FRAMES`` boxes
are written, so a huge profile still gives a small file in bounded memory.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from ..model.frames import FRAMES_OVERFLOW, NODES_OVERFLOW, TRUNCATED_STACK, Frame, Runtime
from ..model.profile import Profile
from . import resolve_sample_index
from .atomic import atomic_write

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Geometry, as flamegraph.pl draws it so the files look familiar.
IMAGE_WIDTH = 1200
FRAME_HEIGHT = 16
FRAME_PAD = 1
FONT_SIZE = 12
FONT_WIDTH = 0.59  # average glyph width relative to the font size
XPAD = 10
YPAD_TOP = FONT_SIZE * 3 + FONT_SIZE * 2  # title, subtitle and buttons
YPAD_BOTTOM = FONT_SIZE * 2 + 10  # details line and "Matched:"
MIN_WIDTH_PX = 0.1
TITLE_MIN_PX = 1.0  # narrower boxes get their <title> tooltip from the script, on hover
MAX_FRAMES = 60_000  # hard cap on boxes written, whatever the profile's size
MAX_LABEL_CHARS = 400  # a 1 MB function name must not make a 1 MB box label
SEARCH_COLOR = "rgb(230,0,230)"

PathOrStream = str | os.PathLike[str] | IO[str] | IO[bytes]

# ------------------------------------------------------------------ escaping
# Characters XML 1.0 forbids (C0 controls, surrogates, U+FFFE/U+FFFF), plus tab, newlines,
# DEL, C1 controls and bidi overrides: legal or not, they only serve to garble or spoof a
# label, so every one becomes U+FFFD, visibly.
_UNSAFE_RANGES = "\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
_UNSAFE_CHARS = re.compile(f"[{_UNSAFE_RANGES}]")
_XML_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_:-]*")  # used with fullmatch: no trailing newline slips by
# one regex scan decides whether a string needs any work (most names need none)
_NEEDS_TEXT_WORK = re.compile(f"[&<>{_UNSAFE_RANGES}]")
_NEEDS_ATTR_WORK = re.compile(f"[&<>\"'{_UNSAFE_RANGES}]")


def clean_name(name: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """A name made safe to show: no control/illegal characters, bounded length."""
    if len(name) > max_chars:
        name = name[: max_chars - 1] + "\u2026"
    return _UNSAFE_CHARS.sub("\ufffd", name)


def _text(value: str) -> str:
    """Character data: sanitised, then ``& < >`` escaped."""
    if _NEEDS_TEXT_WORK.search(value) is None:
        return value
    return _UNSAFE_CHARS.sub("\ufffd", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    """An attribute value in double quotes: sanitised, then ``& < > " '`` escaped."""
    if _NEEDS_ATTR_WORK.search(value) is None:
        return value
    return _text(value).replace('"', "&quot;").replace("'", "&#39;")


def safe_json(obj: object) -> str:
    """JSON that is inert inside CDATA, ``<script>`` and XML: no ``<``, ``>``, ``&`` or raw controls.

    ``ensure_ascii`` turns every control and non-ASCII character into a ``\\u`` escape; the
    three markup characters only ever occur inside JSON strings, where ``\\u`` escapes are
    equivalent, so the parsed value is unchanged.
    """
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _SvgWriter:
    """Builds markup from (tag, attributes, text) only; nothing is ever spliced in raw.

    Tag and attribute names must be plain XML names (they are constants of this module);
    values and text are sanitised and escaped here, in one place.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._open: list[str] = []

    @staticmethod
    def _check_name(name: str) -> str:
        if not _XML_NAME.fullmatch(name):
            raise ValueError(f"not an XML name: {name!r}")
        return name

    def _start_tag(self, tag: str, attrs: dict[str, str | float]) -> str:
        out = ["<", self._check_name(tag)]
        for key, value in attrs.items():
            text = _fmt_num(value) if isinstance(value, int | float) else _attr(value)
            out.append(f' {self._check_name(key)}="{text}"')
        return "".join(out)

    def declaration(self) -> None:
        self._parts.append('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n')

    def start(self, tag: str, attrs: dict[str, str | float] | None = None) -> None:
        self._parts.append(self._start_tag(tag, attrs or {}) + ">")
        self._open.append(tag)

    def end(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            raise ValueError(f"closing {tag!r} but open is {self._open[-1:]!r}")
        self._open.pop()
        self._parts.append(f"</{tag}>\n")

    def element(self, tag: str, attrs: dict[str, str | float] | None = None, text: str | None = None) -> None:
        head = self._start_tag(tag, attrs or {})
        if text is None:
            self._parts.append(head + "/>")
        else:
            self._parts.append(f"{head}>{_text(text)}</{tag}>")

    def cdata(self, payload: str) -> None:
        """Raw character data for ``<style>``/``<script>``; must be free of ``]]>`` already."""
        if "]]>" in payload:
            raise ValueError("CDATA payload contains ']]>'")
        if _UNSAFE_CHARS.search(payload.replace("\n", "").replace("\t", "")):
            raise ValueError("CDATA payload contains characters illegal in XML")
        self._parts.append(f"<![CDATA[\n{payload}\n]]>")

    def frames(
        self,
        names: Sequence[str],
        fills: Sequence[str],
        which: Sequence[int],
        boxes: tuple[FloatArray, FloatArray, FloatArray],
        stats: Sequence[str | None],
    ) -> None:
        """Every flame box as ``<g><title>name stats</title><rect/><text>label</text></g>``.

        Box i draws name ``names[which[i]]`` at ``boxes`` (x, y, width arrays); a box whose
        ``stats`` is None gets no ``<title>`` (the script adds one on hover). Names and fills
        repeat across boxes, so each distinct one is escaped once; a label cut to its box is
        cut from the raw name and then escaped, so an entity is never split. The boxes are
        formatted by ``str.format`` mapped over columns (no per-box Python bytecode): this
        loop is most of the export's time on large profiles.
        """
        n = len(which)
        if n == 0:
            return
        xs, ys, ws = boxes
        esc_names = [_text(name) for name in names]
        esc_fills = [_attr(fill) for fill in fills]
        pick = operator.itemgetter(*which) if n > 1 else (lambda seq: (seq[which[0]],))
        name_col: tuple[str, ...] = pick(esc_names)
        fill_col: tuple[str, ...] = pick(esc_fills)
        # labels only where one fits (box_label()'s rule); most boxes are too narrow, and get
        # no <text> at all (the script adds one when a zoom makes room)
        chars = (ws / (FONT_SIZE * FONT_WIDTH)).astype(np.int64)
        text_col = [""] * n
        for i in np.flatnonzero(chars >= 3).tolist():
            li = which[i]
            fit = int(chars[i])
            label = esc_names[li] if len(names[li]) <= fit else _text(names[li][: fit - 2] + "..")
            text_col[i] = f'<text x="{xs[i] + 3:.2f}" y="{ys[i] + 10.5:.1f}">{label}</text>'
        rect = (
            '<rect x="{2:.1f}" y="{3:.0f}" width="{4:.1f}" height="'
            + str(FRAME_HEIGHT - FRAME_PAD)
            + '" fill="{5}" rx="2" ry="2"/>{6}</g>\n'
        )
        titled, plain = "<g><title>{0} {1}</title>" + rect, "<g>" + rect  # str.format ignores unused args
        self._parts.append(
            "".join(
                map(
                    str.format,
                    [plain if stat is None else titled for stat in stats],
                    name_col,
                    ["" if stat is None else _text(stat) for stat in stats],
                    xs.tolist(),
                    ys.tolist(),
                    ws.tolist(),
                    fill_col,
                    text_col,
                )
            )
        )

    def getvalue(self) -> str:
        if self._open:
            raise ValueError(f"unclosed elements: {self._open!r}")
        return "".join(self._parts)


def _fmt_num(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("non-finite number in SVG attribute")
    return f"{value:.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


# ------------------------------------------------------------------- layout
@dataclass(frozen=True, slots=True)
class FlameLayout:
    """Boxes of a flame graph in value units, ordered by (depth, x); index 0 is the root."""

    nodes: IntArray  # profile node ids
    x: FloatArray  # left edge in value units from the root's left edge
    value: FloatArray  # inclusive value (box width in value units)
    self_value: FloatArray
    depth: IntArray
    total: float  # the root's value: the full width
    pruned: int  # nodes with value left out as narrower than the minimum width


def frame_sort_key(frame: Frame) -> tuple[str, str, int]:
    """Siblings are ordered by name, as flamegraph.pl orders its sorted input."""
    return (frame.function, frame.file, frame.line)


def layout_flame(
    profile: Profile,
    sample_index: int,
    *,
    width_px: float = IMAGE_WIDTH - 2 * XPAD,
    min_width_px: float = MIN_WIDTH_PX,
    max_frames: int = MAX_FRAMES,
) -> FlameLayout:
    """Place every node at least ``min_width_px`` wide; children sorted by name, no recursion."""
    parent = profile.parent.astype(np.int64)
    depth = profile.depth.astype(np.int64)
    self_all = profile.self_values[:, sample_index]
    if bool(np.all(np.isfinite(self_all) & (self_all >= 0))):
        total_all = profile.total_values()[:, sample_index]
    else:
        # negative (diff) and non-finite (corrupt) self values get no width, so boxes still nest
        self_all = np.where(np.isfinite(self_all) & (self_all > 0), self_all, 0.0)
        total_all = _inclusive(parent, depth, self_all)
    frame = profile.frame.astype(np.int64)
    root_total = float(total_all[0])
    empty = np.zeros(1, dtype=np.float64)
    if root_total <= 0 or profile.n_nodes <= 1:
        return FlameLayout(np.zeros(1, np.int64), empty, empty.copy(), empty.copy(), np.zeros(1, np.int64), 0.0, 0)

    threshold = root_total * min_width_px / width_px
    keep = total_all >= threshold
    keep &= total_all > 0
    if int(keep.sum()) > max_frames:
        # raise the bar to the max_frames-th widest box: bounded output for any input
        threshold = max(threshold, float(np.partition(total_all, -max_frames)[-max_frames]))
        keep = total_all > threshold
    keep[0] = True

    # Visit nodes level by level (parents precede children within the sort): a kept node
    # with a dropped ancestor is dropped too, and x = x(parent) + widths of earlier siblings.
    candidates = np.flatnonzero(keep)
    by_level = candidates[np.argsort(depth[candidates], kind="stable")]
    level_depths = depth[by_level]
    cuts = np.flatnonzero(np.diff(level_depths)) + 1
    levels = np.split(by_level, cuts)

    rank = _sibling_rank(profile, frame[candidates[1:]] if len(candidates) > 1 else np.zeros(0, np.int64))
    x_all = np.zeros(profile.n_nodes, dtype=np.float64)
    alive = np.zeros(profile.n_nodes, dtype=bool)
    alive[0] = True
    out_levels: list[IntArray] = [np.zeros(1, dtype=np.int64)]
    for candidates_at_level in levels[1:]:
        lvl = candidates_at_level[alive[parent[candidates_at_level]]]
        if len(lvl) == 0:
            break
        alive[lvl] = True
        lvl = lvl[np.lexsort((rank[frame[lvl]], parent[lvl]))]
        widths = total_all[lvl]
        ends = np.cumsum(widths)
        starts = ends - widths
        par = parent[lvl]
        first = np.ones(len(lvl), dtype=bool)
        first[1:] = par[1:] != par[:-1]
        group_base = np.maximum.accumulate(np.where(first, starts, 0.0))
        x_all[lvl] = x_all[par] + (starts - group_base)
        out_levels.append(lvl)

    nodes = np.concatenate(out_levels)
    has_value = total_all > 0
    pruned = int(has_value.sum()) - len(nodes)
    return FlameLayout(
        nodes=nodes,
        x=x_all[nodes],
        value=total_all[nodes],
        self_value=self_all[nodes].astype(np.float64),
        depth=depth[nodes],
        total=root_total,
        pruned=max(pruned, 0),
    )


def _inclusive(parent: IntArray, depth: IntArray, self_values: FloatArray) -> FloatArray:
    """Subtree sums, deepest level first (parents precede children; no recursion)."""
    total = self_values.astype(np.float64).copy()
    order = np.argsort(depth, kind="stable")[::-1]
    d_sorted = depth[order]
    cuts = np.flatnonzero(np.diff(d_sorted)) + 1
    for idx in np.split(order, cuts):
        if len(idx) and depth[idx[0]] > 0:
            np.add.at(total, parent[idx], total[idx])
    return total


def _sibling_rank(profile: Profile, frame_ids: IntArray) -> IntArray:
    """Rank of each used frame id by ``frame_sort_key`` (only the frames that are drawn)."""
    rank = np.zeros(max(len(profile.frames), 1), dtype=np.int64)
    # a mask, not np.unique: cheaper, and plain np.unique imports numpy.ma (~30 ms of convert)
    seen = np.zeros(len(rank), dtype=bool)
    seen[frame_ids[frame_ids >= 0]] = True
    used = np.flatnonzero(seen)
    table = profile.frames
    ordered = sorted(used.tolist(), key=lambda fid: frame_sort_key(table[fid]))
    rank[np.asarray(ordered, dtype=np.int64)] = np.arange(len(ordered), dtype=np.int64)
    return rank


# ------------------------------------------------------------------- colours
_MARKERS = {TRUNCATED_STACK, FRAMES_OVERFLOW, NODES_OVERFLOW}
# (base rgb, spread rgb) per runtime family: one hue per runtime, the package picks the shade.
_PALETTES: dict[Runtime, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    Runtime.PYTHON: ((205, 0, 0), (50, 230, 55)),  # flamegraph.pl's "hot"
    Runtime.OTHER: ((205, 0, 0), (50, 230, 55)),
    Runtime.GO: ((50, 165, 165), (60, 55, 55)),  # aqua
    Runtime.NATIVE: ((200, 50, 50), (55, 80, 80)),  # red
    Runtime.NODE: ((50, 190, 50), (60, 60, 60)),  # green
}


def _unit_hash(text: str) -> float:
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) / 0xFFFFFFFF


def frame_color(frame: Frame) -> str:
    """Deterministic colour: hue family by runtime, shade by package, slight jitter by function."""
    if frame in _MARKERS:
        return "rgb(160,160,160)"
    base, spread = _PALETTES.get(frame.runtime, _PALETTES[Runtime.OTHER])
    package = frame.package() or frame.function
    # the package sets the dominant channel's band, the function varies it within the band
    # so neighbours stay distinguishable even when one package holds every frame
    v_pkg = _unit_hash(package)
    v_fn = _unit_hash(frame.function)
    v_fn2 = _unit_hash(frame.function[::-1])
    r = base[0] + int(spread[0] * v_fn2)
    g = base[1] + int(spread[1] * (0.65 * v_pkg + 0.35 * v_fn))
    b = base[2] + int(spread[2] * v_fn)
    return f"rgb({r},{g},{b})"


# -------------------------------------------------------------------- values
def value_formatter(type_name: str, unit: str) -> Callable[[float], str]:
    """Human text for one value of a sample type (the script mirrors this)."""

    def fmt_one(v: float) -> str:
        return format_values(np.asarray([v], dtype=np.float64), type_name, unit)[0]

    return fmt_one


_SCALES = {
    "nanoseconds": ((1e9, "s"), (1e6, "ms"), (1e3, "\u00b5s"), (1.0, "ns")),
    "bytes": ((float(1 << 30), "GiB"), (float(1 << 20), "MiB"), (float(1 << 10), "KiB"), (1.0, "B")),
}


def format_values(values: FloatArray, type_name: str, unit: str) -> list[str]:
    """Human text for many values at once: ``1,234 samples``, ``2.50 s``, ``3.00 MiB``.

    Times and sizes take the largest unit they reach, with two decimals (whole numbers in
    the base unit); counts are whole numbers when they are integers.
    """
    scales = _SCALES.get(unit)
    if scales is None:
        noun = "samples" if type_name == "samples" else type_name
        whole = np.mod(values, 1.0) == 0
        fmts = np.where(whole, "{:,.0f} {}", "{:,.2f} {}").tolist()
        return list(map(str.format, fmts, values.tolist(), [noun] * len(values)))
    mags = np.abs(values)
    scale = np.ones(len(values))
    suffix = np.full(len(values), scales[-1][1], dtype=object)
    for factor, name in reversed(scales[:-1]):  # largest unit reached wins
        hit = mags >= factor
        scale[hit] = factor
        suffix[hit] = name
    fmts = np.where(scale == 1.0, "{:,.0f} {}", "{:,.2f} {}").tolist()
    return list(map(str.format, fmts, (values / scale).tolist(), suffix.tolist()))


# ------------------------------------------------------------------- writing
def _template(name: str) -> str:
    # next to this module (package data; the frozen app copies it alongside): a plain path
    # read, not importlib.resources, whose zip support costs ``workbench convert`` ~15 ms
    text = Path(__file__).with_name(name).read_text(encoding="utf-8")
    if "]]>" in text:
        raise ValueError(f"{name} must not contain ']]>'")
    return text


def box_label(label: str, width_px: float) -> str:
    """What fits in a box: flamegraph.pl's rule (3 chars minimum, '..' when cut)."""
    chars = int(width_px / (FONT_SIZE * FONT_WIDTH))
    if chars < 3:
        return ""
    if len(label) <= chars:
        return label
    return label[: chars - 2] + ".."


def frame_label(frame: Frame) -> str:
    """``function (file:line)`` with the file's base name, as py-spy's own graphs label frames."""
    return clean_name(frame.label())


def render_svg(profile: Profile, sample_index: int | str | None = None, title: str | None = None) -> str:
    """The SVG document as text."""
    si = resolve_sample_index(profile, sample_index)
    st = profile.sample_types[si]
    fmt_value = value_formatter(st.type, st.unit)
    lay = layout_flame(profile, si)
    inner = IMAGE_WIDTH - 2 * XPAD
    max_depth = int(lay.depth.max()) if len(lay.depth) else 0
    height = (max_depth + 1) * FRAME_HEIGHT + YPAD_TOP + YPAD_BOTTOM
    scale = inner / lay.total if lay.total > 0 else 0.0
    px_x = XPAD + lay.x * scale
    px_w = lay.value * scale
    px_y = height - YPAD_BOTTOM - (lay.depth + 1) * FRAME_HEIGHT + FRAME_PAD

    # local frame table: only the frames that are drawn, each cleaned and coloured once
    fids = profile.frame[lay.nodes].astype(np.int64)
    used, local = np.unique(fids, return_inverse=True)
    frames_json: list[list[str | int]] = []
    labels: list[str] = []
    colors: list[str] = []
    color_cache: dict[tuple[str, Runtime, str], str] = {}
    for fid in used.tolist():
        if fid < 0:
            labels.append("all")
            colors.append("rgb(210,210,210)")
            frames_json.append(["all", "all", "", 0, ""])
            continue
        fr = profile.frames[fid]
        label = frame_label(fr)
        labels.append(label)
        key = (fr.package(), fr.runtime, fr.function)
        color = color_cache.get(key)
        if color is None:
            color = color_cache[key] = frame_color(fr)
        colors.append(color)
        frames_json.append(
            [label, clean_name(fr.function), clean_name(fr.file), int(fr.line), clean_name(fr.package())]
        )

    doc_title = clean_name(title if title is not None else (profile.name or "Flame Graph"))
    shown = len(lay.nodes)
    subtitle = f"{st.type} ({st.unit}), total {fmt_value(lay.total)}"
    if lay.pruned:
        subtitle += f"; {lay.pruned:,} frames narrower than {MIN_WIDTH_PX} px not drawn"

    w = _SvgWriter()
    w.declaration()
    w.start(
        "svg",
        {
            "version": "1.1",
            "width": IMAGE_WIDTH,
            "height": height,
            "viewBox": f"0 0 {IMAGE_WIDTH} {height}",
            "xmlns": "http://www.w3.org/2000/svg",
        },
    )
    w.start("defs")
    w.start("linearGradient", {"id": "background", "y1": "0", "y2": "1", "x1": "0", "x2": "0"})
    w.element("stop", {"stop-color": "#eeeeee", "offset": "5%"})
    w.element("stop", {"stop-color": "#eeeeb0", "offset": "95%"})
    w.end("linearGradient")
    w.end("defs")
    w.start("style", {"type": "text/css"})
    w.cdata(_template("svg_template.css"))
    w.end("style")
    w.element("rect", {"x": 0, "y": 0, "width": IMAGE_WIDTH, "height": height, "fill": "url(#background)"})
    w.element("text", {"id": "title", "x": IMAGE_WIDTH // 2, "y": FONT_SIZE * 2}, doc_title)
    w.element("text", {"id": "subtitle", "x": IMAGE_WIDTH // 2, "y": FONT_SIZE * 4}, subtitle)
    w.element("text", {"id": "unzoom", "class": "hide", "x": XPAD, "y": FONT_SIZE * 2}, "Reset Zoom")
    w.element("text", {"id": "search", "x": IMAGE_WIDTH - XPAD - 100, "y": FONT_SIZE * 2}, "Search")
    w.element("text", {"id": "ignorecase", "x": IMAGE_WIDTH - XPAD - 16, "y": FONT_SIZE * 2}, "ic")
    w.element("text", {"id": "details", "x": XPAD, "y": height - YPAD_BOTTOM / 2}, " ")
    w.element("text", {"id": "matched", "x": IMAGE_WIDTH - XPAD - 100, "y": height - YPAD_BOTTOM / 2}, " ")
    w.start("g", {"id": "frames"})
    total = lay.total
    pcts = (100.0 * lay.value / total if total else np.zeros_like(lay.value)).tolist()
    # Boxes under TITLE_MIN_PX (most of a big graph) can only be pointed at after a zoom,
    # which needs the script, and the script shows details and adds a <title> on hover.
    titled = np.flatnonzero(px_w >= TITLE_MIN_PX)
    stats: list[str | None] = [None] * len(lay.nodes)
    value_texts = format_values(lay.value[titled], st.type, st.unit)
    for i, text, pct in zip(titled.tolist(), value_texts, [pcts[i] for i in titled.tolist()], strict=True):
        stats[i] = f"({text}, {pct:.2f}%)"
    w.frames(labels, colors, local.tolist(), (px_x, px_y.astype(np.float64), px_w), stats)
    w.end("g")

    data = {
        "version": 1,
        "geometry": {
            "width": IMAGE_WIDTH,
            "xpad": XPAD,
            "fontSize": FONT_SIZE,
            "fontWidth": FONT_WIDTH,
            "searchColor": SEARCH_COLOR,
        },
        "sampleType": {"type": st.type, "unit": st.unit},
        "total": _json_num(total),
        "frames": frames_json,
        "f": local.tolist(),
        "x": _json_nums(lay.x),
        "v": _json_nums(lay.value),
        "s": _json_nums(lay.self_value),
        "d": lay.depth.tolist(),
        "shown": shown,
        "pruned": lay.pruned,
    }
    w.start("script", {"type": "application/json", "id": "wb-data"})
    w.cdata(safe_json(data))
    w.end("script")
    w.start("script", {"type": "text/ecmascript"})
    w.cdata(_template("svg_template.js"))
    w.end("script")
    w.end("svg")
    return w.getvalue()


def _json_num(v: float) -> float | int:
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)


def _json_nums(arr: FloatArray) -> list[float] | list[int]:
    # integers print shorter and exactly; sample counts nearly always are
    if np.all(np.mod(arr, 1.0) == 0) and (len(arr) == 0 or float(np.abs(arr).max()) < 2**53):
        ints: list[int] = arr.astype(np.int64).tolist()
        return ints
    floats: list[float] = arr.tolist()
    return floats


def write_svg(
    profile: Profile,
    path_or_stream: PathOrStream,
    sample_index: int | str | None = None,
    title: str | None = None,
) -> None:
    """Write ``profile`` as an interactive SVG flame graph to a path (atomically) or a stream."""
    text = render_svg(profile, sample_index=sample_index, title=title)
    if isinstance(path_or_stream, str | os.PathLike):
        atomic_write(path_or_stream, text.encode("utf-8"), "SVG")
        return
    stream = path_or_stream
    binary = isinstance(stream, io.RawIOBase | io.BufferedIOBase) or "b" in str(getattr(stream, "mode", ""))
    if isinstance(stream, io.TextIOBase) or not binary:
        stream.write(text)  # type: ignore[call-overload]
    else:
        stream.write(text.encode("utf-8"))  # type: ignore[arg-type]
