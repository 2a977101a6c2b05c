"""The first-run check for Qt's X11 libraries: one line naming the Debian packages, before Qt."""

from __future__ import annotations

import ctypes

import pytest

from workbench.errors import WorkbenchError
from workbench.ui import platform_check
from workbench.ui.platform_check import QtPlatformMissing, check_qt_platform

X = {"DISPLAY": ":0"}


def _cdll_without(*absent: str):
    real = ctypes.CDLL

    def fake(name: str, *args, **kwargs):
        if name in absent:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return real(name, *args, **kwargs)

    return fake


def test_missing_xcb_cursor_names_its_package() -> None:
    with pytest.raises(QtPlatformMissing) as err:
        check_qt_platform(X, loads=lambda s: s not in ("libxcb-cursor.so.0", "libxcb-icccm.so.4"))
    text = str(err.value)
    assert "\n" not in text
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4" in text
    assert "apt-get install libxcb-cursor0 libxcb-icccm4 " in text
    assert isinstance(err.value, WorkbenchError) and err.value.fix


def test_the_default_loader_is_ctypes(monkeypatch) -> None:
    monkeypatch.setattr(platform_check.ctypes, "CDLL", _cdll_without("libxkbcommon-x11.so.0"))
    with pytest.raises(QtPlatformMissing, match="libxkbcommon-x11-0"):
        check_qt_platform(X)


@pytest.mark.parametrize(
    "env",
    [{}, {"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}],
)
def test_no_check_when_qt_will_not_use_xcb(env) -> None:
    check_qt_platform(env, loads=lambda _s: False)


def test_xcb_named_explicitly_is_checked() -> None:
    with pytest.raises(QtPlatformMissing):
        check_qt_platform({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}, loads=lambda s: s != "libGL.so.1")


def test_this_machine_has_every_library() -> None:
    # CI installs Qt's X libraries (.ci/run); a machine that passes here opens windows
    assert platform_check.missing_libraries() == []
    check_qt_platform(X)


def test_every_soname_has_a_package_and_the_readme_lists_them() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for pkg in platform_check.DEBIAN_PACKAGES:
        assert pkg in readme, pkg
