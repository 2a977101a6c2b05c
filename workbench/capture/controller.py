"""The one capture path: plan, consent, preflight, start, stop, pause/resume, actions, status.

The GUI, ``record``, ``leaks``, ``doctor`` and triggers all capture through here, so a rule
(which sources a target gets, which checks run first, how consent is asked, what a Stop
pressed during an attach does) is written once. No Qt: the GUI calls the blocking methods
from its job threads.

Which sources a target gets when none are named (DESIGN.md): a PID's runtime decides, from
what each plugin declares (``default_for``, ``applies_to``, ``locate``): a Go PID's pprof
source is located at the PID's own listener. A loopback URL served by a local PID also gets
that PID's series-only sources (process stats). The controller names no plugin.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import CaptureError, ConsentRequired, PluginError, UnsupportedTarget, WorkbenchError
from ..model.keys import PROFILE_KINDS
from ..model.session import EventBatch
from .api import (
    CONSENT_OPTION,
    FINDINGS,
    FLEET,
    LEAK_EVIDENCE,
    SERIES,
    URL_TARGET,
    Action,
    CaptureHandle,
    CapturePlugin,
    CaptureStatus,
    Check,
    FleetLister,
    ServiceInfo,
    Sink,
    Target,
    TargetKind,
    resolve_options,
    run_action,
)
from .namespaces import container_of
from .registry import PluginRegistry, default_registry

LEAKS = "leaks"  # the purpose whose sources feed the leak engine (``kind_options["leaks"]``)
STOP_JOIN_S = 10.0

# Answers a consent question: (plugin, the target it would change, what it will run) -> yes?
ConsentFn = Callable[[CapturePlugin, Target, str], bool]


@dataclass(frozen=True, slots=True)
class PlannedSource:
    plugin: CapturePlugin
    target: Target  # what it captures: the chosen target, or one located for it (a Go PID's URL)
    options: dict[str, Any]  # resolved against the plugin's declared options
    consent: str | None = None  # what it will run in the target; asked before it starts

    @property
    def name(self) -> str:
        return self.plugin.name


@dataclass(slots=True)
class Plan:
    target: Target  # what the user chose
    runtime: str  # python | go | node | other for a PID, "" for a URL
    sources: list[PlannedSource] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # defaults that could not be planned, and why
    served_by: int | None = None  # the local PID serving a loopback URL target
    container: str = ""  # the PID's container ("docker 3f4e5d6c7b8a", "namespaced (pid,mnt,net)"), "" on the host

    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    def add(self, plugin: CapturePlugin, target: Target, options: dict[str, Any] | None = None) -> PlannedSource:
        """A second source with a target of its own, captured into the same session (a
        Prometheus server's PromQL series beside the service's own data). It comes after the
        planned sources, so the first one stays the recording's main profile."""
        src = PlannedSource(plugin, target, resolve_options(plugin, options or {}), plugin.consent_text(target))
        self.sources.append(src)
        return src


def runtime_of(target: Target) -> str:
    if target.kind is not TargetKind.PID:
        return ""
    from .targets import detect_runtime

    return detect_runtime(target.pid).runtime


def local_pid_serving(url: str) -> int | None:
    """The PID listening on a loopback URL's port on this machine, or None."""
    import psutil

    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    host, port = parts.hostname or "", parts.port
    if port is None:
        port = 443 if parts.scheme in ("https", "wss") else 80
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr[1] == port and c.pid:
            addr = ipaddress.ip_address(c.laddr[0].split("%", 1)[0])
            if addr.is_loopback or addr.is_unspecified:
                return int(c.pid)
    return None


def _profile_kinds(plugin: CapturePlugin) -> frozenset[str]:
    return frozenset(plugin.provides) & frozenset(PROFILE_KINDS)


def _series_only(plugin: CapturePlugin) -> bool:
    return SERIES in plugin.provides and not _profile_kinds(plugin)


class CaptureController:
    """Plans and runs captures into one sink; every method but ``plan`` may be called from any
    thread, and ``start``/``stop``/``pause`` block (the GUI runs them in jobs)."""

    def __init__(self, sink: Sink, registry: PluginRegistry | None = None) -> None:
        self.sink = sink
        self.registry = registry or default_registry()
        self._lock = threading.RLock()
        self._running: list[tuple[PlannedSource, CaptureHandle]] = []
        self._plans: list[Plan] = []  # what resume re-attaches
        self._starting = 0  # starts in flight
        self._stop_epoch = 0  # bumped by stop/pause: a start begun before it stops what it attaches
        self.paused = False

    # ------------------------------------------------------------------ plugins
    def plugins(self) -> list[CapturePlugin]:
        out = []
        for entry in self.registry.load_all():
            if entry.plugin is not None and not entry.error:
                out.append(entry.plugin)
        return out

    def provider(self, what: str, doing: str = "") -> CapturePlugin:
        """The installed source that declares ``what`` in ``provides`` (``PROMQL``, ``FLEET``):
        how a flag such as ``--prometheus`` finds its plugin without naming it."""
        for p in self.plugins():
            if what in p.provides:
                return p
        raise PluginError(
            f"no installed source {doing or f'provides {what!r}'}",
            "install a plugin that does (the built-in one ships with the workbench: reinstall it)",
        )

    def list_services(self, url: str, *, probe: bool = True) -> list[ServiceInfo]:
        """The services the metrics server at ``url`` scrapes, from the installed source that
        declares ``FLEET`` (blocking network I/O: ``workbench services``, the GUI's Services view)."""
        plugin = self.provider(FLEET, "lists the services of a Prometheus server")
        if not isinstance(plugin, FleetLister):
            raise PluginError(f"{plugin.name} declares {FLEET!r} but has no list_services", "report a bug in it")
        return plugin.list_services(Target.from_url(url), probe=probe)

    # --------------------------------------------------------------------- plan
    def plan(
        self,
        target: Target,
        names: Iterable[str] | None = None,
        *,
        given: dict[str, Any] | None = None,
        per_source: dict[str, dict[str, Any]] | None = None,
        profile: str | None = None,
        purpose: str = "",
    ) -> Plan:
        """Which sources capture ``target``, with resolved options. May do I/O (runtime
        detection, locating a Go PID's listener): not on the GUI thread.

        ``given``: options by name for every source that declares them (the CLI's flags);
        ``per_source``: options of one source (the GUI's forms); ``profile``: a profile
        kind (``--profile heap``) that picks the sources providing it; ``purpose=LEAKS``:
        the sources and options that feed the leak engine.
        """
        runtime = runtime_of(target)
        plan = Plan(target, runtime)
        if target.kind is TargetKind.PID:
            plan.container = container_of(target.pid).label()
        if target.kind is TargetKind.URL:
            plan.served_by = local_pid_serving(target.value)
        served = self._served_target(plan.served_by)
        applicable = [p for p in self.plugins() if p.applies_to(target, runtime)]
        wanted: list[tuple[CapturePlugin, Target, str]] = []
        if names is not None:
            for name in dict.fromkeys(names):
                plugin = self.registry.load(name)
                if served is not None and not plugin.applies_to(target, runtime) and plugin.applies_to(*served):
                    wanted.append((plugin, *served))  # process stats of the PID behind a loopback URL
                else:
                    wanted.append((self._named(name, target, runtime), target, runtime))
        else:
            chosen = self._defaults(target, runtime)
            if profile:
                chosen = self._for_profile(profile, target, chosen, applicable)
            if purpose == LEAKS:
                chosen = self._for_leaks(chosen, applicable)
            else:
                # profiling sources first: the first source is a recording's main profile
                chosen.sort(key=_series_only)
            wanted = [(p, target, runtime) for p in chosen]
            if served is not None:
                wanted += self._served_by(*served)
        for plugin, base, base_runtime in wanted:
            located = plugin.locate(base, base_runtime)
            if located is None:
                plan.notes.append(f"{plugin.name}: nothing to capture for {base.label()}")
                continue
            opts = self._options(plugin, located, given=given, per_source=per_source, profile=profile, purpose=purpose)
            plan.sources.append(PlannedSource(plugin, located, opts, plugin.consent_text(located)))
        return plan

    def _named(self, name: str, target: Target, runtime: str) -> CapturePlugin:
        plugin = self.registry.load(name)
        if plugin.applies_to(target, runtime) or (
            target.kind is TargetKind.PID and plugin.locate(target, runtime) is not None
        ):
            return plugin
        # the source's own words first (py-spy says why a PID is not a Python process)
        failed = [c for c in self.preflight(PlannedSource(plugin, target, {})) if not c.ok]
        if failed:
            raise UnsupportedTarget(failed[0].message, failed[0].fix)
        kinds = " or ".join(sorted(f"--{k.value}" for k in plugin.targets))
        what = f"a {runtime} process" if runtime else f"a {target.kind.value}"
        raise PluginError(f"source {name!r} cannot capture {what} ({target.label()})", f"use {kinds} with it")

    def _defaults(self, target: Target, runtime: str) -> list[CapturePlugin]:
        """A PID: the sources declaring its runtime a default (one that reads another kind of
        target locates its own: a Go PID's pprof URL). A URL: the URL defaults that read it."""
        if target.kind is TargetKind.PID:
            return [p for p in self.plugins() if runtime in p.default_for]
        return [p for p in self.plugins() if URL_TARGET in p.default_for and p.applies_to(target, runtime)]

    def _for_profile(
        self, kind: str, target: Target, chosen: list[CapturePlugin], applicable: list[CapturePlugin]
    ) -> list[CapturePlugin]:
        """Profiling sources swapped for one that provides ``kind``; series sources stay."""
        keep = [p for p in chosen if not _profile_kinds(p)]
        providers = [p for p in chosen if kind in p.provides] or [p for p in applicable if kind in p.provides]
        if not providers:
            have = sorted({k for p in applicable for k in _profile_kinds(p)})
            raise PluginError(
                f"no installed source captures a {kind} profile of {target.label()}",
                f"pick one of: {', '.join(have) or 'none for this target'}",
            )
        return [providers[0], *keep]

    def _for_leaks(self, chosen: list[CapturePlugin], applicable: list[CapturePlugin]) -> list[CapturePlugin]:
        """Series sources of the defaults plus every applicable leak-evidence source (the
        caller keeps the first that consents and passes its checks: ``start_first_of``)."""
        keep = [p for p in chosen if _series_only(p) and LEAK_EVIDENCE not in p.provides]
        evidence = [p for p in chosen if LEAK_EVIDENCE in p.provides]
        evidence += [p for p in applicable if LEAK_EVIDENCE in p.provides and p not in evidence]
        # a source that also reports findings names what grows (the agent's census): it goes first
        evidence.sort(key=lambda p: FINDINGS not in p.provides)
        return evidence + keep

    @staticmethod
    def _served_target(pid: int | None) -> tuple[Target, str] | None:
        """The local process behind a loopback URL, with its runtime."""
        if pid is None:
            return None
        target = Target.from_pid(pid)
        try:
            return target, runtime_of(target)
        except WorkbenchError:
            return None

    def _served_by(self, target: Target, runtime: str) -> list[tuple[CapturePlugin, Target, str]]:
        """Series-only defaults of the local process behind a loopback URL, for that PID."""
        return [
            (p, target, runtime)
            for p in self.plugins()
            if runtime in p.default_for and _series_only(p) and p.applies_to(target, runtime)
        ]

    def _options(
        self,
        plugin: CapturePlugin,
        target: Target,
        *,
        given: dict[str, Any] | None,
        per_source: dict[str, dict[str, Any]] | None,
        profile: str | None,
        purpose: str,
    ) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if profile and profile in plugin.kind_options:
            opts.update(plugin.kind_options[profile])
        if purpose and purpose in plugin.kind_options:
            opts.update(plugin.kind_options[purpose])
        opts.update({k: v for k, v in (given or {}).items() if v is not None})
        opts.update({k: v for k, v in ((per_source or {}).get(plugin.name) or {}).items() if v is not None})
        resolved = resolve_options(plugin, opts)
        self._auto_label(plugin, target, resolved)
        return resolved

    def _auto_label(self, plugin: CapturePlugin, target: Target, opts: dict[str, Any]) -> None:
        """A second URL of one source in a session gets its host:port as label, so its series
        (``go.goroutines@127.0.0.1:6061``) do not mix with the first one's."""
        if "label" not in opts or opts["label"] or target.kind is not TargetKind.URL:
            return
        keys = getattr(self.sink, "keys", None)
        if not isinstance(keys, dict):
            return
        others = {k.target for k in list(keys.values()) if k.source == plugin.name and not k.prefix}
        if others - {target.value}:
            opts["label"] = target.value.split("://", 1)[-1].split("/", 1)[0]

    # ------------------------------------------------------------------ consent
    @staticmethod
    def ask_consent(plan: Plan, consent: ConsentFn | None) -> list[WorkbenchError]:
        """Ask for every source that would change its target; a source declined (or asked with
        no way to answer) leaves the plan. Returns the refusals, to show."""
        kept: list[PlannedSource] = []
        refused: list[WorkbenchError] = []
        for src in plan.sources:
            if src.consent is None or src.options.get(CONSENT_OPTION):
                kept.append(src)
                continue
            if consent is not None and consent(src.plugin, src.target, src.consent):
                opts = dict(src.options)
                if any(o.name == CONSENT_OPTION for o in src.plugin.options):
                    opts[CONSENT_OPTION] = True
                kept.append(replace(src, options=opts, consent=None))
                continue
            refused.append(
                ConsentRequired(
                    f"{src.name}: not started without consent ({src.consent})",
                    "answer yes when asked, or pass --yes on the command line",
                )
            )
        plan.sources = kept
        return refused

    # ---------------------------------------------------------------- preflight
    @staticmethod
    def preflight(src: PlannedSource) -> list[Check]:
        """The source's own checks; a crash in them is a failed check, not an exception."""
        try:
            return list(src.plugin.preflight(src.target))
        except WorkbenchError as exc:
            return [Check("preflight", False, exc.message, exc.fix)]
        except Exception as exc:  # a plugin bug must not hide the other sources
            return [Check("preflight", False, f"preflight crashed: {type(exc).__name__}: {exc}", "report a bug")]

    # -------------------------------------------------------------- start/stop
    def start(self, plan: Plan, *, first_only: bool = False) -> list[WorkbenchError]:
        """Preflight and start every source of ``plan`` (blocking); the errors of those that
        failed. ``first_only``: of the leak-evidence sources, only the first that starts (a
        leak plan's alternatives, in order). A stop or pause requested while this runs stops
        what it attaches, at once."""
        with self._lock:
            self._starting += 1
            epoch = self._stop_epoch
            self.paused = False
            if plan not in self._plans:
                self._plans.append(plan)
        errors: list[WorkbenchError] = []
        got_evidence = False
        try:
            for src in plan.sources:
                evidence = LEAK_EVIDENCE in src.plugin.provides
                if first_only and evidence and got_evidence:
                    continue
                failed = [c for c in self.preflight(src) if not c.ok]
                if failed:
                    errors.extend(CaptureError(f"{src.name}: {c.message}", c.fix) for c in failed)
                    continue
                try:
                    handle = src.plugin.start(src.target, dict(src.options), self.sink)
                except WorkbenchError as exc:
                    errors.append(exc)
                    continue
                got_evidence |= evidence
                with self._lock:
                    stale = epoch != self._stop_epoch
                    if not stale:
                        self._running.append((src, handle))
                if stale:
                    # Stop came while this start was attaching: what it attached is stopped now
                    with contextlib.suppress(WorkbenchError):
                        handle.stop()
                    break
        finally:
            with self._lock:
                self._starting -= 1
        return errors

    def start_first_of(self, plan: Plan) -> list[WorkbenchError]:
        """A leak plan: its series sources and the first evidence source that starts."""
        return self.start(plan, first_only=True)

    def _take_running(self) -> list[tuple[PlannedSource, CaptureHandle]]:
        with self._lock:
            self._stop_epoch += 1
            running, self._running = self._running, []
        return running

    @staticmethod
    def _stop_handles(running: list[tuple[PlannedSource, CaptureHandle]], join: bool) -> list[WorkbenchError]:
        errors: list[WorkbenchError] = []
        for src, h in running:
            try:
                h.stop()
                if join:
                    h.join(STOP_JOIN_S)
            except WorkbenchError as exc:
                errors.append(exc)
            except Exception as exc:  # a plugin bug while stopping must not keep the others running
                errors.append(CaptureError(f"{src.name}: stop failed: {type(exc).__name__}: {exc}", "report a bug"))
        return errors

    def stop(self, join: bool = False) -> list[WorkbenchError]:
        """Stop everything (blocking: captures flush); starts in flight stop what they attach."""
        with self._lock:
            self._plans.clear()
            self.paused = False
        return self._stop_handles(self._take_running(), join)

    def pause(self) -> list[WorkbenchError]:
        """Detach every source (the target runs unprofiled); ``resume`` re-attaches the same
        sources with the same options into the same sink. Both are marked on the timeline."""
        with self._lock:
            plans = list(self._plans)
            self.paused = True
        for p in plans:
            self.sink.put(EventBatch(time.time(), "capture.paused", "capture paused", p.target.label()))
        return self._stop_handles(self._take_running(), False)

    def resume(self) -> list[WorkbenchError]:
        with self._lock:
            plans = list(self._plans)
            self.paused = False
        errors: list[WorkbenchError] = []
        for p in plans:
            self.sink.put(EventBatch(time.time(), "capture.resumed", "capture resumed", p.target.label()))
            errors += self.start(p)
        return errors

    def wait_idle(self, timeout: float) -> bool:
        """Until no start is in flight (quitting waits for them, then stops what they started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._starting == 0:
                    return True
            time.sleep(0.05)
        return False

    def shutdown(self, timeout: float = STOP_JOIN_S) -> None:
        """On quit: stop every capture, including those a start in flight attaches."""
        self.stop(join=True)
        self.wait_idle(timeout)
        self.stop(join=True)

    # ----------------------------------------------------------- what runs
    @property
    def starting(self) -> bool:
        with self._lock:
            return self._starting > 0

    def running(self) -> list[tuple[PlannedSource, CaptureHandle]]:
        with self._lock:
            return list(self._running)

    def statuses(self) -> list[tuple[PlannedSource, CaptureStatus]]:
        return [(src, h.status()) for src, h in self.running()]

    def prune_ended(self) -> list[tuple[PlannedSource, CaptureStatus]]:
        """Drop sources that ended by themselves; their last statuses."""
        ended = []
        with self._lock:
            keep = []
            for src, h in self._running:
                st = h.status()
                if st.running:
                    keep.append((src, h))
                else:
                    ended.append((src, st))
            self._running = keep
        return ended

    def actions(self) -> list[tuple[str, Action]]:
        """(source, action) for every action a running source offers."""
        seen: dict[tuple[str, str], Action] = {}
        for src, _h in self.running():
            for a in src.plugin.actions:
                seen[(src.name, a.name)] = a
        return [(s, a) for (s, _n), a in seen.items()]

    def run_action(self, source: str, action: str) -> None:
        handles = [h for src, h in self.running() if src.name == source]
        if not handles:
            raise PluginError(f"{source} is not running", "start it first; actions run on a running source")
        for h in handles:
            run_action(source, h, action)
        plugin = next(src.plugin for src, _h in self.running() if src.name == source)
        label = next((a.label for a in plugin.actions if a.name == action), action)
        self.sink.put(EventBatch(time.time(), "action", f"{source}: {label.lower()} requested", source))

    # -------------------------------------------------------------- triggers
    def kind_starter(self, plan: Plan) -> Callable[[str, float, Sink], CaptureHandle]:
        """A trigger's starter: capture ``kind`` of the plan's target for N seconds into a sink,
        with the source that provides that kind (the plan's own first), after its preflight."""

        def start(kind: str, seconds: float, sink: Sink) -> CaptureHandle:
            src = self.source_for_kind(plan, kind)
            failed = [c for c in self.preflight(src) if not c.ok]
            if failed:
                raise CaptureError(f"{src.name}: {failed[0].message}", failed[0].fix)
            opts = dict(src.options) | dict(src.plugin.kind_options.get(kind, {}))
            opts |= {"duration": seconds, "cpu_seconds": max(1, round(seconds))}
            return src.plugin.start(src.target, resolve_options(src.plugin, opts), sink)

        return start

    def source_for_kind(self, plan: Plan, kind: str) -> PlannedSource:
        """The source that captures a ``kind`` profile of the plan's target."""
        for src in plan.sources:
            if kind in src.plugin.provides:
                return src
        for p in self.plugins():
            if kind in p.provides:
                located = p.locate(plan.target, plan.runtime)
                if located is not None:
                    return PlannedSource(p, located, resolve_options(p, {}), p.consent_text(located))
        raise PluginError(
            f"no installed source captures a {kind} profile of {plan.target.label()}",
            "trigger a kind this target's sources provide (cpu for a Python, Go or Node target)",
        )
