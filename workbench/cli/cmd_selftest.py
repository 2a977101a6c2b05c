"""``workbench selftest``: offscreen main window, a rendered flame graph, every plugin loaded.

Prints one line per check and exits 0 when all pass, 1 otherwise (with the reasons).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SAMPLE_NAME = "sample.collapsed"
OPEN_TIMEOUT_S = 30.0
RECORD_SECONDS = 2.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("selftest", help="headless check of the install; exit 0 or 1 with reasons")
    p.add_argument("--record", action="store_true", help="also record 2 s of CPU from a child Python process")
    p.add_argument("--image", default=None, help="save the rendered flame graph to this PNG")


def sample_profile_path() -> Path:
    """The bundled sample: next to a frozen app, else in the source tree's resources/."""
    bases = [Path(getattr(sys, "_MEIPASS", "")) / "resources"] if hasattr(sys, "_MEIPASS") else []
    bases.append(Path(__file__).resolve().parents[2] / "resources")
    bases.append(Path(sys.prefix) / "share" / "profiling-workbench" / "resources")
    for b in bases:
        if (b / SAMPLE_NAME).is_file():
            return b / SAMPLE_NAME
    return bases[-1] / SAMPLE_NAME


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problems: list[str] = []

    def report(ok: bool, text: str) -> None:
        print(f"selftest: {'ok  ' if ok else 'FAIL'} {text}", flush=True)
        if not ok:
            problems.append(text)

    try:
        from PySide6.QtCore import QSettings, qInstallMessageHandler

        # the offscreen platform warns about window hints it ignores: noise in a check's output
        qInstallMessageHandler(_quiet_qt_messages)

        from ..ui.app import application
        from ..ui.main_window import MainWindow
    except ImportError as exc:
        print(f"selftest: FAIL Qt cannot be imported: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="wb-selftest-") as tmp:
        app = application()
        settings = QSettings(os.path.join(tmp, "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings=settings)
        win.resize(1400, 900)
        win.show()
        report(True, f"main window built ({app.platformName()})")
        _check_sample(win, app, report, args.image)
        for name, ok, err in win.capture.plugin_status():
            report(ok, f"plugin {name}: {'loaded' if ok else err}")
        if args.record:
            _check_record(win, report)
        win.close()
        app.processEvents()
    if problems:
        print(f"selftest: {len(problems)} problem(s): " + "; ".join(problems), file=sys.stderr)
        return 1
    print("selftest: all checks passed")
    return 0


def _quiet_qt_messages(mode: Any, context: Any, message: str) -> None:
    if "propagateSizeHints" not in message:
        print(f"qt: {message}", file=sys.stderr)


def _check_sample(win: Any, app: Any, report: Callable[[bool, str], None], image: str | None) -> None:
    path = sample_profile_path()
    if not path.is_file():
        report(False, f"bundled sample profile missing at {path}")
        return
    win.open_files([str(path)])
    deadline = time.monotonic() + OPEN_TIMEOUT_S
    while (win.busy() or win.flame.canvas.profile is None) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    win.refresh()
    canvas = win.flame.canvas
    if canvas.profile is None:
        report(False, f"sample profile not shown ({win.banner.text() or 'timed out'})")
        return
    report(True, f"sample profile loaded: {path.name} ({canvas.profile.n_nodes} nodes)")
    before = canvas.boxes_drawn
    img = canvas.grab().toImage()
    drawn = canvas.boxes_drawn - before
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    ok = drawn > 10 and len(colours) > 4
    report(ok, f"flame graph rendered: {img.width()}x{img.height()} px, {drawn} boxes, {len(colours)} colours")
    if image:
        img.save(image)


def busy_loop(seconds: float) -> int:
    """Burn CPU in Python code for ``seconds`` (the target of ``selftest --record``)."""
    end = time.time() + seconds
    while time.time() < end:
        sum(range(1000))
    return 0


def _wait_until_python(pid: int, timeout_s: float = 15.0) -> None:
    """A frozen app's bootloader maps libpython a moment after exec: attach only after it has."""
    from ..capture.targets import detect_runtime
    from ..errors import WorkbenchError

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if detect_runtime(pid).runtime == "python":
                return
        except WorkbenchError:
            return  # gone: the capture reports it
        time.sleep(0.1)


def _check_record(win: Any, report: Callable[[bool, str], None]) -> None:
    from ..capture.api import Target
    from ..model.keys import CPU
    from ..model.session import Session

    # The child is this same program (frozen or not): it is a Python process py-spy can read,
    # even on a machine where the frozen app is the only Python installed.
    if getattr(sys, "frozen", False):
        cmd = [sys.executable, "--selftest-busy", "30"]
    else:
        cmd = [sys.executable, "-m", "workbench.cli.main", "--selftest-busy", "30"]
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    _wait_until_python(child.pid)
    try:
        from ..capture.controller import CaptureController

        session = Session()
        # the same plan a user gets: a Python PID's CPU source by its runtime (the profile kind)
        controller = CaptureController(session, win.registry)
        plan = controller.plan(Target.from_pid(child.pid), profile=CPU)
        errors = controller.start(plan)
        if errors:
            raise errors[0]
        time.sleep(RECORD_SECONDS)
        controller.stop(join=True)
        samples = sum(
            float(p.totals()[i])
            for p in session.profiles.values()
            for i, st in enumerate(p.sample_types)
            if st.type == "samples"
        )
        report(samples > 0, f"recorded {RECORD_SECONDS:.0f} s of CPU from PID {child.pid}: {samples:.0f} samples")
    except Exception as exc:  # every failure is a reason to print, not a traceback
        report(False, f"record: {exc}")
    finally:
        child.kill()
        child.wait()
