"""Target picker: processes with their runtime (Python version, Go, other) and container, a URL entry, recents.

Listing processes and reading executables (Go build info) is I/O: it runs in a Job,
and the GUI only receives the finished list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..capture.api import Target
from ..capture.worker import Job, LatestOnly
from ..errors import WorkbenchError
from .jobs import JobRelay
from .text import plain_tooltip

MAX_RECENT = 10
MAX_PROCESSES = 2000  # a bounded list even on a busy host


@dataclass(frozen=True, slots=True)
class ProcessRow:
    pid: int
    name: str
    runtime: str  # "python 3.12", "go go1.22.1", "node", "other", "?" (not readable)
    user: str
    cmdline: str
    container: str = ""  # "docker 3f4e5d6c7b8a", "kubernetes pod ...", "namespaced (pid,mnt,net)", ""


# what the workbench can profile comes first when sorting by runtime; unreadable ("?") last
_RUNTIME_RANK = {"python": 0, "go": 1, "node": 2, "other": 3, "?": 4}


def runtime_rank(runtime: str) -> tuple[int, str]:
    return (_RUNTIME_RANK.get(runtime.split(" ", 1)[0], 3), runtime)


class _ProcessItem(QTreeWidgetItem):
    # the whole comparison here: PySide6 recurses when __lt__ calls the base class's
    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        col = tree.sortColumn() if tree is not None else 0
        if col == 0:
            return int(self.data(0, Qt.ItemDataRole.UserRole) or 0) < int(other.data(0, Qt.ItemDataRole.UserRole) or 0)
        if col == 2:
            return runtime_rank(self.text(2)) < runtime_rank(other.text(2))
        return self.text(col).lower() < other.text(col).lower()


def list_processes(job: Job[list[ProcessRow]] | None = None) -> list[ProcessRow]:
    """Every readable process with its detected runtime; skips ourselves."""
    from ..capture.namespaces import container_of
    from ..capture.targets import detect_runtime

    rows: list[ProcessRow] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "username", "cmdline"]):
        if job is not None:
            job.check()
        info = proc.info
        pid = int(info["pid"])
        if pid == me:
            continue
        cmd = " ".join(info.get("cmdline") or [])[:300]
        try:
            rt = detect_runtime(pid)
            runtime = f"{rt.runtime} {rt.version}".strip()
        except WorkbenchError:
            runtime = "?"
        except Exception:  # a process vanishing mid-read must not abort the list
            runtime = "?"
        try:
            box = container_of(pid).label()
        except Exception:  # a process vanishing mid-read must not abort the list
            box = ""
        rows.append(ProcessRow(pid, info.get("name") or "", runtime, info.get("username") or "", cmd, box))
        if len(rows) >= MAX_PROCESSES:
            break
    return rows


class TargetPicker(QWidget):
    """Emits ``targetChosen(Target)`` on double-click, Enter in the URL box, or a recent entry."""

    targetChosen = Signal(object)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter: name, PID, runtime, container, command")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        self.refresh_btn = QPushButton("refresh")
        self.refresh_btn.clicked.connect(self.refresh)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["PID", "name", "runtime", "user", "container"])
        for c, w in enumerate((56, 100, 80, 44)):  # narrow enough that the container column is in view
            self.tree.setColumnWidth(c, w)
        self.tree.setRootIsDecorated(False)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(2, Qt.SortOrder.AscendingOrder)
        self.tree.itemDoubleClicked.connect(self._pick_item)
        self.url = QLineEdit()
        self.url.setPlaceholderText("pprof URL, e.g. http://127.0.0.1:6060")
        self.url.returnPressed.connect(self._pick_url)
        url_btn = QPushButton("use URL")
        url_btn.clicked.connect(self._pick_url)
        self.recent = QComboBox()
        self.recent.setPlaceholderText("recent targets")
        self.recent.activated.connect(self._pick_recent)
        self.status = QLabel("")
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.refresh_btn)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(url_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.status)
        lay.addLayout(url_row)
        lay.addWidget(self.recent)
        self._jobs = LatestOnly()
        self._relay = JobRelay()
        self._relay.done.connect(self._on_listed)
        self._load_recent()

    # -------------------------------------------------------------- listing
    def refresh(self) -> None:
        self.status.setText("listing processes…")
        job: Job[list[ProcessRow]] = Job(list_processes, name="processes")
        job.on_done(self._relay.deliver)
        self._jobs.submit("processes", job)

    def _on_listed(self, job: Job[list[ProcessRow]]) -> None:
        if not self._jobs.is_current("processes", job) or job.result is None:
            return
        self.set_rows(job.result)

    def set_rows(self, rows: list[ProcessRow]) -> None:
        # a refresh keeps the order the user chose (runtime, profilable first, until then)
        col, order = self.tree.sortColumn(), self.tree.header().sortIndicatorOrder()
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for r in rows:
            item = _ProcessItem([str(r.pid), r.name, r.runtime, r.user, r.container])
            item.setData(0, Qt.ItemDataRole.UserRole, r.pid)
            item.setData(0, Qt.ItemDataRole.DisplayRole, r.pid)  # numeric sort
            item.setToolTip(1, plain_tooltip(r.cmdline))
            item.setData(1, Qt.ItemDataRole.UserRole, r.cmdline)
            self.tree.addTopLevelItem(item)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(col, order)
        self.status.setText(f"{len(rows)} processes")
        self._apply_filter(self.filter.text())

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            cmd = str(item.data(1, Qt.ItemDataRole.UserRole) or "")
            hay = " ".join(item.text(c) for c in range(self.tree.columnCount())).lower() + " " + cmd.lower()
            item.setHidden(bool(needle) and needle not in hay)

    # -------------------------------------------------------------- picking
    def _pick_item(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        self.choose(Target.from_pid(int(item.data(0, Qt.ItemDataRole.UserRole))), f"{item.text(1)} ({item.text(2)})")

    def _pick_url(self) -> None:
        url = self.url.text().strip()
        if url:
            if "://" not in url:
                url = "http://" + url
            self.choose(Target.from_url(url))

    def _pick_recent(self, index: int) -> None:
        label = self.recent.itemData(index)
        if not label:
            return
        kind, _sep, value = str(label).partition(":")
        self.choose(Target.from_pid(int(value)) if kind == "pid" else Target.from_url(value))

    def choose(self, target: Target, description: str = "") -> None:
        self._remember(target, description)
        self.targetChosen.emit(target)

    # --------------------------------------------------------------- recents
    def _load_recent(self) -> None:
        self.recent.clear()
        raw = self.settings.value("recent_targets", [])
        items = raw if isinstance(raw, list) else [raw] if raw else []
        for entry in items[:MAX_RECENT]:
            label, _sep, desc = str(entry).partition("|")
            self.recent.addItem(f"{label} {desc}".strip(), label)

    def _remember(self, target: Target, description: str) -> None:
        raw = self.settings.value("recent_targets", [])
        items = [str(x) for x in (raw if isinstance(raw, list) else [raw] if raw else [])]
        entry = f"{target.label()}|{description}"
        items = [entry] + [x for x in items if x.partition("|")[0] != target.label()]
        self.settings.setValue("recent_targets", items[:MAX_RECENT])
        self._load_recent()
