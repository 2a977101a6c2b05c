"""GUI entry: ``run_gui(files, demo)`` builds the application and the main window."""

from __future__ import annotations

import signal
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ..capture.api import Target
from ..capture.worker import Job
from ..errors import WorkbenchError
from .jobs import JobRelay
from .main_window import MainWindow

APP_NAME = "Profiling Workbench"


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("profiling-workbench")
    return app  # type: ignore[return-value]


class DemoAttach:
    """Starts the bundled demo service off the GUI thread, then attaches py-spy + procstats."""

    def __init__(self, win: MainWindow) -> None:
        self.win = win
        self.handle: Any = None
        self._relay = JobRelay()
        self._relay.done.connect(self._started)

    def start(self) -> None:
        from ..demo.launch import start_demo

        self.win.capture.status.setText("starting the demo service…")
        job: Job[Any] = Job(lambda j: start_demo(), name="demo")
        job.on_done(self._relay.deliver)
        job.start()

    def _started(self, job: Job[Any]) -> None:
        if job.error is not None:
            self.win.show_error(job.error)
            return
        self.handle = job.result
        self.win.picker.choose(Target.from_pid(self.handle.pid), "demo service")
        self.win.capture.select(["pyspy", "procstats"])
        self.win.capture.start()

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()
            self.handle = None


def _quit_on_signals(app: QApplication) -> QTimer:
    """Ctrl+C / SIGTERM close the app through the normal path (captures and demo stopped).

    Python runs signal handlers only between bytecodes, so a timer wakes the interpreter
    up a few times a second while Qt's event loop waits.
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _s, _f: app.quit())
    timer = QTimer(app)
    timer.setInterval(250)
    timer.timeout.connect(lambda: None)
    timer.start()
    return timer


def run_gui(files: list[str], demo: bool = False) -> int:
    """Open the main window (optionally on ``files``, or attached to the demo); returns the exit code."""
    app = application()
    win = MainWindow()
    attach = DemoAttach(win) if demo else None
    win.show()
    win.picker.refresh()
    if files:
        win.open_files(list(files))
    if attach is not None:
        try:
            attach.start()
        except WorkbenchError as exc:
            win.show_error(exc)
    _quit_on_signals(app)
    try:
        return int(app.exec())
    finally:
        win.capture.stop_all_blocking()
        if attach is not None:
            attach.stop()
        win.close()
        win.deleteLater()
