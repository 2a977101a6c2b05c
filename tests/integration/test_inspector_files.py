"""DevTools files written by the machine's node (--cpu-prof, --heap-prof, v8.writeHeapSnapshot),
read through the CLI's ``info --json`` and ``convert`` like a user's drag and drop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.node.nodesvc import node_exe

SCRIPT = r"""
const v8 = require('v8');
class Client { constructor(i) { this.id = i; this.inbox = [i, i + 1, i + 2]; } }
const clients = new Map();
globalThis.clients = clients; // still alive when --heap-prof writes its profile at exit
function fillClients(n) { for (let i = 0; i < n; i++) clients.set(`c${i}`, new Client(i)); }
function hotSum(n) { let s = 0; for (let i = 0; i < n; i++) s += Math.sqrt(i) % 3; return s; }
fillClients(5000);
const end = Date.now() + 400;
while (Date.now() < end) hotSum(1e5);
v8.writeHeapSnapshot(process.argv[2]);
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("devtools")
    script = d / "make.js"
    script.write_text(SCRIPT)
    snap = d / "app.heapsnapshot"
    subprocess.run(
        [
            node_exe(),
            "--cpu-prof",
            f"--cpu-prof-dir={d}",
            "--heap-prof",
            "--heap-prof-interval=4096",
            f"--heap-prof-dir={d}",
            str(script),
            str(snap),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return {
        "cpuprofile": next(d.glob("*.cpuprofile")),
        "heapprofile": next(d.glob("*.heapprofile")),
        "heapsnapshot": snap,
    }


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", *args], capture_output=True, text=True, timeout=120, check=False
    )


def _info(path: Path) -> dict[str, object]:
    proc = _cli("info", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc


def test_cpuprofile_info_names_the_hot_function(files: dict[str, Path]) -> None:
    doc = _info(files["cpuprofile"])
    (prof,) = doc["profiles"]  # type: ignore[misc]
    assert prof["source"] == "devtools"
    assert [s["type"] for s in prof["sample_types"]] == ["samples", "wall"]
    by_self = sorted(prof["top"], key=lambda r: -r["self"]["wall"])
    assert by_self[0]["function"] in ("hotSum", "writeHeapSnapshot")
    assert any(r["function"] == "hotSum" and r["file"].endswith("make.js") for r in prof["top"])


def test_heapprofile_info_names_the_filling_function(files: dict[str, Path]) -> None:
    doc = _info(files["heapprofile"])
    (prof,) = doc["profiles"]  # type: ignore[misc]
    assert [s["type"] for s in prof["sample_types"]] == ["inuse_space", "inuse_objects"]
    assert any(r["function"] == "fillClients" for r in prof["top"])


def test_heapsnapshot_summary_counts_the_clients(files: dict[str, Path]) -> None:
    doc = _info(files["heapsnapshot"])
    (prof,) = doc["profiles"]  # type: ignore[misc]
    rows = {r["function"]: r for r in prof["top"]}
    assert "Client" in rows, sorted(rows)
    # 5000 Client objects (plus Client.prototype, which V8 names after its constructor too)
    assert 5000 <= rows["Client"]["self"]["inuse_objects"] <= 5001
    assert rows["Client"]["self"]["inuse_space"] >= 5000 * 16


@pytest.mark.parametrize("kind", ["cpuprofile", "heapprofile", "heapsnapshot"])
def test_convert_to_svg_and_collapsed(files: dict[str, Path], tmp_path: Path, kind: str) -> None:
    for ext in (".svg", ".collapsed"):
        out = tmp_path / f"out{ext}"
        proc = _cli("convert", str(files[kind]), str(out))
        assert proc.returncode == 0, proc.stderr
        assert out.stat().st_size > 0


def test_truncated_snapshot_is_one_line_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.heapsnapshot"
    data = files["heapsnapshot"].read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    proc = _cli("info", str(cut))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_gui_drop_opens_devtools_files(qtbot, files: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Drag and drop of a .cpuprofile and a .heapsnapshot onto the main window (offscreen Qt)."""
    from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from workbench.ui.main_window import MainWindow

    win = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    try:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(files["cpuprofile"])), QUrl.fromLocalFile(str(files["heapsnapshot"]))])
        pos = QPointF(win.width() / 2, win.height() / 2)
        args = (pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(win, QDragEnterEvent(*args))
        QApplication.sendEvent(win, QDropEvent(*args))
        qtbot.waitUntil(lambda: len(win.session.profile_keys()) == 2 and not win.busy(), timeout=30_000)
        keys = win.session.profile_keys()
        assert any(k.endswith(".cpuprofile") for k in keys) and any(k.endswith(".heapsnapshot") for k in keys)
        assert not win.banner.isVisible()
    finally:
        win.close()
