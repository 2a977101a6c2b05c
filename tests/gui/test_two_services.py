"""Two Go services in one session: the second one's series get its host:port as label, so
the two services' charts stay apart on one timeline."""

import shutil

import pytest

from tests.helpers.gosvc import pprofsvc_exe, start_pprofsvc  # noqa: F401 (fixture)
from workbench.capture.api import Target

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="apt-get install golang-go")


def _capture(qtbot, window, url: str, series_suffix: str = "") -> None:
    window.capture.set_target(Target.from_url(url))
    window.capture.select(["pprof"])
    opts = window.capture.controls["pprof"]
    opts.editors["profile"].setCurrentText("heap")
    window.capture.start()
    qtbot.waitUntil(lambda: bool(window.capture.running), timeout=30_000)
    qtbot.waitUntil(lambda: any(k.startswith(f"pprof:{url}") for k in window.session.profile_keys()), timeout=30_000)
    # the first metrics poll runs beside the first profile fetch: wait for it too, so the
    # test checks labelling, not which of two requests the service answered first
    qtbot.waitUntil(
        lambda: any(n.startswith("go.goroutines") and n.endswith(series_suffix) for n in window.session.series_names()),
        timeout=30_000,
    )
    window.capture.stop()
    qtbot.waitUntil(lambda: not window.capture.running and window.capture.start_btn.isEnabled(), timeout=30_000)


def test_second_service_gets_labelled_series(qtbot, window, pprofsvc_exe) -> None:  # noqa: F811
    a, b = start_pprofsvc(pprofsvc_exe), start_pprofsvc(pprofsvc_exe)
    try:
        _capture(qtbot, window, a.url)
        _capture(qtbot, window, b.url, series_suffix=b.url.split(":")[-1])
    finally:
        a.stop()
        b.stop()
    names = window.session.series_names()
    host_b = b.url.split("://", 1)[1]
    assert "go.goroutines" in names
    assert any(n.startswith("go.goroutines@") and host_b.split(":")[-1] in n for n in names), names
