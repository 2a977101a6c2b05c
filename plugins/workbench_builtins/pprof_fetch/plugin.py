"""The ``pprof`` capture plugin: a service serving net/http/pprof, by URL or by a Go PID.

A Go PID is captured through its own pprof listener, found among the process's
listening sockets (``locate``); a URL is read as given.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from workbench.capture import (
    FINDINGS,
    LEAK_EVIDENCE,
    SERIES,
    URL_TARGET,
    Check,
    Option,
    PluginBase,
    Sink,
    Target,
    TargetKind,
    resolve_options,
)
from workbench.errors import PluginError, WorkbenchError
from workbench.model.keys import ALLOCS, BLOCK, CPU, GOROUTINE, HEAP, MUTEX, WALL

from .capture import PROFILE_CHOICES, SOURCE, PprofCapture, _profile_kinds
from .client import HttpClient, normalize_base_url
from .discovery import discover
from .errors import ProfileNotServed
from .locate import find_pprof_url

_NO_LISTENER_FIX = (
    'import _ "net/http/pprof" in the service and serve http.DefaultServeMux on a local port '
    '(e.g. go http.ListenAndServe("127.0.0.1:6060", nil)), or pass --url'
)


class PprofFetchPlugin(PluginBase):
    name: str = SOURCE
    title: str = "pprof-fetch: Go net/http/pprof, expvar and Prometheus metrics by URL"
    targets: frozenset[TargetKind] = frozenset({TargetKind.URL, TargetKind.PID})
    runtimes = frozenset({"go"})  # a PID: only a Go process has a pprof listener of its own
    provides = frozenset({CPU, WALL, HEAP, ALLOCS, GOROUTINE, MUTEX, BLOCK, SERIES, FINDINGS, LEAK_EVIDENCE})
    default_for = frozenset({"go", URL_TARGET})
    kind_options: dict[str, dict[str, Any]] = {  # noqa: RUF012
        **{k: {"profile": k} for k in (CPU, WALL, HEAP, ALLOCS, GOROUTINE, MUTEX, BLOCK)},
        # `workbench leaks`: heap in use and goroutines by site, and the series, every 2 s
        "leaks": {"profile": "leaks", "interval": 2.0, "profile_interval": 2.0},
    }
    options: tuple[Option, ...] = (
        Option(
            "profile",
            str,
            "auto",
            "which profile to fetch; series are always polled",
            PROFILE_CHOICES,
            label="profile",
        ),
        Option("duration", float, 0.0, "seconds to capture; 0 runs until stopped", unit="s", label="duration"),
        Option(
            "rate",
            int,
            0,
            "CPU sampling rate; net/http/pprof always samples at 100 Hz",
            unit="Hz",
            label="sampling rate",
            advanced=True,
        ),
        Option(
            "cpu_seconds",
            int,
            5,
            "seconds per CPU profile request (fetched back to back)",
            unit="s",
            label="CPU window",
        ),
        Option(
            "wall_hz",
            float,
            20.0,
            "goroutine dumps per second for the wall profile (fewer when dumps are slow)",
            unit="Hz",
            label="wall sampling rate",
            advanced=True,
        ),
        Option(
            "wall_budget",
            float,
            2.0,
            "most of the service's time spent dumping goroutine stacks for the wall profile",
            unit="%",
            label="wall cost cap",
            advanced=True,
        ),
        Option(
            "interval",
            float,
            1.0,
            "seconds between metric polls (expvar, /metrics, goroutine count)",
            unit="s",
            label="metrics interval",
        ),
        Option(
            "profile_interval",
            float,
            5.0,
            "seconds between heap/allocs/goroutine/mutex/block fetches",
            unit="s",
            label="snapshot interval",
        ),
        Option(
            "timeout",
            float,
            10.0,
            "seconds before a request (other than a CPU profile) is given up",
            unit="s",
            label="request timeout",
            advanced=True,
        ),
        Option("max_mb", int, 64, "size cap of one response", unit="MiB", label="response cap", advanced=True),
        Option(
            "label",
            str,
            "",
            "short name of this service when a session holds several (suffixes series)",
            label="service label",
            advanced=True,
        ),
    )

    def applies_to(self, target: Target, runtime: str) -> bool:
        if target.kind is TargetKind.URL:
            # ws:// and http://host:port/json... are a Node inspector's, not a pprof listener's
            parts = urllib.parse.urlsplit(target.value if "://" in target.value else f"http://{target.value}")
            return parts.scheme in ("http", "https") and not parts.path.rstrip("/").startswith("/json")
        return super().applies_to(target, runtime)

    def locate(self, target: Target, runtime: str) -> Target | None:
        """A URL as given; a Go PID's own net/http/pprof listener (probed on loopback), or None."""
        if target.kind is TargetKind.URL:
            return target
        if target.kind is not TargetKind.PID or runtime != "go":
            return None
        url = find_pprof_url(target.pid)
        return Target.from_url(url) if url is not None else None

    def _url_target(self, target: Target) -> Target:
        """The URL to read: the target itself, or a Go PID's own listener."""
        if target.kind is TargetKind.URL:
            return target
        if target.kind is TargetKind.PID:
            found = self.locate(target, "go")
            if found is not None:
                return found
            raise ProfileNotServed(
                f"PID {target.value} has no listening socket serving /debug/pprof/", _NO_LISTENER_FIX
            )
        raise PluginError(
            f"the pprof source reads services by URL, not {target.kind.value} targets",
            "use --url http://HOST:PORT (the service's net/http/pprof listener)",
        )

    def preflight(self, target: Target) -> list[Check]:
        try:
            url = self._url_target(target)
            client = HttpClient(url.value, timeout_s=5.0)
            ep = discover(client)
        except WorkbenchError as exc:
            return [Check("pprof endpoints", False, exc.message, exc.fix)]
        checks = [Check("pprof endpoints", True, f"{ep.base_url} serves {ep.summary()}")]
        if not ep.pprof_index:
            # not a failure: series alone are worth capturing (profile=none); start() refuses a
            # profile that is not served, with its own fix
            checks.append(
                Check(
                    "pprof profiles",
                    True,
                    'no /debug/pprof/ index: only series can be read (import _ "net/http/pprof" for profiles)',
                )
            )
        return checks

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> PprofCapture:
        url = self._url_target(target)
        opts = resolve_options(self, options)
        client = HttpClient(normalize_base_url(url.value), timeout_s=float(opts["timeout"]))
        ep = discover(client)
        for asked in _profile_kinds(str(opts["profile"]), ep):
            kind = "goroutine" if asked == WALL else asked  # the wall profile samples goroutine dumps
            if not ep.serves(kind):
                if not ep.pprof_index:
                    raise ProfileNotServed(
                        f"{client.base_url} has no /debug/pprof/ index, so no {kind} profile"
                        f" (it serves {ep.summary()})",
                        'import _ "net/http/pprof" in the service, or leave --profile out to record its series only',
                    )
                raise ProfileNotServed(
                    f"{client.base_url}/debug/pprof/ does not list a {kind} profile"
                    f" (it lists {', '.join(sorted(ep.profiles))})",
                    "pick one of the listed profiles",
                )
        cap = PprofCapture(client, ep, opts, sink)
        cap._launch()
        return cap
