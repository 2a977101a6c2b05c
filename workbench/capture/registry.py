"""Plugin discovery through the ``workbench.plugins`` entry-point group.

Discovery imports nothing: it lists entry points. A plugin is imported on first use,
and an import failure is recorded on its entry (shown in the GUI and ``selftest``),
never raised into the app. Built-ins go through exactly this path.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from ..errors import PluginError
from .api import CapturePlugin

GROUP = "workbench.plugins"
# everything the core asks of a plugin (``CapturePlugin``); ``PluginBase`` supplies the optional ones
REQUIRED = (
    "name",
    "title",
    "targets",
    "runtimes",
    "options",
    "actions",
    "provides",
    "default_for",
    "kind_options",
    "consent_text",
    "applies_to",
    "locate",
    "preflight",
    "start",
)


@dataclass(slots=True)
class PluginEntry:
    name: str
    value: str  # module:attr
    dist: str
    plugin: CapturePlugin | None = None
    error: str | None = None
    loaded: bool = False

    @property
    def ok(self) -> bool:
        return self.loaded and self.error is None


class PluginRegistry:
    def __init__(self, group: str = GROUP) -> None:
        self.group = group
        self._entries: dict[str, PluginEntry] | None = None
        self._eps: dict[str, EntryPoint] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[PluginEntry]:
        with self._lock:
            if self._entries is None:
                self._entries = {}
                for ep in entry_points(group=self.group):
                    if ep.name in self._entries:
                        continue  # first wins; a duplicate is a packaging mistake
                    dist = ep.dist.name if ep.dist is not None else "?"
                    self._entries[ep.name] = PluginEntry(ep.name, ep.value, dist)
                    self._eps[ep.name] = ep
            return list(self._entries.values())

    def load(self, name: str) -> CapturePlugin:
        entries = {e.name: e for e in self.entries()}
        entry = entries.get(name)
        if entry is None:
            known = ", ".join(sorted(entries)) or "none"
            raise PluginError(
                f"no capture source named {name!r} (installed: {known})", "check the name or pip install the plugin"
            )
        if not entry.loaded:
            entry.loaded = True
            try:
                obj = self._eps[name].load()
                plugin = obj() if isinstance(obj, type) else obj
                missing = [a for a in REQUIRED if not hasattr(plugin, a)]
                if missing:
                    raise TypeError(
                        f"missing {', '.join(missing)} (subclass workbench.capture.PluginBase for the defaults)"
                    )
                entry.plugin = plugin
            except Exception as exc:  # a broken plugin must never take the app down
                entry.error = f"{type(exc).__name__}: {exc}"
        if entry.plugin is None:
            raise PluginError(
                f"plugin {name!r} ({entry.value}) failed to load: {entry.error}", f"reinstall {entry.dist}"
            )
        return entry.plugin

    def load_all(self) -> list[PluginEntry]:
        for e in self.entries():
            with contextlib.suppress(PluginError):
                self.load(e.name)
        return self.entries()


@functools.cache
def default_registry() -> PluginRegistry:
    """The process-wide registry (entry points do not change while we run)."""
    return PluginRegistry()


def run_helper(target: str, args: list[str]) -> int:
    """Run a plugin's helper ``module:function`` with ``args`` (the frozen app's stand-in for
    ``python helper.py``). Only modules of registered plugins' packages may be run."""
    module, _, func = target.partition(":")
    allowed = {e.value.split(":", 1)[0].split(".", 1)[0] for e in default_registry().entries()}
    if not func or module.split(".", 1)[0] not in allowed:
        raise PluginError(f"{target!r} is not a helper of an installed plugin", "this entry is for plugins only")
    import importlib

    fn = getattr(importlib.import_module(module), func)
    return int(fn(args))
