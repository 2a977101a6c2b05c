"""Before Qt starts: are the X11 system libraries its xcb platform plugin links against there?

PySide6 wheels bundle Qt but not the X client libraries. On a bare desktop (a fresh Debian
with a minimal window manager, a container with X forwarding) one is often missing, and
Qt then prints "could not load the Qt platform plugin xcb" plus a paragraph of advice and
aborts the process. Loading each library here first lets the workbench end with one line
naming the Debian packages to install.

This module imports no Qt, so the check runs before the QApplication is created.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Mapping

from ..errors import WorkbenchError

# soname -> Debian package: what libqxcb.so and libQt6XcbQpa.so need beyond glibc and what
# the wheel bundles (Qt 6.5+ added xcb-cursor, the one most often missing)
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

# the README's list, in one place with the check
DEBIAN_PACKAGES = tuple(sorted(set(XCB_LIBRARIES.values())))


class QtPlatformMissing(WorkbenchError):
    """A system library Qt's X11 (xcb) platform plugin needs is not installed."""


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(env: Mapping[str, str]) -> bool:
    """Qt picks xcb when no platform is named and an X display is set (it prefers Wayland only
    when WAYLAND_DISPLAY is set and it is told to, so a named platform other than xcb is left
    alone: offscreen in tests and CI, wayland, eglfs)."""
    platform = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    return platform in ("", "xcb") and bool(env.get("DISPLAY"))


def missing_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def check_qt_platform(env: Mapping[str, str] | None = None, loads: Callable[[str], bool] = _loads) -> None:
    """Raise ``QtPlatformMissing`` naming the packages to install when Qt would fail to load xcb."""
    if not uses_xcb(os.environ if env is None else env):
        return
    missing = missing_libraries(loads)
    if not missing:
        return
    packages = " ".join(dict.fromkeys(XCB_LIBRARIES[s] for s in missing))
    raise QtPlatformMissing(
        f"Qt cannot open a window: missing system librar{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}",
        f"sudo apt-get install {packages} (or set QT_QPA_PLATFORM=offscreen for no window)",
    )
