"""The window's session work, apart from its layout: open, save, export, diff, leak judging.

``SessionController`` owns the shown ``Session`` and the leak engine that follows it, and
runs every piece of file I/O and analysis in jobs; the window connects its signals to the
views. Nothing here lays out a widget.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from ..analysis.leak_watch import LeakWatch
from ..capture.worker import Job
from ..errors import FormatError, WorkbenchError
from ..model.findings import VERDICTS_TARGET, Finding
from ..model.keys import ProfileKey
from ..model.profile import Profile
from ..model.session import FindingsBatch, Session
from .jobs import JobRunner

LEAK_JUDGE_S = 3.0  # the leak engine re-judges the session at most this often
# jobs whose older results are dropped when a newer one was asked for; every file opened,
# saved or exported is wanted, so those are not in the set
LATEST_ONLY = frozenset({"cut", "diff", "open-base", "leaks"})


def normalised_delta(base_total: np.ndarray, new_total: np.ndarray) -> np.ndarray:
    """Per-node change of share of the total, scaled to [-1, 1] for red/blue colouring."""
    bt = float(base_total[0]) if len(base_total) else 0.0
    nt = float(new_total[0]) if len(new_total) else 0.0
    b = base_total / bt if bt else np.zeros_like(base_total)
    n = new_total / nt if nt else np.zeros_like(new_total)
    d = n - b
    peak = float(np.max(np.abs(d))) if len(d) else 0.0
    return d / peak if peak > 0 else d


class SessionController(QObject):
    """Signals carry results to the views; ``error`` carries every failure to the banner."""

    error = Signal(object)
    sessionReplaced = Signal(object)  # an opened .wbs: the new Session
    profilesOpened = Signal(str)  # the key text of the first profile an opened file added
    fileUsed = Signal(str)  # a path opened or saved (the recent-files list)
    diffReady = Signal(object, object)  # (union profile, per-node delta in [-1, 1])
    verdictsJudged = Signal(object, object)  # (suspects, checked) of the leak engine

    def __init__(self, session: Session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = JobRunner(LATEST_ONLY, self)
        self.jobs.error.connect(self.error.emit)
        self.session = session
        self.leak_watch = LeakWatch()
        self._leak_session: Session | None = None
        self._leak_judged = 0.0
        self.verdicts: tuple[list[Finding], list[Finding]] = ([], [])
        self._stored_verdicts: list[Finding] = []
        self._watch_leaks(session)

    # --------------------------------------------------------------- session
    def set_session(self, session: Session) -> None:
        self.session = session
        self._watch_leaks(session)
        self.sessionReplaced.emit(session)

    def _watch_leaks(self, session: Session) -> None:
        """The leak engine follows the shown session's batches (heap and goroutine snapshots)."""
        old = self._leak_session
        if old is not None:
            old.remove_listener(self.leak_watch.on_batch)
        self.leak_watch = LeakWatch()
        self._leak_session = session
        self._leak_judged = 0.0
        self.verdicts = ([], [])
        self._stored_verdicts = []
        session.add_listener(self.leak_watch.on_batch)

    # ------------------------------------------------------------------ open
    def open_files(self, paths: list[str]) -> None:
        for path in paths:
            self._open_one(path)

    def _open_one(self, path: str) -> None:
        from ..formats import detect_format, read_profiles

        def work(job: Job[Any]) -> tuple[str, Any]:
            fmt = detect_format(path)
            if fmt == "wbs":
                from ..formats.wbs import load_session

                return ("session", load_session(path))
            return ("profiles", read_profiles(path, fmt))

        self.jobs.submit("open", work, lambda res: self._opened(path, res))

    def _opened(self, path: str, result: tuple[str, Any]) -> None:
        kind, payload = result
        self.fileUsed.emit(path)
        if kind == "session":
            self.set_session(payload)
            return
        profiles: list[Profile] = payload
        if not profiles:
            self.error.emit(FormatError("the file holds no profiles", "open a file with samples", path=path))
            return
        base = os.path.basename(path)
        keys = [
            ProfileKey.for_file(base) if len(profiles) == 1 else ProfileKey.for_file(base, f"{i}:{p.name}")
            for i, p in enumerate(profiles)
        ]
        try:
            first = self.session.add_profiles(zip(keys, profiles, strict=True))[0]
        except OverflowError as exc:
            self.error.emit(WorkbenchError(str(exc), "save this session and open the file in a new window"))
            return
        self.profilesOpened.emit(first)

    # ------------------------------------------------------------------ save
    def save(self, path: str) -> Job[Any]:
        from ..formats.wbs import save_session

        s = self.session
        return self.jobs.submit("save", lambda job: save_session(s, path), lambda _r: self.fileUsed.emit(path))

    def export_profile(self, profile: Profile, path: str, sample_index: int) -> Job[Any]:
        from ..formats import write_profile

        return self.jobs.submit(
            "export", lambda job: write_profile(profile, path, sample_index=sample_index), lambda _r: None
        )

    # ------------------------------------------------------------------ diff
    def diff(self, base: Profile, new: Profile, sample_index: int) -> Job[Any]:
        """The union tree of ``base`` and ``new`` with the normalised change per node."""
        from ..analysis.diff import diff

        def work(job: Job[Any]) -> tuple[Profile, np.ndarray]:
            res = diff(base, new, normalize=True)
            k = min(sample_index, res.base_total.shape[1] - 1)
            return res.profile, normalised_delta(res.base_total[:, k], res.new_total[:, k])

        return self.jobs.submit("diff", work, lambda res: self.diffReady.emit(*res))

    def diff_file(self, path: str, new: Profile, sample_index: int) -> None:
        from ..formats import read_profiles

        self.jobs.submit(
            "open-base", lambda job: read_profiles(path)[0], lambda base: self.diff(base, new, sample_index)
        )

    # ----------------------------------------------------------------- leaks
    def judge_leaks(self) -> None:
        """Re-judge every LEAK_JUDGE_S off the GUI thread (Theil-Sen over every candidate)."""
        now = time.monotonic()
        if now - self._leak_judged < LEAK_JUDGE_S:
            return
        self._leak_judged = now
        watch, s = self.leak_watch, self.session
        self.jobs.submit("leaks", lambda job: watch.judge(s), self._judged)

    def _judged(self, verdicts: tuple[list[Finding], list[Finding]]) -> None:
        suspects, checked = verdicts
        if not suspects and not checked:
            return  # nothing judged yet (or an offline session): keep what the session holds
        self.verdicts = (suspects, checked)
        self.verdictsJudged.emit(suspects, checked)
        self.store_verdicts()

    def store_verdicts(self) -> None:
        """The leak engine's latest verdicts become the session's findings (replacing the previous
        ones), so a saved or -o session holds what was judged live, as ``workbench leaks`` reports."""
        suspects, checked = self.verdicts
        if not suspects and not checked:
            return
        stamped = [replace(f, target=VERDICTS_TARGET, source=VERDICTS_TARGET) for f in (*suspects, *checked)]
        if stamped != self._stored_verdicts:
            self._stored_verdicts = stamped
            self.session.put(FindingsBatch(stamped, replace_target=VERDICTS_TARGET))

    def findings(self) -> tuple[list[Finding], list[Finding]]:
        """(the session's own findings, the leak verdicts stored in it)."""
        s = self.session
        with s.lock():
            own = [f for f in s.findings if f.source != VERDICTS_TARGET]
            stored = [f for f in s.findings if f.source == VERDICTS_TARGET]
        return own, stored
