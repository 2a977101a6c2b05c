"""The Services view: the services a Prometheus server scrapes, and PromQL series for the timeline.

Top: a server URL and "List services": every scraped target with its health, whether it serves
/debug/pprof/, its runtime, p99, CPU and memory now (``CaptureController.list_services``, the
same listing as ``workbench services``). Double-click a row (or "Attach") and the target picker
chooses its URL, as if typed. Bottom: a query box in ``record --query``'s syntax (one
``NAME=PROMQL`` per line) with a few ready queries; "Chart queries" adds the source that reads
Prometheus servers (found by what it declares, ``PROMQL``) to the capture, so its series join
the timeline beside the service's own. Listing runs in a job: the GUI never waits on the network.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..capture.api import PROMQL, QUERIES_OPTION, ServiceInfo, Target
from ..capture.controller import CaptureController, Plan
from ..errors import PluginError, WorkbenchError
from ..model.units import format_quantity
from .jobs import JobRunner

COLUMNS = ("job", "instance", "health", "serves pprof", "runtime", "p99", "CPU", "RSS", "URL")
# what the query box offers ready-made: (label, NAME=PROMQL); named so the timeline charts them
# (p99 in the latency chart, pool_waits with pool waits, gc_pause with GC pauses)
READY_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "latency p99 per service",
        'p99=histogram_quantile(0.99, sum by (job, le) (rate({__name__=~".+_request_duration_seconds_bucket"}[1m])))',
    ),
    (
        "error ratio per service",
        'error_ratio=sum by (job) (rate({__name__=~".+_requests_total", code=~"5.."}[1m]))'
        ' / sum by (job) (rate({__name__=~".+_requests_total"}[1m]))',
    ),
    ("pool waits per service", "pool_waits=sum by (job) (rate(go_sql_wait_count_total[1m]))"),
    (
        "GC pause per service",
        "gc_pause=sum by (job) (rate(go_gc_duration_seconds_sum[1m]))"
        " / sum by (job) (rate(go_gc_duration_seconds_count[1m]))",
    ),
)


def _cell(text: str, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if tip:
        item.setToolTip(tip)
    return item


class ServicesView(QWidget):
    """Emits ``attach(Target, description)`` for a chosen service, ``error`` for the banner and
    ``chart(Plan)`` with a plan of the PromQL source for the capture panel to start."""

    attach = Signal(object, str)
    chart = Signal(object)
    error = Signal(object)

    def __init__(self, controller: CaptureController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.services: list[ServiceInfo] = []
        self.jobs = JobRunner(("list",), self)
        self.jobs.error.connect(self._failed)
        self.url = QLineEdit()
        self.url.setPlaceholderText("Prometheus URL, e.g. http://127.0.0.1:9090")
        self.url.returnPressed.connect(self.list_services)
        self.list_btn = QPushButton("List services")
        self.list_btn.clicked.connect(self.list_services)
        self.attach_btn = QPushButton("Attach")
        self.attach_btn.setToolTip("choose the selected service as the target (as if its URL were typed)")
        self.attach_btn.clicked.connect(self.attach_selected)
        self.status = QLabel("List the services a Prometheus server scrapes; double-click one to attach.")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.attach_row(row))
        self.queries = QPlainTextEdit()
        self.queries.setPlaceholderText("one NAME=PROMQL per line, as record --query takes them")
        self.queries.setMaximumHeight(90)
        self.ready = QComboBox()
        self.ready.addItem("add a ready query…")
        for label, line in READY_QUERIES:
            self.ready.addItem(label, line)
        self.ready.activated.connect(self._add_ready)
        self.chart_btn = QPushButton("Chart queries")
        self.chart_btn.setToolTip("poll these queries from the server above into this session's timeline")
        self.chart_btn.clicked.connect(self.chart_queries)

        top = QHBoxLayout()
        top.addWidget(QLabel("Prometheus"))
        top.addWidget(self.url, 1)
        top.addWidget(self.list_btn)
        top.addWidget(self.attach_btn)
        qrow = QHBoxLayout()
        qrow.addWidget(self.ready, 1)
        qrow.addWidget(self.chart_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.table, 1)
        lay.addWidget(QLabel("PromQL series"))
        lay.addWidget(self.queries)
        lay.addLayout(qrow)

    # --------------------------------------------------------------- listing
    def list_services(self) -> None:
        url = self.url.text().strip()
        if not url:
            self.error.emit(PluginError("no Prometheus URL given", "type the server's URL, e.g. http://127.0.0.1:9090"))
            return
        controller = self.controller
        self.list_btn.setEnabled(False)
        self.status.setText(f"asking {url}…")
        self.jobs.submit("list", lambda job: controller.list_services(url), self.show_services)

    def _failed(self, exc: WorkbenchError) -> None:
        self.list_btn.setEnabled(True)
        self.status.setText(f"error: {exc.message}")
        self.error.emit(exc)

    def show_services(self, services: list[ServiceInfo]) -> None:
        self.list_btn.setEnabled(True)
        self.services = list(services)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(services))
        for row, s in enumerate(services):
            pprof = "yes" if s.serves_pprof else "no" if s.serves_pprof is False else "?"
            cells = (
                _cell(s.job),
                _cell(s.instance),
                _cell(s.health, s.error or (f"last scrape {s.last_scrape}" if s.last_scrape else "")),
                _cell(pprof, "serves /debug/pprof/: can be profiled" if s.serves_pprof else "no /debug/pprof/ found"),
                _cell(s.runtime or "-"),
                _cell(format_quantity(s.p99_s, "s") if s.p99_s is not None else "-"),
                _cell(f"{s.cpu:.2f}" if s.cpu is not None else "-", "CPU cores in use"),
                _cell(format_quantity(s.rss_bytes, "bytes") if s.rss_bytes is not None else "-"),
                _cell(s.url),
            )
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        up = sum(1 for s in services if s.health == "up")
        can = sum(1 for s in services if s.serves_pprof)
        self.status.setText(f"{len(services)} services, {up} up, {can} serve pprof; double-click one to attach")

    # ---------------------------------------------------------------- attach
    def attach_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.attach_row(rows[0].row())

    def attach_row(self, row: int) -> None:
        if not 0 <= row < len(self.services):
            return
        s = self.services[row]
        self.attach.emit(Target.from_url(s.url), f"{s.job} {s.instance}")

    # ---------------------------------------------------------------- queries
    def _add_ready(self, index: int) -> None:
        line: Any = self.ready.itemData(index)
        if isinstance(line, str):
            text = self.queries.toPlainText().rstrip()
            self.queries.setPlainText(f"{text}\n{line}" if text else line)
        self.ready.setCurrentIndex(0)

    def chart_queries(self) -> None:
        url = self.url.text().strip()
        text = self.queries.toPlainText().strip()
        if not url or not text:
            self.error.emit(
                PluginError("PromQL series need a server URL and a query", "fill in both: NAME=PROMQL per line")
            )
            return
        try:
            plugin = self.controller.provider(PROMQL, "reads Prometheus servers (PromQL)")
            target = Target.from_url(url)
            plan = Plan(target, "")
            plan.add(plugin, target, {QUERIES_OPTION: text})
        except WorkbenchError as exc:
            self.error.emit(exc)
            return
        self.status.setText(f"charting {len(text.splitlines())} queries from {url}")
        self.chart.emit(plan)
