"""The main window driven through real widgets: files, export, banner, brush, top table, plugins."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests.helpers.gui import small_profile
from workbench.capture.registry import PluginEntry, PluginRegistry
from workbench.formats import read_profiles, write_profile
from workbench.formats.collapsed import write_collapsed
from workbench.model import SAMPLES, Finding, ProfileBatch, SeriesBatch, SeriesPoint, stackset_from_lists
from workbench.model.session import FindingsBatch
from workbench.ui.capture_panel import CapturePanel
from workbench.ui.flamegraph import FLAME, ROW_H
from workbench.ui.leak_panel import EMPTY_TEXT

T0 = 1_700_000_000.0


def _wait_idle(qtbot, win) -> None:
    qtbot.waitUntil(lambda: not win.busy(), timeout=20_000)


def _open(qtbot, win, path) -> None:
    win.open_files([str(path)])
    _wait_idle(qtbot, win)


def _live_session(win) -> None:
    """Two phases in time: 'slow_query' in the first 10 s, 'render' in the next 10 s."""
    s = win.session
    table = small_profile().frames
    ids = {f.function: i for i, f in enumerate(table)}
    for sec in range(20):
        name = "query" if sec < 10 else "render"
        ss = stackset_from_lists(table, [[ids["main"], ids["handle"], ids[name]]], [[10.0]])
        s.put(ProfileBatch("pyspy:42:cpu", (SAMPLES,), ss, T0 + sec, T0 + sec + 1, source="pyspy"))
        s.put(SeriesBatch([SeriesPoint("process.cpu_percent", T0 + sec, 50.0 + sec, "%")]))
        s.put(SeriesBatch([SeriesPoint("process.rss_bytes", T0 + sec, 1e8 + sec * 1e6, "bytes")]))


def test_open_file_shows_flame_graph(qtbot, window, tmp_path) -> None:
    path = tmp_path / "small.collapsed"
    write_profile(small_profile(), path)
    _open(qtbot, window, path)
    assert window.profile_combo.currentText() == "file:small.collapsed"
    assert window.flame.canvas.profile is not None
    assert float(window.flame.canvas.profile.totals()[0]) == 100
    assert window.recent_files() == [str(path)]


def test_drag_and_drop_opens(qtbot, window, tmp_path) -> None:
    path = tmp_path / "dropped.collapsed"
    write_profile(small_profile(), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    _wait_idle(qtbot, window)
    assert "file:dropped.collapsed" in window.session.profile_keys()
    assert window.flame.canvas.profile is not None


def test_banner_on_corrupt_file(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "broken.pb.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage that is not gzip at all")
    _open(qtbot, window, bad)
    assert window.banner.isVisible()
    text = window.banner.text()
    assert "broken.pb.gz" in text
    assert "Fix: " in text
    assert "Traceback" not in text
    assert window.flame.canvas.profile is None


@pytest.mark.parametrize("ext", [".collapsed", ".speedscope.json", ".pb.gz"])
def test_export_then_reimport_equal(qtbot, window, tmp_path, ext) -> None:
    if ext == ".speedscope.json":
        pytest.importorskip("workbench.formats.speedscope")
    src = tmp_path / "src.collapsed"
    write_profile(small_profile(), src)
    _open(qtbot, window, src)
    out = tmp_path / f"export{ext}"
    window.export(str(out))
    _wait_idle(qtbot, window)
    assert not window.banner.isVisible(), window.banner.text()
    back = read_profiles(out)[0]
    assert write_collapsed(back) == write_collapsed(window.flame.canvas.profile)


def test_export_svg_png_csv(qtbot, window, tmp_path) -> None:
    _live_session(window)
    window.refresh()
    window.export(str(tmp_path / "v.svg"))
    _wait_idle(qtbot, window)
    assert (tmp_path / "v.svg").read_text().lstrip().startswith("<?xml") or "<svg" in (tmp_path / "v.svg").read_text()
    window.export(str(tmp_path / "v.png"))
    assert (tmp_path / "v.png").read_bytes()[:4] == b"\x89PNG"
    window.export(str(tmp_path / "v.csv"))
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0] == "series,unit,time_s,value"
    assert {ln.split(",")[0] for ln in lines[1:]} == {"process.cpu_percent", "process.rss_bytes"}


def test_range_brush_cuts_profile(qtbot, window) -> None:
    _live_session(window)
    window.refresh()
    full = window.flame.canvas.profile
    assert float(full.totals()[0]) == 200
    with qtbot.waitSignal(window.timeline.rangeSelected, timeout=5000):
        window.timeline.set_range(T0 + 10, T0 + 15)
    _wait_idle(qtbot, window)
    cut = window.flame.canvas.profile
    assert float(cut.totals()[0]) == 50
    names = {cut.frames[int(cut.frame[n])].function for n in np.flatnonzero(cut.self_values[:, 0] > 0)}
    assert names == {"render"}
    assert "window: 5 s" in window.window_label.text()
    window.timeline.brush_box.setChecked(False)
    assert float(window.flame.canvas.profile.totals()[0]) == 200


def test_timeline_hover_values_of_all_charts(window) -> None:
    _live_session(window)
    window.refresh()
    assert {c.spec.title for c in window.timeline.visible_charts()} == {"CPU", "memory"}
    text = window.timeline.hover_text(T0 + 5.5)
    assert "CPU 55 %" in text
    assert "RSS 100 MiB" in text or "RSS 99.2 MiB" in text


def test_refresh_only_when_session_changed(window) -> None:
    _live_session(window)
    window.refresh()
    shown = window.flame.canvas.profile
    window.refresh()
    assert window.flame.canvas.profile is shown  # nothing new: no new snapshot
    window.session.put(SeriesBatch([SeriesPoint("process.cpu_percent", T0 + 30, 1.0, "%")]))
    window.refresh()
    assert window.flame.canvas.profile is shown  # series changed, the profile did not


def test_top_table_double_click_focuses_flame(qtbot, window, tmp_path) -> None:
    path = tmp_path / "t.collapsed"
    write_profile(small_profile(), path)
    _open(qtbot, window, path)
    window.tabs.setCurrentWidget(window.top)
    table = window.top.table
    assert window.top.model.rowCount() >= 4
    first = window.top.model.frame(0)
    assert window.top.model.data(window.top.model.index(0, 0)) == first.function == "query"
    window.top.filter.setText("rend")
    assert window.top.model.rowCount() == 1
    idx = window.top.model.index(0, 0)
    rect = table.visualRect(idx)
    # a real double click: press/release first, so the view knows the pressed index
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.tabs.currentWidget() is window.flame
    canvas = window.flame.canvas
    assert [label for _n, label in canvas.breadcrumb()] == ["all", "main", "handle", "render"]


def test_top_table_and_flame_graph_share_the_selection(qtbot, window, tmp_path) -> None:
    """A single click on a row outlines that function in the flame graph; a click on a box
    selects its row; the selection holds through a live refresh of the table."""
    path = tmp_path / "t.collapsed"
    write_profile(small_profile(), path)
    _open(qtbot, window, path)
    window.tabs.setCurrentWidget(window.top)
    table, top = window.top.table, window.top
    row = next(i for i in range(top.model.rowCount()) if top.model.data(top.model.index(i, 0)) == "render")
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(top.model.index(row, 0)).center()
    )
    canvas = window.flame.canvas
    assert canvas.selected_frame is not None and canvas.selected_frame.function == "render"
    assert window.tabs.currentWidget() is window.top  # a single click does not switch tabs
    window.tabs.setCurrentWidget(window.flame)
    canvas.resize(800, 300)
    canvas.repaint()
    assert canvas.selected_drawn >= 1  # every visible "render" box is outlined

    # the other way: click the "query" box in the flame graph
    v = canvas.boxes()
    frames = canvas.profile.frames
    b = next(
        i for i in range(len(v)) if v.node[i] > 0 and frames[int(canvas.profile.frame[v.node[i]])].function == "query"
    )
    x = (float(v.x[b]) + float(v.w[b]) / 2) * canvas.width()
    y = (int(v.row[b]) + 0.5) * ROW_H
    if canvas.orientation == FLAME:
        y = canvas.height() - y
    node = canvas.node_at(QPointF(x, y))
    assert node > 0 and frames[int(canvas.profile.frame[node])].function == "query", "test geometry"
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(int(x), int(y)))
    assert canvas.selected_frame.function == "query"
    window.tabs.setCurrentWidget(window.top)
    sel = table.selectionModel().selectedRows()
    assert [top.model.data(i) for i in sel] == ["query"]
    # a refresh that rebuilds the rows keeps the selection on the same function
    top._key = ()
    top.set_profile(window.current, canvas.sample_index)
    assert [top.model.data(i) for i in table.selectionModel().selectedRows()] == ["query"]


def test_leak_panel_empty_state_and_findings(window) -> None:
    assert window.leaks.stack.currentWidget() is window.leaks.empty
    assert window.leaks.empty.text() == EMPTY_TEXT
    f = Finding(
        "map", "Hub.clients", "hub.py:40 register", 120.0, "entries", 0.9, "grows linearly", sparkline=[1, 2, 3]
    )
    window.session.put(FindingsBatch([f]))
    window.refresh()
    assert window.leaks.stack.currentWidget() is window.leaks.split
    assert window.leaks.table.item(0, 1).text() == "Hub.clients"


def test_broken_plugin_shows_error_not_crash(qtbot) -> None:
    reg = PluginRegistry(group="workbench.tests.none")
    ep = EntryPoint("broken", "no_such_module_xyz:plugin", "workbench.tests.none")
    reg._entries = {"broken": PluginEntry("broken", ep.value, "test-dist")}
    reg._eps = {"broken": ep}
    panel = CapturePanel(reg)
    qtbot.addWidget(panel)
    status = panel.plugin_status()
    assert status[0][0] == "broken" and not status[0][1]
    assert "ModuleNotFoundError" in status[0][2]
    texts = [w.text() for w in panel.controls["broken"].box.findChildren(type(panel.status))]
    assert any("failed to load" in t and "reinstall test-dist" in t for t in texts)


def test_capture_controls_follow_declared_options(window) -> None:
    ctl = window.capture.controls.get("pyspy")
    assert ctl is not None and ctl.entry.ok
    names = [o.name for o in ctl.entry.plugin.options]
    assert list(ctl.editors) == names
    assert "rate" in names


def test_start_without_target_is_a_banner(window) -> None:
    window.capture.start()
    assert window.banner.isVisible()
    assert "no target" in window.banner.text()


def test_diff_colours_by_delta(qtbot, window) -> None:
    _live_session(window)
    window.refresh()
    window.time_window = (T0 + 10, T0 + 20)
    window.diff_window_before()
    _wait_idle(qtbot, window)
    canvas = window.flame.canvas
    assert canvas.delta is not None and canvas.color_mode == "diff"
    p = canvas.profile
    by_name = {p.frames[int(p.frame[n])].function: float(canvas.delta[n]) for n in range(1, p.n_nodes)}
    assert by_name["render"] > 0 > by_name["query"]
    assert canvas.grab().toImage().width() > 0


def test_hover_over_flame_in_window(qtbot, window, tmp_path) -> None:
    path = tmp_path / "h.collapsed"
    write_profile(small_profile(), path)
    _open(qtbot, window, path)
    canvas = window.flame.canvas
    v = canvas.boxes()
    b = int(np.flatnonzero(v.row == 1)[0])
    pt = QPoint(int((v.x[b] + v.w[b] / 2) * canvas.width()), int(canvas.height() - 1.5 * 18))
    with qtbot.waitSignal(canvas.hoverChanged) as sig:
        qtbot.mouseMove(canvas, pt)
    assert sig.args[0].startswith("main\n")


def test_declaring_a_chart_shows_its_series(window) -> None:
    from workbench.ui.timeline import ChartSpec

    window.timeline.add_chart(ChartSpec("redis pool", ("pool.redis.*",)))
    window.session.put(
        SeriesBatch([SeriesPoint("pool.redis.in_use", T0, 3.0), SeriesPoint("pool.redis.idle", T0, 7.0)])
    )
    window.refresh()
    chart = window.timeline.charts[-1]
    assert chart.plot.isVisible()
    assert sorted(chart.curves) == ["pool.redis.idle", "pool.redis.in_use"]


def test_big_cuts_run_in_jobs_and_the_latest_window_wins(qtbot, window, monkeypatch) -> None:
    from workbench.ui import main_window

    monkeypatch.setattr(main_window, "SYNC_CUT_NODES", 0)
    _live_session(window)
    window.refresh()
    window.set_window(T0, T0 + 20)  # a job
    window.set_window(T0 + 12, T0 + 14)  # a newer job: the first result must not win
    _wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: float(window.flame.canvas.profile.totals()[0]) == 20, timeout=10_000)
    qtbot.wait(100)
    assert float(window.flame.canvas.profile.totals()[0]) == 20


def test_diff_against_another_file(qtbot, window, tmp_path) -> None:
    base = small_profile()
    new = small_profile()
    new.add_stack(new.stack_frames(_first_node(new, "render")), [75])  # render grows 25 -> 100
    write_profile(base, tmp_path / "base.collapsed")
    write_profile(new, tmp_path / "new.collapsed")
    _open(qtbot, window, tmp_path / "base.collapsed")
    _open(qtbot, window, tmp_path / "new.collapsed")
    assert window.profile_combo.currentText() == "file:new.collapsed"
    window.diff_against_other()
    _wait_idle(qtbot, window)
    c = window.flame.canvas
    p = c.profile
    by_name = {p.frames[int(p.frame[n])].function: float(c.delta[n]) for n in range(1, p.n_nodes)}
    assert by_name["render"] == pytest.approx(1.0)  # the biggest change is the reference
    assert by_name["query"] < 0
    window.session.put(SeriesBatch([SeriesPoint("process.cpu_percent", T0, 1.0)]))
    window.refresh()
    assert c.delta is not None  # a live refresh does not wipe the diff


def _first_node(p, name: str) -> int:
    return next(n for n in range(1, p.n_nodes) if p.frames[int(p.frame[n])].function == name)


def test_consent_plugin_not_started_without_a_yes(window, qtbot, monkeypatch) -> None:
    import os

    from workbench.capture.api import Target

    gated = [
        name
        for name, ctl in window.capture.controls.items()
        if ctl.entry.ok and ctl.entry.plugin.consent_text(Target.from_pid(os.getpid())) is not None
    ]
    if not gated:
        pytest.skip("no consent-gated plugin installed")
    asked: list[str] = []

    def refuse(plugin, target, text="") -> bool:
        asked.append(plugin.name)
        return False

    monkeypatch.setattr(window.capture, "ask_consent", refuse)
    window.capture.set_target(Target.from_pid(os.getpid()))  # a Python process: the agent applies
    window.capture.select(gated[:1])
    window.capture.start()
    qtbot.waitUntil(lambda: "not started without consent" in window.banner.text(), timeout=20_000)
    assert asked == gated[:1]
    qtbot.waitUntil(window.capture.start_btn.isEnabled, timeout=5_000)
    assert not window.capture.running


def test_about_names_version_from_package_metadata_and_plugins(window) -> None:
    from importlib.metadata import version

    text = window.about_text()
    assert text.splitlines()[0] == f"Profiling Workbench {version('profiling-workbench')}"
    assert "pyspy: loaded" in text and "Qt 6." in text
