"""Journey: a Python service in its own PID, mount and network namespaces (issue 20), picked by
host PID. The picker shows its container next to the PID and filters by it; py-spy then draws
its flame graph as for a host process."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.helpers import nsbox
from tests.helpers.targets import HOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(nsbox.available() is not None, reason=str(nsbox.available()))]


def _visible_rows(win) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    tree = win.picker.tree
    rows = []
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if not item.isHidden():
            rows.append((item.text(0), item.text(2), item.text(4), str(item.data(1, Qt.ItemDataRole.UserRole))))
    return rows


def test_picker_shows_the_container_and_pyspy_profiles_it(qapp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    art = drive.artefact_dir(tmp_path)
    with nsbox.run_in_namespaces(["-c", HOT]) as t:
        win = drive.new_window(tmp_path / "settings.ini")
        try:
            picker = win.picker
            assert picker.tree.headerItem().text(4) == "container"
            # filter by the container, not by PID: only namespaced processes stay
            QTest.keyClicks(picker.filter, "namespaced")
            QTest.mouseClick(picker.refresh_btn, Qt.MouseButton.LeftButton)
            drive.wait_until(lambda: (str(t.pid), "python 3.12", "namespaced (pid,mnt,net)") in
                             [r[:3] for r in _visible_rows(win)], 30, "the boxed target's row with its container")  # fmt: skip
            # the filter matches the container column (or a command line that names the word, as pytest's may)
            rows = _visible_rows(win)
            assert all(r[2].startswith("namespaced") or "namespaced" in r[3] for r in rows), rows
            drive.screenshot(win, art, "container_picker")
            drive.pick_pid(win, t.pid)
            label = win.capture.target_label.text()
            assert label == f"target: pid:{t.pid} (python process in namespaced (pid,mnt,net))", label
            assert drive.ticked(win) == {"pyspy", "procstats"}
            drive.click_start(win)
            drive.show_profile(win, lambda k: k.startswith(f"pyspy:{t.pid}") and k.endswith(":cpu"))
            drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "py-spy flame graph boxes")
            drive.click_stop(win)
            drive.screenshot(win, art, "container_flame")
        finally:
            drive.close_window(win)
