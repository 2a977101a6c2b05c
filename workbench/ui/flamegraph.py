"""The flame graph canvas: one ``paintEvent`` drawing the numpy layout with QPainter.

Never one QGraphicsItem per frame: boxes come from ``analysis.layout`` as flat arrays,
are batched per palette colour into ``drawRects`` calls, and only boxes at least a pixel
wide exist at all (narrow siblings arrive as hatched "(n more)" boxes). The zoom is kept
as a path of frame ids, so a live update that grows the tree keeps the same zoom, and
siblings are sorted by name so they do not move as their sizes change.
"""

from __future__ import annotations

import math
import re

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QGuiApplication, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ..analysis.layout import (
    AbsoluteLayout,
    NameRankCache,
    ViewLayout,
    compile_search,
    match_frames,
    matched_weight,
    node_matches,
    node_path,
    profile_layout,
    resolve_path,
    view_layout,
)
from ..model.frames import Frame
from ..model.profile import Profile
from .flame_colors import COLOR_DIFF, COLOR_PACKAGE, FramePaletteCache, diff_index, palette
from .painted import PaintedWidget
from .text import plain_tooltip
from .units import format_percent, format_value

ROW_H = 18
FLAME = "flame"  # root at the bottom
ICICLE = "icicle"  # root at the top
MIN_VIEW_SPAN = 1e-9  # wheel zoom limit, as a fraction of the zoom root
MAX_HISTORY = 64  # zoom history entries kept for Back


class FlameGraphWidget(PaintedWidget):
    """Paints one profile. Owns zoom, viewport, hover and search state; no transforms."""

    zoomChanged = Signal()
    searchChanged = Signal(float)  # matched fraction of the root total, -1 if no search
    hoverChanged = Signal(str)
    nodeClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 120)
        self.profile: Profile | None = None
        self.sample_index = 0
        self.orientation = FLAME
        self.color_mode = COLOR_PACKAGE
        self.sort_by_size = False
        self.delta: np.ndarray | None = None  # normalised diff per node, for COLOR_DIFF
        # the zoom as frames, not ids: it survives live growth and profiles with another frame table
        self.zoom_path: list[Frame] = []
        self.view: tuple[float, float] = (0.0, 1.0)
        self._history: list[tuple[list[Frame], tuple[float, float]]] = []
        self._search: re.Pattern[str] | None = None
        self._search_text = ""
        self._ranks = NameRankCache()
        self._colors = FramePaletteCache()
        self._abs: AbsoluteLayout | None = None
        self._abs_key: tuple[object, ...] = ()
        self._view: ViewLayout | None = None
        self._view_key: tuple[object, ...] = ()
        self._match_key: tuple[object, ...] = ()
        self._node_match: np.ndarray | None = None
        self.match_fraction = -1.0
        self._hover_box = -1
        self.hover_node = -1
        # the function selected here or in the top table, outlined wherever it appears; a Frame
        # rather than an id so it holds across live refreshes and transformed profiles
        self.selected_frame: Frame | None = None
        self.selected_drawn = 0  # outlined boxes in the last paint, for tests
        self._press: QPointF | None = None
        self._press_view: tuple[float, float] = (0.0, 1.0)
        self._dragged = False
        self.boxes_drawn = 0  # boxes drawn over the widget's life
        self._brush_cache: dict[str, list[QBrush]] = {}
        self._fm_key: tuple[object, str] = (None, "")
        self._fm = np.zeros(0, dtype=bool)
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.9))

    # ------------------------------------------------------------------ state
    def set_profile(self, profile: Profile | None, *, delta: np.ndarray | None = None, keep_zoom: bool = True) -> None:
        """Show ``profile``; with ``keep_zoom`` the zoom path is re-resolved in the new tree."""
        self.profile = profile
        self.delta = delta
        if not keep_zoom:
            self.zoom_path = []
            self.view = (0.0, 1.0)
            self._history.clear()
        if profile is not None and not 0 <= self.sample_index < len(profile.sample_types):
            self.sample_index = profile.default_sample_type
        self._invalidate()

    def set_sample_index(self, i: int) -> None:
        self.sample_index = i
        self._invalidate()

    def set_orientation(self, orientation: str) -> None:
        self.orientation = orientation
        self.update()

    def set_color_mode(self, mode: str) -> None:
        self.color_mode = mode
        self.update()

    def set_sort_by_size(self, by_size: bool) -> None:
        self.sort_by_size = by_size
        self._invalidate()

    def set_selected_frame(self, frame: Frame | None) -> None:
        self.selected_frame = frame
        self.update()

    def set_search(self, pattern: str) -> None:
        """Regex search (case-insensitive); raises ``re.error`` for a bad pattern."""
        self._search = compile_search(pattern)
        self._search_text = pattern
        self._match_key = ()
        self._update_match()
        self.update()

    def _invalidate(self) -> None:
        self._abs_key = ()
        self._view_key = ()
        self._match_key = ()
        self._hover_box = -1
        self.hover_node = -1
        self._update_match()
        self.updateGeometry()
        self.update()
        self.zoomChanged.emit()

    # ----------------------------------------------------------------- layout
    def absolute(self) -> AbsoluteLayout | None:
        p = self.profile
        if p is None:
            return None
        key = (id(p), p.version, p.n_nodes, self.sample_index, self.sort_by_size)
        if key != self._abs_key or self._abs is None:
            self._abs = profile_layout(p, self.sample_index, by_size=self.sort_by_size, ranks=self._ranks.get(p.frames))
            self._abs_key = key
        return self._abs

    def zoom_root(self) -> int:
        return resolve_path(self.profile, self._path_ids()) if self.profile is not None else 0

    def _path_ids(self) -> list[int]:
        """The zoom path as frame ids of the current profile (up to the first frame it lacks)."""
        ids: list[int] = []
        if self.profile is None:
            return ids
        for f in self.zoom_path:
            fid = self.profile.frames.find(f)
            if fid is None:
                break
            ids.append(fid)
        return ids

    def boxes(self) -> ViewLayout | None:
        lay = self.absolute()
        if lay is None:
            return None
        root = self.zoom_root()
        key = (self._abs_key, root, self.width(), self.view)
        if key != self._view_key or self._view is None:
            self._view = view_layout(lay, root, width_px=float(max(self.width(), 1)), view=self.view)
            self._view_key = key
            rows = self._view.rows
            self.setMinimumHeight(max(120, (rows + 1) * ROW_H))
        return self._view

    def _update_match(self) -> None:
        lay = self.absolute()
        if self._search is None or lay is None or self.profile is None:
            self._node_match = None
            self.match_fraction = -1.0
        else:
            key = (self._abs_key, self._search_text)
            if key != self._match_key:
                fm = self._frame_matches(self.profile.frames, self._search)
                self._node_match = node_matches(self.profile.frame, fm)
                total = float(lay.w[0])
                self.match_fraction = matched_weight(lay, self._node_match) / total if total > 0 else 0.0
                self._match_key = key
        self.searchChanged.emit(self.match_fraction)

    def _frame_matches(self, frames, rx: re.Pattern[str]) -> np.ndarray:
        """Per-frame search result, extended only by the frames added since the last call."""
        if self._fm_key != (frames, self._search_text):
            self._fm_key = (frames, self._search_text)
            self._fm = np.zeros(0, dtype=bool)
        if len(frames) > len(self._fm):
            self._fm = np.concatenate([self._fm, match_frames(frames, rx, start=len(self._fm))])
        return self._fm

    # ------------------------------------------------------------------- zoom
    def _push_history(self) -> None:
        self._history.append((list(self.zoom_path), self.view))
        del self._history[:-MAX_HISTORY]

    def zoom_to_node(self, node: int) -> None:
        if self.profile is None or node < 0:
            return
        self._push_history()
        frames = self.profile.frames
        self.zoom_path = [frames[fid] for fid in node_path(self.profile, node)]
        self.view = (0.0, 1.0)
        self._view_key = ()
        self.update()
        self.zoomChanged.emit()

    def back(self) -> bool:
        if not self._history:
            return False
        self.zoom_path, self.view = self._history.pop()
        self._view_key = ()
        self.update()
        self.zoomChanged.emit()
        return True

    def reset_zoom(self) -> None:
        if self.zoom_path or self.view != (0.0, 1.0):
            self._push_history()
        self.zoom_path = []
        self.view = (0.0, 1.0)
        self._view_key = ()
        self.update()
        self.zoomChanged.emit()

    def zoom_view(self, factor: float, at_fraction: float) -> None:
        """Horizontal zoom of the viewport by ``factor`` (>1 zooms in) keeping ``at_fraction`` fixed."""
        v0, v1 = self.view
        span = v1 - v0
        anchor = v0 + at_fraction * span
        new_span = min(1.0, max(MIN_VIEW_SPAN, span / factor))
        n0 = anchor - at_fraction * new_span
        n0 = min(max(0.0, n0), 1.0 - new_span)
        self.view = (n0, n0 + new_span)
        self.update()

    def pan_view(self, dx_fraction: float) -> None:
        v0, v1 = self.view
        span = v1 - v0
        n0 = min(max(0.0, v0 - dx_fraction * span), 1.0 - span)
        self.view = (n0, n0 + span)
        self.update()

    def breadcrumb(self) -> list[tuple[int, str]]:
        """(node, label) from the root to the zoom root."""
        if self.profile is None:
            return []
        p = self.profile
        out: list[tuple[int, str]] = [(0, "all")]
        node = 0
        for fid in self._path_ids():
            nxt = p.child(node, fid)
            if nxt is None:
                break
            node = nxt
            out.append((node, p.frames[fid].function))
        return out

    # ------------------------------------------------------------------ hover
    def _row_at(self, y: float) -> int:
        if self.orientation == ICICLE:
            return int(y // ROW_H)
        return int((self.height() - y) // ROW_H)

    def box_at(self, pos: QPointF) -> int:
        v = self.boxes()
        if v is None or self.width() <= 0:
            return -1
        return v.hit(pos.x() / self.width(), self._row_at(pos.y()))

    def node_at(self, pos: QPointF) -> int:
        v = self.boxes()
        b = self.box_at(pos)
        return int(v.node[b]) if v is not None and b >= 0 else -1

    def hover_text(self, node: int) -> str:
        """Tooltip for a node: function, file:line, self and total per sample type, % of root/parent."""
        p = self.profile
        if p is None or node < 0 or node >= p.n_nodes:
            return ""
        total = p.total_values()
        selfv = p.self_values
        if node == 0:
            head = ["all"]
        else:
            f = p.frames[int(p.frame[node])]
            head = [f.function]
            if f.file:
                head.append(f"{f.file}:{f.line}" if f.line else f.file)
            if f.module:
                head.append(f"package: {f.module}")
        par = int(p.parent[node]) if node > 0 else 0
        lines = list(head)
        for i, st in enumerate(p.sample_types):
            root_t = float(total[0, i])
            par_t = float(total[par, i])
            t = float(total[node, i])
            pr = t / root_t if root_t else 0.0
            pp = t / par_t if par_t else 0.0
            mark = "▸ " if i == self.sample_index and len(p.sample_types) > 1 else ""
            lines.append(
                f"{mark}{st.type}: self {format_value(float(selfv[node, i]), st.unit)}, "
                f"total {format_value(t, st.unit)} ({format_percent(pr, 2)} of root, {format_percent(pp, 2)} of parent)"
            )
        if self.delta is not None and node < len(self.delta):
            lines.append(
                f"diff: {'+' if self.delta[node] >= 0 else ''}{format_percent(float(self.delta[node]))} (normalised)"
            )
        return "\n".join(lines)

    def hovered_stack_text(self) -> str:
        """The hovered frame's stack, root first, one frame per line (what Ctrl+C copies)."""
        p = self.profile
        if p is None or self.hover_node <= 0:
            return ""
        out = []
        for f in p.stack_frames(self.hover_node):
            out.append(f"{f.function} ({f.file}:{f.line})" if f.file else f.function)
        return "\n".join(out)

    # ----------------------------------------------------------------- events
    def mousePressEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            self._press = ev.position()
            self._press_view = self.view
            self._dragged = False
        elif ev.button() in (Qt.MouseButton.BackButton, Qt.MouseButton.RightButton):
            self.back()

    def mouseMoveEvent(self, ev) -> None:
        pos = ev.position()
        if self._press is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            dx = pos.x() - self._press.x()
            if abs(dx) > 3 or self._dragged:
                self._dragged = True
                self.view = self._press_view
                self.pan_view(dx / max(self.width(), 1))
            return
        b = self.box_at(pos)
        if b != self._hover_box:
            self._hover_box = b
            v = self._view
            self.hover_node = int(v.node[b]) if v is not None and b >= 0 else -1
            if v is not None and b >= 0 and self.hover_node < 0:
                text = f"({int(v.more[b])} more frames too narrow to draw; zoom in to see them)"
            else:
                text = self.hover_text(self.hover_node)
            self.hoverChanged.emit(text)
            if text:
                QToolTip.showText(ev.globalPosition().toPoint(), plain_tooltip(text), self)
            else:
                QToolTip.hideText()
            self.update()

    def mouseReleaseEvent(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or self._press is None:
            return
        was_drag = self._dragged
        self._press = None
        self._dragged = False
        if was_drag:
            return
        v = self.boxes()
        b = self.box_at(ev.position())
        if v is None or b < 0:
            return
        node = int(v.node[b])
        if node < 0:  # a "(n more)" box: zoom into the parent of the hidden run
            self.zoom_view(8.0, ev.position().x() / max(self.width(), 1))
            return
        self.nodeClicked.emit(node)
        self.zoom_to_node(node)

    def wheelEvent(self, ev) -> None:
        steps = ev.angleDelta().y() / 120.0
        if steps == 0:
            ev.ignore()
            return
        scrollable = self.parentWidget() is not None and self.height() > self.parentWidget().height()
        if scrollable and not ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            ev.ignore()  # a graph taller than its viewport: the wheel scrolls, Ctrl+wheel zooms
            return
        self.zoom_view(math.pow(1.25, steps), ev.position().x() / max(self.width(), 1))
        ev.accept()

    def leaveEvent(self, ev) -> None:
        self._hover_box = -1
        self.update()
        super().leaveEvent(ev)

    def keyPressEvent(self, ev) -> None:
        if ev.matches(QKeySequence.StandardKey.Copy):
            text = self.hovered_stack_text()
            if text:
                QGuiApplication.clipboard().setText(text)
            return
        if ev.key() == Qt.Key.Key_Escape:
            self.reset_zoom()
            return
        if ev.key() == Qt.Key.Key_Backspace:
            self.back()
            return
        super().keyPressEvent(ev)

    # ------------------------------------------------------------------ paint
    def _palette_index(self, nodes: np.ndarray) -> tuple[np.ndarray, list[QBrush]]:
        p = self.profile
        assert p is not None
        if self.color_mode == COLOR_DIFF and self.delta is not None:
            idx = diff_index(self.delta[np.maximum(nodes, 0)])
            mode = COLOR_DIFF
        else:
            table = self._colors.get(p.frames, self.color_mode)
            fr = p.frame[np.maximum(nodes, 0)].astype(np.int64)
            idx = np.where(fr >= 0, table[np.maximum(fr, 0)] if len(table) else 0, 0)
            mode = self.color_mode if self.color_mode != COLOR_DIFF else COLOR_PACKAGE
        return idx.astype(np.int64), self._brushes(mode)

    def _brushes(self, mode: str) -> list[QBrush]:
        """Brush slots per palette, built once: normal, faded (search misses), match, context, "(n more)"."""
        cached = self._brush_cache.get(mode)
        if cached is not None:
            return cached
        colors = [QColor(*c) for c in palette(mode)]
        faded = [QColor(c).lighter(135) for c in colors]
        for c in faded:
            c.setAlpha(110)
        brushes = [QBrush(c) for c in colors] + [QBrush(c) for c in faded]
        brushes.append(QBrush(QColor(230, 60, 230)))  # search match
        brushes.append(QBrush(QColor(200, 200, 200)))  # zoom context (ancestors)
        brushes.append(QBrush(QColor(150, 150, 150), Qt.BrushStyle.BDiagPattern))  # (n more)
        self._brush_cache[mode] = brushes
        return brushes

    def _paint(self, painter: QPainter) -> None:
        v = self.boxes()
        p = self.profile
        if v is None or p is None or not len(v):
            self._paint_empty(painter, "No profile: open a file or start a capture")
            return
        W = float(self.width())
        H = float(self.height())
        xs = v.x * W
        ws = v.w * W
        if self.orientation == ICICLE:
            ys = v.row.astype(np.float64) * ROW_H
        else:
            ys = H - (v.row.astype(np.float64) + 1.0) * ROW_H
        # clip to the visible part of the widget (it may sit in a scroll area)
        ev_rect = painter.clipBoundingRect() if painter.hasClipping() else QRectF(self.rect())
        vis = (ys + ROW_H > ev_rect.top()) & (ys < ev_rect.bottom()) & (xs + ws > 0) & (xs < W)
        idx_all = np.flatnonzero(vis)
        x0 = np.maximum(xs, 0.0)
        x1 = np.minimum(xs + ws, W)
        real = v.node >= 0
        pidx, brushes = self._palette_index(v.node)
        n_pal = (len(brushes) - 3) // 2
        # palette slots: n_pal normal, then faded (search active, not matched), match, context
        slot = pidx.copy()
        if self._node_match is not None:
            matched = np.zeros(len(v), dtype=bool)
            matched[real] = self._node_match[v.node[real]]
            slot = np.where(matched, 2 * n_pal, pidx + n_pal)
        slot = np.where(v.context, 2 * n_pal + 1, slot)
        slot = np.where(real, slot, 2 * n_pal + 2)
        # no outline (pens cost ~2x in the raster engine); a 1 px gap separates boxes instead
        painter.setPen(Qt.PenStyle.NoPen)
        sel = idx_all
        order = np.argsort(slot[sel], kind="stable")
        sel = sel[order]
        s_sorted = slot[sel]
        cuts = np.flatnonzero(np.diff(s_sorted)) + 1
        x0l = x0.tolist()
        wl = np.maximum(x1 - x0 - 1.0, 1.0).tolist()
        yl = ys.tolist()
        start = 0
        for end in [*cuts.tolist(), len(sel)]:
            if end <= start:
                continue
            group = sel[start:end].tolist()
            painter.setBrush(brushes[int(s_sorted[start])])
            painter.drawRects([QRectF(x0l[i], yl[i], wl[i], ROW_H - 1.0) for i in group])
            start = end
        self.boxes_drawn += len(sel)
        # hover outline
        if 0 <= self._hover_box < len(v):
            b = self._hover_box
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(self.palette().color(self.foregroundRole()), 1.5))
            painter.drawRect(QRectF(x0l[b], yl[b], wl[b], ROW_H - 1.0))
        self._paint_selected(painter, v, sel, x0l=x0l, yl=yl, wl=wl)
        self._paint_text(painter, v, x0=x0, w=x1 - x0, ys=ys, sel=sel)
        if self.color_mode == COLOR_DIFF and self.delta is not None:
            self._paint_legend(painter)

    def _paint_selected(self, painter: QPainter, v: ViewLayout, sel: np.ndarray, *, x0l, yl, wl) -> None:
        """Outline every visible box of the selected function (an outline keeps the colour
        scheme and the search highlight readable underneath)."""
        self.selected_drawn = 0
        p = self.profile
        fid = None if p is None or self.selected_frame is None else p.frames.find(self.selected_frame)
        if p is None or fid is None or not len(sel):
            return
        nodes = v.node[sel]
        hit = sel[(nodes > 0) & (p.frame[np.maximum(nodes, 0)] == fid)].tolist()
        if not hit:
            return
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 110, 230), 2.0))
        painter.drawRects([QRectF(x0l[i] + 1.0, yl[i] + 1.0, max(wl[i] - 2.0, 1.0), ROW_H - 3.0) for i in hit])
        self.selected_drawn = len(hit)

    def _paint_text(self, painter: QPainter, v: ViewLayout, *, x0, w, ys, sel) -> None:
        p = self.profile
        assert p is not None
        painter.setFont(self._font)
        fm = QFontMetricsF(self._font)
        cw = max(fm.averageCharWidth(), 1.0)
        min_w = cw * 3 + 4
        cand = sel[w[sel] >= min_w]
        if not len(cand):
            return
        painter.setPen(QColor(20, 20, 20))
        base = (ROW_H - 1 + fm.ascent() - fm.descent()) / 2.0
        frames = p.frames
        frame_arr = p.frame
        for i in cand.tolist():
            node = int(v.node[i])
            if node < 0:
                text = f"({int(v.more[i])} more)"
            elif node == 0:
                text = "all"
            else:
                text = frames[int(frame_arr[node])].function
            n_chars = int((float(w[i]) - 4) / cw)
            if len(text) > n_chars:
                text = text[: max(n_chars - 1, 1)] + "…"
            painter.drawText(QPointF(float(x0[i]) + 2.0, float(ys[i]) + base), text)

    def _paint_legend(self, painter: QPainter) -> None:
        pal = palette(COLOR_DIFF)
        x, y, cell = 8.0, 4.0, 10.0
        if self.orientation == FLAME:
            y = 4.0
        painter.setPen(Qt.PenStyle.NoPen)
        for i, c in enumerate(pal):
            painter.setBrush(QColor(*c))
            painter.drawRect(QRectF(x + i * cell, y, cell, 10.0))
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.setFont(self._font)
        painter.drawText(QPointF(x, y + 22.0), "shrank")
        painter.drawText(QPointF(x + len(pal) * cell - 30.0, y + 22.0), "grew")
