"""The plugin contract: everything the core asks a capture plugin, declared, never guessed.

Plugins are found through the ``workbench.plugins`` entry-point group; each entry point
names a ``module:attr`` that is a ``CapturePlugin`` instance (or a zero-argument class).
``PluginBase`` gives every optional declaration its default, so a plugin states only what
differs. The core (GUI, ``record``, ``leaks``, ``doctor``, triggers) plans captures from
these declarations alone (``workbench.capture.controller``): it names no plugin.

Capture work happens on the plugin's own threads or child processes; the only way data
reaches the workbench is ``sink.put(batch)`` with an immutable batch from
``workbench.model`` (ProfileBatch, SeriesBatch, FindingsBatch, EventBatch). A
``ProfileBatch`` carries a ``ProfileKey`` whose ``kind`` says what it holds (cpu, heap,
goroutine, ...): consumers dispatch on that kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ..errors import WorkbenchError
from ..model.session import Batch


class TargetKind(StrEnum):
    PID = "pid"
    URL = "url"
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    value: str  # the PID as text, the base URL, or a path

    @property
    def pid(self) -> int:
        return int(self.value)

    def label(self) -> str:
        return f"{self.kind.value}:{self.value}"

    @classmethod
    def from_pid(cls, pid: int) -> Target:
        return cls(TargetKind.PID, str(pid))

    @classmethod
    def from_url(cls, url: str) -> Target:
        return cls(TargetKind.URL, url.rstrip("/"))


@dataclass(frozen=True, slots=True)
class Option:
    """A typed option shown in the GUI and as ``--name`` in the CLI."""

    name: str
    type: type  # int, float, bool or str
    default: Any
    help: str = ""
    choices: tuple[str, ...] = ()
    unit: str = ""  # shown next to the editor: "Hz", "s", "MiB"
    advanced: bool = False  # rarely changed: folded away in the GUI until asked for
    label: str = ""  # what the GUI calls it ("sampling rate"); the name when empty


@dataclass(frozen=True, slots=True)
class Action:
    """A one-off request to a running capture, such as a full heap snapshot.

    A plugin declares them in an optional ``actions`` tuple; its handle then has
    ``run_action(name)``. The GUI shows one button per action while the capture runs, the
    CLI takes ``record --action NAME[@SECONDS]``. ``run_action`` only asks (it must not
    block: the GUI calls it on its thread); the result reaches the session as batches.
    """

    name: str
    label: str
    help: str = ""


def plugin_actions(plugin: CapturePlugin | None) -> tuple[Action, ...]:
    """The actions a plugin declares."""
    return tuple(plugin.actions) if plugin is not None else ()


def run_action(plugin_name: str, handle: object, action: str) -> None:
    """Ask a running capture for ``action``; a typed error if it offers no such thing."""
    from ..errors import PluginError

    fn = getattr(handle, "run_action", None)
    if not callable(fn):
        raise PluginError(f"{plugin_name}: this capture takes no actions", "run the action on a source that lists it")
    fn(action)


@dataclass(frozen=True, slots=True)
class Check:
    """One preflight result; a failed check always carries a fix."""

    name: str
    ok: bool
    message: str
    fix: str = ""


class Sink(Protocol):
    def put(self, batch: Batch) -> None: ...


@dataclass(slots=True)
class CaptureStatus:
    running: bool = True
    samples: int = 0
    samples_per_s: float = 0.0
    coverage: float | None = None  # samples received / expected at the chosen rate
    batches: int = 0
    dropped_batches: int = 0
    started: float = 0.0
    message: str = ""
    error: WorkbenchError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> CaptureStatus:
        """A snapshot for another thread (the GUI polls it while the worker updates the original)."""
        return replace(self, extra=dict(self.extra))


@runtime_checkable
class CaptureHandle(Protocol):
    def stop(self) -> None:
        """Stop capturing, flush what was captured into the sink, release the target."""

    def status(self) -> CaptureStatus: ...

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the capture has ended by itself (duration, target exit); True if ended."""


# Runtimes a PID can be (``workbench.capture.targets.detect_runtime``), and the key a URL
# target is planned under (a URL's runtime is not known before a source reads it).
RUNTIMES = ("python", "go", "node", "other")
URL_TARGET = "url"
ANY_RUNTIME = "*"

# What a source provides besides profile kinds (``workbench.model.keys.PROFILE_KINDS``):
SERIES = "series"  # time series (process stats, memstats, GC, pools)
FINDINGS = "findings"  # findings (census of containers, pool saturation)
LEAK_EVIDENCE = "leak-evidence"  # snapshots the leak engine judges growth from
# A source that reads a metrics server (Prometheus' HTTP API) by its URL: given NAME=PROMQL
# lines in its QUERIES_OPTION, it adds series NAME (one per returned label set) to the session.
# ``record --prometheus URL --query ...`` and the GUI's query box plan it beside the target's own
# sources (``Plan.add``), found by this declaration, never by name.
PROMQL = "promql"
QUERIES_OPTION = "queries"
# A source that lists the services a metrics server scrapes (``workbench services``, the GUI's
# Services view): it implements ``FleetLister.list_services``.
FLEET = "fleet"
# the option through which a source that changes its target receives the user's yes
CONSENT_OPTION = "yes"


@runtime_checkable
class CapturePlugin(Protocol):
    """What the core asks of a plugin. Subclass ``PluginBase`` for the defaults."""

    name: str
    title: str  # "Python CPU (py-spy)": short part before " (" is the label, the rest a tooltip
    targets: frozenset[TargetKind]  # PID and/or URL
    runtimes: frozenset[str]  # runtimes of a PID it reads (RUNTIMES, or ANY_RUNTIME)
    options: tuple[Option, ...]
    actions: tuple[Action, ...]
    provides: frozenset[str]  # profile kinds (cpu, wall, heap, goroutine...), SERIES, FINDINGS
    default_for: frozenset[str]  # runtimes (and URL_TARGET) it is a default source for
    # the options that make it capture one profile kind for a trigger or a --profile choice
    kind_options: dict[str, dict[str, Any]]

    def consent_text(self, target: Target) -> str | None:
        """None when the source leaves the target as it is; else what it will run there,
        shown before an explicit yes (GUI dialog, CLI prompt or --yes)."""

    def applies_to(self, target: Target, runtime: str) -> bool:
        """Whether it can capture ``target`` (``runtime`` is "" for a URL)."""

    def locate(self, target: Target, runtime: str) -> Target | None:
        """The target it captures for ``target``: itself, another (a Go PID's own pprof URL,
        found among its listening sockets), or None when there is none. May do I/O."""

    def preflight(self, target: Target) -> list[Check]: ...

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> CaptureHandle: ...


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """One service a metrics server scrapes; None where the server does not know."""

    job: str
    instance: str
    url: str  # the base URL to attach to (its scrape URL without the metrics path)
    health: str  # "up", "down" or "unknown", as the server last saw it
    last_scrape: str = ""  # ISO time of the last scrape
    serves_pprof: bool | None = None  # whether it serves /debug/pprof/ (probed once)
    runtime: str = ""  # go, python, node... when its metrics say
    p99_s: float | None = None
    cpu: float | None = None  # cores in use now (rate of process CPU seconds)
    rss_bytes: float | None = None
    error: str = ""  # the server's last scrape error

    def contract_dict(self) -> dict[str, Any]:
        """The ``services --json`` shape (DESIGN.md)."""
        return {
            "job": self.job,
            "instance": self.instance,
            "url": self.url,
            "health": self.health,
            "last_scrape": self.last_scrape,
            "serves_pprof": self.serves_pprof,
            "runtime": self.runtime or None,
            "p99_s": self.p99_s,
            "cpu": self.cpu,
            "rss_bytes": self.rss_bytes,
        }


@runtime_checkable
class FleetLister(Protocol):
    """What a plugin declaring ``FLEET`` in ``provides`` implements besides the contract."""

    def list_services(self, target: Target, *, probe: bool = True) -> list[ServiceInfo]:
        """The services the server at ``target`` scrapes; ``probe``: ask each once whether it
        serves /debug/pprof/. Blocking network I/O: not on the GUI thread."""


class PluginBase:
    """Defaults for every optional declaration of ``CapturePlugin``."""

    name: str = ""
    title: str = ""
    targets: frozenset[TargetKind] = frozenset({TargetKind.PID})
    runtimes: frozenset[str] = frozenset({ANY_RUNTIME})
    options: tuple[Option, ...] = ()
    actions: tuple[Action, ...] = ()
    provides: frozenset[str] = frozenset()
    default_for: frozenset[str] = frozenset()
    kind_options: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (read-only by contract)

    def consent_text(self, target: Target) -> str | None:
        return None

    def applies_to(self, target: Target, runtime: str) -> bool:
        if target.kind not in self.targets:
            return False
        if target.kind is TargetKind.URL:
            return True
        return ANY_RUNTIME in self.runtimes or runtime in self.runtimes

    def locate(self, target: Target, runtime: str) -> Target | None:
        return target if self.applies_to(target, runtime) else None

    def preflight(self, target: Target) -> list[Check]:
        return []

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> CaptureHandle:
        raise NotImplementedError  # every plugin implements start; the base only types it


def plugin_title(plugin: CapturePlugin) -> str:
    return plugin.title or plugin.name


def short_title(plugin: CapturePlugin) -> str:
    """The label part of the title ("Python CPU"); the whole title is the tooltip."""
    title = plugin_title(plugin)
    short = title.split(" (", 1)[0].split(": ", 1)[0]
    return short if short == plugin.name else f"{short} ({plugin.name})"


def resolve_options(plugin: CapturePlugin, given: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled in, unknown names refused, values converted to the declared type."""
    from ..errors import PluginError

    known = {o.name: o for o in plugin.options}
    out: dict[str, Any] = {o.name: o.default for o in plugin.options}
    for k, v in given.items():
        if v is None:
            continue
        opt = known.get(k)
        if opt is None:
            continue  # options of other sources in the same CLI call
        try:
            val = opt.type(v) if not (opt.type is bool and isinstance(v, str)) else v.lower() in ("1", "true", "yes")
        except (TypeError, ValueError) as exc:
            raise PluginError(
                f"{plugin.name}: option {k}={v!r} is not a {opt.type.__name__}", "pass a valid value"
            ) from exc
        if opt.choices and val not in opt.choices:
            raise PluginError(
                f"{plugin.name}: option {k}={v!r} not one of {', '.join(opt.choices)}", "pick one of those"
            )
        out[k] = val
    return out
