"""Light and dark themes follow the platform palette: a palette change reaches the flame graph
and the timeline (pyqtgraph draws its own background, so the window passes the change on)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from tests.helpers.gui import small_profile


def _dark() -> QPalette:
    pal = QPalette()
    for role, rgb in (
        (QPalette.ColorRole.Window, (40, 40, 40)),
        (QPalette.ColorRole.WindowText, (230, 230, 230)),
        (QPalette.ColorRole.Base, (28, 28, 28)),
        (QPalette.ColorRole.Text, (230, 230, 230)),
    ):
        pal.setColor(role, QColor(*rgb))
    return pal


def test_dark_palette_reaches_flame_graph_and_timeline(qtbot, window) -> None:
    window.flame.set_profile(small_profile())
    window.setPalette(_dark())
    qtbot.wait(50)
    # the timeline's pyqtgraph view is repainted in the palette's base colour
    assert window.timeline.glw.backgroundBrush().color() == QColor(28, 28, 28)
    # the flame graph fills its background from the palette: its top-left pixel is dark
    canvas = window.flame.canvas
    canvas.resize(600, 400)
    img = canvas.grab().toImage()
    assert img.pixelColor(2, 2).lightness() < 80
    window.setPalette(QPalette())  # back to light
    qtbot.wait(50)
    assert window.timeline.glw.backgroundBrush().color().lightness() > 150
