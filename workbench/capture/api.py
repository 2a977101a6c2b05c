"""The plugin contract. A capture plugin is an object with these attributes and methods.

Plugins are found through the ``workbench.plugins`` entry-point group; each entry point
names a ``module:attr`` that is a ``CapturePlugin`` instance (or a zero-argument class).
Capture work happens on the plugin's own threads or child processes; the only way data
reaches the workbench is ``sink.put(batch)`` with an immutable batch from
``workbench.model`` (ProfileBatch, SeriesBatch, FindingsBatch, EventBatch).
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


def plugin_actions(plugin: object) -> tuple[Action, ...]:
    """The actions a plugin declares (none for plugins written before actions existed)."""
    return tuple(a for a in getattr(plugin, "actions", ()) or () if isinstance(a, Action))


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


@runtime_checkable
class CapturePlugin(Protocol):
    name: str
    title: str
    targets: frozenset[TargetKind]
    options: tuple[Option, ...]

    def preflight(self, target: Target) -> list[Check]: ...

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> CaptureHandle: ...


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
