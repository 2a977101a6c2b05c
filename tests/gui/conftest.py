"""GUI fixtures: a main window with isolated settings (never the user's QSettings)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from workbench.ui.main_window import MainWindow


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    win = MainWindow(settings=settings)
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
