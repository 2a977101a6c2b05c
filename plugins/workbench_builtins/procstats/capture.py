"""The procstats capture: CPU, memory, threads, fds and TCP connections of any PID at 1 Hz.

Connections are grouped by remote endpoint because that is how a pool looks from
outside (three ESTABLISHED to 127.0.0.1:5432 is a pool of three). Connections *into*
the process come from clients with throwaway ports, so they are grouped by the local
listening endpoint instead (``in:127.0.0.1:8080``); grouping them by remote would
make one series per client port and grow without bound.

Series (names are a contract, see DESIGN.md):
``process.cpu_percent``, ``process.rss_bytes``, ``process.uss_bytes``,
``process.threads``, ``process.fds``, ``process.connections.<remote>`` (ESTABLISHED
count per remote), and the state breakdown ``process.tcp_states.<STATE>`` (all TCP
sockets of the process by state, LISTEN included).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psutil

from workbench.capture import HandleBase, Job, Sink, Target
from workbench.capture.namespaces import in_own_net_ns
from workbench.capture.proc_net import tcp_connections
from workbench.errors import PermissionDenied, TargetExited
from workbench.model import EventKind, SeriesBatch, SeriesPoint

MAX_REMOTES = 64  # distinct connection groups tracked; the rest is summed into "other"


def _endpoint(addr: Any) -> str:
    if not addr:
        return "?"
    ip, port = addr[0], addr[1]
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def connection_groups(conns: list[Any]) -> tuple[dict[str, int], dict[str, int]]:
    """(ESTABLISHED count per group, count per TCP state). Groups: remote, or ``in:<listen>``."""
    listening = {c.laddr[1] for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}
    est: dict[str, int] = {}
    states: dict[str, int] = {}
    for c in conns:
        states[c.status] = states.get(c.status, 0) + 1
        if c.status != psutil.CONN_ESTABLISHED or not c.raddr:
            continue
        group = f"in:{_endpoint(c.laddr)}" if c.laddr and c.laddr[1] in listening else _endpoint(c.raddr)
        est[group] = est.get(group, 0) + 1
    return est, states


class ProcStatsCapture(HandleBase):
    def __init__(self, target: Target, interval: float, duration: float, sink: Sink) -> None:
        super().__init__(target, sink, name="procstats", message="sampling")
        self.pid = target.pid
        self.interval = interval
        self.duration = duration
        self.proc = psutil.Process(self.pid)
        # a container's sockets are listed in its own network namespace, not in ours
        self._own_netns = in_own_net_ns(self.pid)
        self._known_groups: set[str] = set()
        self._known_states: set[str] = set()

    def begin(self) -> ProcStatsCapture:
        self.proc.cpu_percent(None)  # primes the counter; the first real reading comes 1 interval later
        self.spawn(self._run, str(self.pid))
        return self

    def _run(self, job: Job[None]) -> None:
        end = time.time() + self.duration if self.duration > 0 else float("inf")
        try:
            # a first reading right away (everything but CPU %, which needs an interval),
            # so memory, threads and connections show as soon as the capture starts
            first = True
            while first or (not job.sleep(self.interval) and time.time() < end + 1e-3):
                points = self.sample(with_cpu=not first)
                first = False
                self.put(SeriesBatch(points), samples=1)
                self.update_status(samples_per_s=1.0 / self.interval)
        except psutil.NoSuchProcess:
            err = TargetExited(f"PID {self.pid} exited; process stats kept up to its exit", "")
            self.set_error(err)
            self.update_status(message=err.message)
            self.event(EventKind.TARGET_EXITED, err.message)
        except psutil.AccessDenied:
            self.set_error(
                PermissionDenied(f"reading /proc of PID {self.pid} was refused", "run the workbench with sudo")
            )
        finally:
            with self._lock:
                self._status.running = False
                if not self._status.message or self._status.message == "sampling":
                    self._status.message = f"stopped after {self._status.samples} samples"

    def sample(self, with_cpu: bool = True) -> list[SeriesPoint]:
        """One reading of every series (raises psutil.NoSuchProcess when the target is gone)."""
        p = self.proc
        t = time.time()
        pts: list[SeriesPoint] = []
        with p.oneshot():
            if p.status() == psutil.STATUS_ZOMBIE:
                # exited but not yet reaped by its parent (e.g. our own child): gone for us
                raise psutil.NoSuchProcess(self.pid)
            if with_cpu:
                pts.append(SeriesPoint("process.cpu_percent", t, p.cpu_percent(None), "%"))
            try:
                mem = p.memory_full_info()
                pts.append(SeriesPoint("process.rss_bytes", t, float(mem.rss), "bytes"))
                pts.append(SeriesPoint("process.uss_bytes", t, float(mem.uss), "bytes"))
            except psutil.AccessDenied:
                pts.append(SeriesPoint("process.rss_bytes", t, float(p.memory_info().rss), "bytes"))
            pts.append(SeriesPoint("process.threads", t, float(p.num_threads()), "count"))
            with contextlib.suppress(psutil.AccessDenied, AttributeError):
                pts.append(SeriesPoint("process.fds", t, float(p.num_fds()), "count"))
            try:
                conns = tcp_connections(self.pid) if self._own_netns else p.net_connections(kind="tcp")
            except psutil.AccessDenied:
                conns = []
            except PermissionError:
                conns = []
            except OSError as exc:
                raise psutil.NoSuchProcess(self.pid) from exc
        est, states = connection_groups(list(conns))
        # bounded: at most MAX_REMOTES named groups for the whole capture
        for g in sorted(est, key=lambda k: -est[k]):
            if g not in self._known_groups and len(self._known_groups) < MAX_REMOTES:
                self._known_groups.add(g)
        other = sum(v for g, v in est.items() if g not in self._known_groups)
        for g in self._known_groups:
            pts.append(SeriesPoint(f"process.connections.{g}", t, float(est.get(g, 0)), "count"))
        if other:
            pts.append(SeriesPoint("process.connections.other", t, float(other), "count"))
        self._known_states.update(states)
        for s in self._known_states:
            pts.append(SeriesPoint(f"process.tcp_states.{s}", t, float(states.get(s, 0)), "count"))
        return pts
