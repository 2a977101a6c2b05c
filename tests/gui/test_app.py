"""Entry points: run_gui (with and without the demo) and `workbench selftest`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

from tests.helpers.gui import small_profile
from workbench.formats import write_profile
from workbench.ui.targets import list_processes

# run_gui runs QApplication.exec(), which marks the application as closing when it returns;
# later tests in the same process would then lose queued cross-thread signals: run it in a child.
DRIVER = """
import json, sys, time
import psutil
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
from workbench.ui.app import application, run_gui
from workbench.ui.main_window import MainWindow
app = application()
me = psutil.Process()
out = {}
start = time.monotonic()
demo = sys.argv[2] == "demo"
def win():
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
def check():
    w = win()
    # the demo's sources start one after another: wait for both (py-spy attaches last, and
    # later under load), or report what ran after 30 s
    if w is not None and demo and w.capture.running and (len(w.capture.running) >= 2 or time.monotonic() - start > 30):
        out["names"] = sorted(r.name for r in w.capture.running)
        out["children"] = [p.pid for p in me.children(recursive=True)]
        app.quit()
    elif w is not None and not demo and w.flame.canvas.profile is not None:
        out["total"] = float(w.flame.canvas.profile.totals()[0])
        app.quit()
    elif time.monotonic() - start > 60:
        out["banner"] = w.banner.text() if w is not None else ""
        app.quit()
    else:
        QTimer.singleShot(100, check)
QTimer.singleShot(100, check)
out["rc"] = run_gui(sys.argv[3:], demo=demo)
time.sleep(0.3)
out["left"] = [p.pid for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
print("RESULT " + json.dumps(out))
"""


def _drive(tmp_path, mode: str, files: list[str]) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-c", DRIVER, str(tmp_path), mode, *files],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line is not None, res.stdout + res.stderr
    return json.loads(line[len("RESULT ") :])


def test_run_gui_opens_files_and_quits(tmp_path) -> None:
    path = tmp_path / "g.collapsed"
    write_profile(small_profile(), path)
    out = _drive(tmp_path, "files", [str(path)])
    assert out["rc"] == 0 and out["total"] == 100


@pytest.mark.slow
def test_run_gui_demo_attaches_and_stops_everything(tmp_path) -> None:
    out = _drive(tmp_path, "demo", [])
    assert out.get("names") == ["procstats", "pyspy"], out
    assert out["children"]  # the demo service (and py-spy) were running
    assert out["left"] == [], f"processes left running after quit: {out['left']}"
    assert out["rc"] == 0


def test_process_list_detects_python(qtbot) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdin=subprocess.DEVNULL)
    try:
        rows = {r.pid: r for r in list_processes()}
        assert child.pid in rows
        assert rows[child.pid].runtime == f"python {sys.version_info.major}.{sys.version_info.minor}"
        assert os.getpid() not in rows
    finally:
        child.kill()
        child.wait()


def test_picker_filter_and_recent_targets(qtbot, window) -> None:
    picker = window.picker
    from workbench.ui.targets import ProcessRow

    picker.set_rows(
        [ProcessRow(10, "api", "python 3.12", "u", "gunicorn app:api"), ProcessRow(11, "svc", "go go1.22", "u", "")]
    )
    picker.filter.setText("gunicorn")
    hidden = [picker.tree.topLevelItem(i).isHidden() for i in range(2)]
    texts = [picker.tree.topLevelItem(i).text(1) for i in range(2)]
    assert dict(zip(texts, hidden, strict=True)) == {"api": False, "svc": True}
    with qtbot.waitSignal(picker.targetChosen) as sig:
        picker.url.setText("127.0.0.1:6060")
        picker._pick_url()
    assert sig.args[0].value == "http://127.0.0.1:6060"
    assert window.capture.target == sig.args[0]
    assert picker.recent.itemData(0) == "url:http://127.0.0.1:6060"
    # the URL's default sources are planned off the GUI thread, then ticked
    qtbot.waitUntil(window.capture.controls["pprof"].box.isChecked, timeout=10_000)


def test_save_session_round_trip(qtbot, window, tmp_path) -> None:
    from workbench.formats.wbs import load_session

    path = tmp_path / "g.collapsed"
    write_profile(small_profile(), path)
    window.open_files([str(path)])
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    out = tmp_path / "s.wbs"
    window.save_session(str(out))
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    assert not window.banner.isVisible(), window.banner.text()
    loaded = load_session(out)
    assert loaded.profile_keys() == ["file:g.collapsed"]
    window.open_files([str(out)])
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    assert window.session is not loaded and window.session.profile_keys() == ["file:g.collapsed"]
    assert float(window.flame.canvas.profile.totals()[0]) == 100


def test_selftest_command(tmp_path) -> None:
    img = tmp_path / "flame.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", "selftest", "--image", str(img)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "selftest: ok   flame graph rendered" in res.stdout, res.stdout + res.stderr
    assert "selftest: ok   plugin pyspy: loaded" in res.stdout
    # exit 1 exactly when some check failed (e.g. a plugin that does not load), with the reasons
    failed = [ln for ln in res.stdout.splitlines() if ln.startswith("selftest: FAIL")]
    assert res.returncode == (1 if failed else 0), res.stdout + res.stderr
    if failed:
        assert "problem(s):" in res.stderr
    assert img.read_bytes()[:4] == b"\x89PNG"


def test_picker_lists_profilable_runtimes_first_and_keeps_the_users_order(window) -> None:
    from workbench.ui.targets import ProcessRow

    picker = window.picker
    rows = [
        ProcessRow(1, "init", "other", "root", ""),
        ProcessRow(2, "locked", "?", "other", ""),
        ProcessRow(3, "gw", "go go1.22", "u", ""),
        ProcessRow(4, "web", "node", "u", ""),
        ProcessRow(5, "api", "python 3.12", "u", ""),
    ]
    picker.set_rows(rows)
    order = [picker.tree.topLevelItem(i).text(1) for i in range(5)]
    assert order == ["api", "gw", "web", "init", "locked"]
    picker.tree.sortByColumn(0, Qt.SortOrder.DescendingOrder)  # the user clicks the PID header
    picker.set_rows(rows)  # a refresh
    assert [picker.tree.topLevelItem(i).text(0) for i in range(5)] == ["5", "4", "3", "2", "1"]
