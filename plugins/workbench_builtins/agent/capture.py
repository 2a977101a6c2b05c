"""The agent's capture handle: inject, stream the agent's reports into the session, detach."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil

from workbench.capture import (
    CaptureStatus,
    HandleBase,
    Job,
    Sink,
    Target,
)
from workbench.errors import CaptureError, TargetExited, WorkbenchError
from workbench.model import EventKind, ProfileKey
from workbench.model.keys import WALL

from .client import AgentClient, Message
from .inject import Injection, inject
from .reports import ReportConverter

SOURCE = "agent"


class AgentHandle(HandleBase):
    """A running agent session; ``stop()`` detaches and leaves the target as it was."""

    def __init__(self, target: Target, options: dict[str, Any], sink: Sink) -> None:
        super().__init__(target, sink, name=SOURCE, message="injecting")
        self.options = options
        self.pid = target.pid
        self._stop = threading.Event()  # what the client's read loop watches
        # asyncio task stacks (sampled in the target) make the wall profile agent:PID:wall
        self.converter = ReportConverter(f"agent:{self.pid}", target.label(), ProfileKey(SOURCE, target.value, WALL))
        self.injection: Injection = inject(self.pid, self._agent_config(), timeout=float(options["inject_timeout"]))
        try:
            self.client = AgentClient(self.injection.port, self.injection.token, pid=self.pid)
        except (OSError, WorkbenchError):
            self.injection.cleanup()
            raise
        inj = self.injection
        self._status.message = f"agent attached (target paused {inj.stopped_s * 1000:.0f} ms)"
        self._status.extra.update(
            method=inj.method,
            port=inj.port,
            python=self.client.hello.get("python"),
            stopped_s=inj.stopped_s,
            attach_s=inj.attach_s,
            bootstrap_s=inj.bootstrap_s,
            wait_for_gil_s=inj.wait_s,
            inject_total_s=inj.total_s,
        )
        self.event(
            EventKind.AGENT_ATTACHED,
            f"runtime agent injected via {inj.method}: target paused {inj.stopped_s * 1000:.0f} ms "
            f"(bootstrap {inj.bootstrap_s * 1000:.1f} ms)",
        )
        duration = float(options.get("duration") or 0.0)
        # the duration's end is a job of its own: the reader blocks on the socket, not on a clock
        self._timer = (
            self.spawn(lambda job: self._end_after(job, duration), f"timer-{self.pid}") if duration > 0 else None
        )
        self.spawn(self._run, str(self.pid))

    def _end_after(self, job: Job[None], seconds: float) -> None:
        if not job.sleep(seconds):
            self._stop.set()

    def _agent_config(self) -> dict[str, Any]:
        o = self.options
        return {
            "interval_s": float(o["interval"]),
            "census_interval_s": float(o["census_interval"]),
            "census_budget_s": float(o["census_budget_ms"]) / 1000.0,
            "heartbeat_s": float(o["heartbeat"]),
            "min_len": int(o["min_len"]),
            "tracemalloc_frames": int(o["tracemalloc"]),
            "fill_sites": bool(o.get("fill_sites", True)),
            "async_rate_hz": float(o.get("async_rate", 10.0)),
        }

    def _deliver(self, msg: Message) -> None:
        for batch in self.converter.convert(msg):
            self.sink.put(batch)
        with self._lock:
            st = self._status
            st.batches += 1
            st.samples += 1
            if msg.get("type") == "census":
                st.extra["censuses"] = self.converter.censuses
                st.extra["partial_censuses"] = self.converter.partial_censuses
                st.extra["last_census_s"] = msg.get("dur_s")
            if msg.get("type") == "tasks":
                st.extra["async_task_reports"] = self.converter.task_reports
                st.extra["async_tasks_max"] = self.converter.tasks_max
            if msg.get("type") == "gc":
                agent = msg.get("agent") or {}
                st.extra["agent_cpu_s"] = agent.get("cpu_s")

    def _run(self, job: Job[None]) -> None:
        why = "stopped"
        try:
            why = self.client.run(self._deliver, self._stop)
            if why == "stopped":
                detached = self.client.detach(self._deliver)
                with self._lock:
                    self._status.extra["detached"] = detached
                if not detached:
                    self.update_status(message="agent did not confirm detach; it exits after its heartbeat timeout")
            elif why == "eof":
                # the kernel closes the socket a moment before the process turns zombie
                alive = _alive(self.pid)
                for _ in range(10):
                    if not alive:
                        break
                    time.sleep(0.1)
                    alive = _alive(self.pid)
                err: WorkbenchError = (
                    TargetExited(f"PID {self.pid} exited during capture", "what was captured is kept")
                    if not alive
                    else CaptureError(f"the agent in PID {self.pid} closed the connection", "re-attach")
                )
                self.set_error(err, first=False)
        except Exception as exc:  # shown in the status, never raised into the app
            self.set_error(CaptureError(f"agent connection failed: {exc}", "re-attach"), first=False)
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self.client.close()
            self.injection.cleanup()
            self.event(EventKind.AGENT_DETACHED, f"runtime agent ended ({why})")
            with self._lock:
                self._status.running = False
                if not self._status.error and why in ("stopped", "bye"):
                    self._status.message = "agent detached"

    def stop(self) -> None:
        self._stop.set()
        self.cancel()
        self.join(10.0)

    def _refresh_status(self, st: CaptureStatus) -> None:
        elapsed = max(1e-9, time.time() - st.started)
        st.samples_per_s = st.samples / elapsed


def _alive(pid: int) -> bool:
    """False for a gone or zombie process (a dead child not yet reaped by its parent)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True
