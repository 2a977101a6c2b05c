"""The ``agent`` capture plugin: consent, preflight, inject, stream reports, detach."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import psutil

from workbench.capture.api import CaptureStatus, Check, Option, Sink, Target, TargetKind
from workbench.capture.targets import ptrace_verdict, tool_path
from workbench.errors import CaptureError, ConsentRequired, TargetExited, WorkbenchError
from workbench.model.session import EventBatch

from .client import AgentClient, Message
from .inject import REMOTE_EXEC_VERSION, Injection, inject, plan, python_version
from .reports import ReportConverter


class AgentHandle:
    """A running agent session; ``stop()`` detaches and leaves the target as it was."""

    def __init__(self, target: Target, options: dict[str, Any], sink: Sink) -> None:
        self.target = target
        self.options = options
        self.sink = sink
        self.pid = target.pid
        self._status = CaptureStatus(running=True, started=time.time(), message="injecting")
        self._stop = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.converter = ReportConverter(f"agent:{self.pid}")
        self.injection: Injection = inject(self.pid, self._agent_config(), timeout=float(options["inject_timeout"]))
        try:
            self.client = AgentClient(self.injection.port, self.injection.token)
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
        sink.put(
            EventBatch(
                time.time(),
                "agent.attached",
                f"runtime agent injected via {inj.method}: target paused {inj.stopped_s * 1000:.0f} ms "
                f"(bootstrap {inj.bootstrap_s * 1000:.1f} ms)",
                target.label(),
            )
        )
        self._thread = threading.Thread(target=self._run, name=f"wb-agent-{self.pid}", daemon=True)
        self._thread.start()

    def _agent_config(self) -> dict[str, Any]:
        o = self.options
        return {
            "interval_s": float(o["interval"]),
            "census_interval_s": float(o["census_interval"]),
            "census_budget_s": float(o["census_budget_ms"]) / 1000.0,
            "heartbeat_s": float(o["heartbeat"]),
            "min_len": int(o["min_len"]),
            "tracemalloc_frames": int(o["tracemalloc"]),
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
            if msg.get("type") == "gc":
                agent = msg.get("agent") or {}
                st.extra["agent_cpu_s"] = agent.get("cpu_s")

    def _run(self) -> None:
        duration = float(self.options.get("duration") or 0.0)
        timer = None
        if duration > 0:
            timer = threading.Timer(duration, self._stop.set)
            timer.daemon = True
            timer.start()
        why = "stopped"
        try:
            why = self.client.run(self._deliver, self._stop)
            if why == "stopped":
                detached = self.client.detach(self._deliver)
                self._status.extra["detached"] = detached
                if not detached:
                    self._status.message = "agent did not confirm detach; it exits after its heartbeat timeout"
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
                self._status.error = err
                self._status.message = err.message
        except Exception as exc:  # shown in the status, never raised into the app
            self._status.error = CaptureError(f"agent connection failed: {exc}", "re-attach")
        finally:
            if timer is not None:
                timer.cancel()
            self.client.close()
            self.injection.cleanup()
            self.sink.put(
                EventBatch(time.time(), "agent.detached", f"runtime agent ended ({why})", self.target.label())
            )
            with self._lock:
                self._status.running = False
                if not self._status.error and why in ("stopped", "bye"):
                    self._status.message = "agent detached"
            self._done.set()

    def stop(self) -> None:
        self._stop.set()
        self._done.wait(10.0)

    def status(self) -> CaptureStatus:
        with self._lock:
            st = self._status
            elapsed = max(1e-9, time.time() - st.started)
            st.samples_per_s = st.samples / elapsed
            return st.copy()

    def join(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


def _alive(pid: int) -> bool:
    """False for a gone or zombie process (a dead child not yet reaped by its parent)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


class AgentPlugin:
    name: str = "agent"
    title: str = "Python runtime agent (GC, containers, pools; injected on consent)"
    targets: frozenset[TargetKind] = frozenset({TargetKind.PID})
    needs_consent: bool = True  # the GUI asks first, showing consent_text(target)
    options: tuple[Option, ...] = (
        Option("yes", bool, False, "consent: inject the agent into the target (the CLI's --yes)"),
        Option("duration", float, 0.0, "seconds to run, 0 = until stopped"),
        Option("interval", float, 1.0, "seconds between GC and pool reports"),
        Option("census_interval", float, 5.0, "seconds between container censuses"),
        Option("census_budget_ms", float, 50.0, "time budget of one census; a cut census says so"),
        Option("min_len", int, 32, "smallest container length reported (or 16 KiB)"),
        Option(
            "tracemalloc",
            int,
            0,
            "traceback depth for tracemalloc so containers name the code that fills them; 0 = off (it slows the target)",
        ),
        Option("heartbeat", float, 10.0, "the agent exits when the workbench is silent this long"),
        Option("inject_timeout", float, 10.0, "seconds to wait for a thread of the target to release the GIL"),
    )

    def consent_text(self, target: Target) -> str:
        try:
            version = python_version(target.pid)
        except WorkbenchError:
            version = (3, 0)
        return "; ".join(plan(target.pid, version))

    def preflight(self, target: Target) -> list[Check]:
        checks: list[Check] = []
        try:
            version = python_version(target.pid)
        except WorkbenchError as exc:
            return [Check("python", False, exc.message, exc.fix)]
        checks.append(Check("python", True, f"CPython {version[0]}.{version[1]}"))
        if version < REMOTE_EXEC_VERSION:
            gdb = tool_path("gdb")
            checks.append(Check("gdb", gdb is not None, gdb or "gdb not found", "" if gdb else "apt-get install gdb"))
            v = ptrace_verdict(target.pid)
            checks.append(Check("ptrace", v.allowed, v.reason, v.fix))
        for i, step in enumerate(plan(target.pid, version), 1):
            checks.append(Check(f"will run ({i})", True, step))
        checks.append(
            Check("consent", True, "nothing is injected without an explicit yes", "the CLI needs --source agent --yes")
        )
        return checks

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> AgentHandle:
        if target.kind is not TargetKind.PID:
            raise CaptureError("the runtime agent attaches to a process by PID", "use --pid")
        opts = {o.name: o.default for o in self.options} | {k: v for k, v in options.items() if v is not None}
        if opts.get("yes") is not True:
            raise ConsentRequired(
                f"injecting the runtime agent changes process {target.pid}: {self.consent_text(target)}",
                "pass --yes (CLI) or confirm in the GUI to allow it",
            )
        return AgentHandle(target, opts, sink)


plugin = AgentPlugin()

if TYPE_CHECKING:  # mypy checks that the plugin satisfies the protocol
    from workbench.capture.api import CapturePlugin

    _check: CapturePlugin = plugin
