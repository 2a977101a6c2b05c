"""GUI entry: ``run_gui(files, demo)`` builds the application and the main window."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ..capture.api import Target
from ..capture.worker import Job
from ..errors import UnknownFormat, WorkbenchError
from .jobs import JobRelay
from .main_window import MainWindow
from .platform_check import check_qt_platform

APP_NAME = "Profiling Workbench"


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        check_qt_platform()  # one line naming the Debian packages, not Qt's "could not load xcb"
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("profiling-workbench")
    return app  # type: ignore[return-value]


class Attach:
    """Opens the window attached to a target: the runtime's default sources (or those named)
    start as soon as the target is planned, as if the user had picked it and pressed Start."""

    def __init__(self, win: MainWindow, sources: list[str] | None = None) -> None:
        self.win = win
        self.sources = sources
        self.target: Target | None = None
        win.capture.planned.connect(self._planned)

    def attach(self, target: Target, description: str = "") -> None:
        self.target = target
        self.win.picker.choose(target, description)

    def _planned(self, plan: Any) -> None:
        if self.target is None or plan.target != self.target:
            return
        self.target = None  # once: a later pick by the user is theirs to start
        if self.sources:
            self.win.capture.select(self.sources)
        self.win.capture.start()


class DemoAttach(Attach):
    """Starts the bundled demo service off the GUI thread, then attaches its default sources."""

    def __init__(self, win: MainWindow) -> None:
        super().__init__(win)
        self.handle: Any = None
        self._relay = JobRelay()
        self._relay.done.connect(self._demo_started)

    def start(self) -> None:
        from ..demo.launch import start_demo

        self.win.capture.status.setText("starting the demo service…")
        job: Job[Any] = Job(lambda j: start_demo(), name="demo")
        job.on_done(self._relay.deliver)
        job.start()

    def _demo_started(self, job: Job[Any]) -> None:
        if job.error is not None:
            self.win.show_error(job.error)
            return
        self.handle = job.result
        self.attach(Target.from_pid(self.handle.pid), "demo service")

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()
            self.handle = None


def open_store(win: MainWindow, output: str) -> Any:
    """Write the window's session to ``output`` as data arrives (a crash or SIGTERM loses
    nothing already captured, leak verdicts included: they are findings of the session)."""
    from ..formats import detect_format
    from ..formats.wbs import SessionStore

    if detect_format(output) != "wbs":
        raise UnknownFormat(f"{output}: the GUI writes sessions (.wbs) while capturing", "use -o NAME.wbs")
    if os.path.exists(output):
        os.unlink(output)  # a session file is written fresh, never appended to an old one
    store = SessionStore(output)
    store.attach(win.session)
    return store


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


def run_gui(
    files: list[str],
    *,
    demo: bool = False,
    pid: int | None = None,
    url: str | None = None,
    sources: list[str] | None = None,
    output: str | None = None,
) -> int:
    """Open the main window (on ``files``, attached to the demo, or attached to ``pid``/``url``
    with ``sources`` or the runtime's defaults, writing ``output`` as it captures)."""
    if (sources or output) and pid is None and url is None:
        raise WorkbenchError("--source and -o go with --pid or --url", "name the target to attach to")
    app = application()
    win = MainWindow()
    store = open_store(win, output) if output else None
    demo_attach = DemoAttach(win) if demo else None
    attach = Attach(win, sources) if pid is not None or url is not None else None
    win.show()
    win.picker.refresh()
    if files:
        win.open_files(list(files))
    try:
        if demo_attach is not None:
            demo_attach.start()
        if attach is not None:
            attach.attach(Target.from_pid(pid) if pid is not None else Target.from_url(str(url)))
    except WorkbenchError as exc:
        win.show_error(exc)
    _quit_on_signals(app)
    try:
        return int(app.exec())
    finally:
        win.capture.stop_all_blocking()
        win.store_verdicts()  # the last judgement goes into the session (and its file)
        if store is not None:
            store.close()
        if demo_attach is not None:
            demo_attach.stop()
        win.close()
        win.deleteLater()
