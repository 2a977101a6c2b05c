"""Every built-in plugin declares the whole contract, and the declarations give DESIGN.md's
default rule: a PID's runtime picks its sources, a URL is pprof's unless it is an inspector's."""

from __future__ import annotations

import pytest

from workbench.capture import (
    ANY_RUNTIME,
    FINDINGS,
    LEAK_EVIDENCE,
    RUNTIMES,
    SERIES,
    URL_TARGET,
    PluginBase,
    Target,
    default_registry,
)
from workbench.capture.registry import REQUIRED
from workbench.model import PROFILE_KINDS

BUILTINS = ("pyspy", "procstats", "memray", "pprof", "agent", "inspector")


@pytest.fixture(scope="module")
def plugins() -> dict[str, PluginBase]:
    reg = default_registry()
    out = {}
    for name in BUILTINS:
        plugin = reg.load(name)
        assert isinstance(plugin, PluginBase), name
        out[name] = plugin
    return out


def test_every_declaration_is_made_and_valid(plugins: dict[str, PluginBase]) -> None:
    for name, p in plugins.items():
        assert all(hasattr(p, a) for a in REQUIRED), name
        assert p.name == name and p.title
        assert p.runtimes <= {*RUNTIMES, ANY_RUNTIME}, name
        assert p.provides <= {*PROFILE_KINDS, SERIES, FINDINGS, LEAK_EVIDENCE}, name
        assert p.default_for <= {*RUNTIMES, URL_TARGET}, name
        assert set(p.kind_options) <= {*PROFILE_KINDS, "leaks"}, name
        known = {o.name for o in p.options}
        for kind, opts in p.kind_options.items():
            assert kind == "leaks" or kind in p.provides, (name, kind)
            assert set(opts) <= known, (name, kind, set(opts) - known)
        for o in p.options:
            assert o.label and o.help, (name, o.name)
        if "leaks" in p.kind_options and name != "procstats":
            assert LEAK_EVIDENCE in p.provides, name


def _defaults(plugins: dict[str, PluginBase], target: Target, runtime: str) -> set[str]:
    key = URL_TARGET if target.kind.value == "url" else runtime
    return {n for n, p in plugins.items() if key in p.default_for and p.applies_to(target, runtime)}


def test_default_sources_follow_the_runtime(plugins: dict[str, PluginBase]) -> None:
    pid = Target.from_pid(1234)
    assert _defaults(plugins, pid, "python") == {"pyspy", "procstats"}
    assert _defaults(plugins, pid, "go") == {"pprof", "procstats"}
    assert _defaults(plugins, pid, "node") == {"inspector", "procstats"}
    assert _defaults(plugins, pid, "other") == {"procstats"}
    assert _defaults(plugins, Target.from_url("http://127.0.0.1:6060"), "") == {"pprof"}
    assert _defaults(plugins, Target.from_url("ws://127.0.0.1:9229/abc"), "") == {"inspector"}
    assert _defaults(plugins, Target.from_url("http://127.0.0.1:9229/json/list"), "") == {"inspector"}


def test_only_sources_that_change_the_target_ask_consent(plugins: dict[str, PluginBase]) -> None:
    url = Target.from_url("http://127.0.0.1:6060")
    for name, p in plugins.items():
        assert p.consent_text(url) is None, name
    pid = Target.from_pid(1)  # init: not a Python or Node process, nothing is run to find out more
    assert plugins["agent"].consent_text(pid)
    for name in ("pyspy", "procstats", "memray", "pprof"):
        assert plugins[name].consent_text(pid) is None, name
