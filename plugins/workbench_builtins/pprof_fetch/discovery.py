"""What a service serves: the /debug/pprof/ index, /debug/vars (expvar), /metrics.

The pprof index is an HTML page whose table links ``NAME?debug=1`` for each profile;
we read those names rather than assume Go's list, since other runtimes serving pprof
offer fewer. Each endpoint is optional; a service with none of them is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.formats.limits import json_nesting_depth

from .client import TEXT_MAX_BYTES, HttpClient, Response, looks_like_html
from .errors import NotAProfile, ProfileNotServed, ServiceUnreachable

DISCOVERY_TIMEOUT_S = 5.0
MAX_JSON_NESTING = 64
_PROFILE_LINK = re.compile(r"""href=['"]?([A-Za-z0-9_\-]+)\?debug=1""")
# Go's index lists "profile" for CPU; a bare pprof server may not list it but serve it.
KIND_PATH = {
    "cpu": "profile",
    "heap": "heap",
    "allocs": "allocs",
    "goroutine": "goroutine",
    "mutex": "mutex",
    "block": "block",
}


@dataclass(slots=True)
class Endpoints:
    base_url: str
    profiles: set[str] = field(default_factory=set)  # names from the pprof index
    pprof_index: bool = False
    vars: bool = False
    metrics: bool = False
    notes: list[str] = field(default_factory=list)

    def serves(self, kind: str) -> bool:
        return self.pprof_index and KIND_PATH[kind] in self.profiles

    def summary(self) -> str:
        parts = []
        if self.pprof_index:
            parts.append("pprof (" + ", ".join(sorted(self.profiles)) + ")")
        if self.vars:
            parts.append("/debug/vars")
        if self.metrics:
            parts.append("/metrics")
        return ", ".join(parts) or "nothing"


def parse_pprof_index(html: str) -> set[str]:
    return set(_PROFILE_LINK.findall(html[: 1024 * 1024]))


def decode_vars(resp: Response) -> dict[str, Any]:
    """/debug/vars as a dict, refusing HTML and hostile nesting before ``json.loads`` recurses."""
    if looks_like_html(resp.content_type, resp.body):
        raise NotAProfile(
            f"{resp.url} returned an HTML page instead of expvar JSON (a login page or redirect?)",
            "point the workbench at the service's debug listener",
        )
    depth = json_nesting_depth(resp.body)
    if depth > MAX_JSON_NESTING:
        raise NotAProfile(
            f"{resp.url}: JSON nested {depth} levels deep (limit {MAX_JSON_NESTING})",
            "this is not expvar output; check the URL",
        )
    try:
        doc = json.loads(resp.body)
    except (ValueError, RecursionError) as exc:
        raise NotAProfile(f"{resp.url} is not valid JSON ({exc})", "check that the URL serves expvar") from None
    if not isinstance(doc, dict):
        raise NotAProfile(f"{resp.url} is JSON but not an object", "check that the URL serves expvar")
    return doc


def _probe(client: HttpClient, path: str, what: str) -> Response | None:
    try:
        return client.get(path, timeout_s=DISCOVERY_TIMEOUT_S, max_bytes=TEXT_MAX_BYTES, what=what)
    except ProfileNotServed:
        return None


def discover(client: HttpClient) -> Endpoints:
    """Probe the three endpoints once. Raises ServiceUnreachable/ServiceSlow if the service does not answer."""
    ep = Endpoints(client.base_url)
    first_error: WorkbenchError | None = None
    try:
        r = _probe(client, "/debug/pprof/", "pprof index")
        if r is not None:
            names = parse_pprof_index(r.text())
            if names:
                ep.pprof_index = True
                ep.profiles = names
            elif looks_like_html(r.content_type, r.body):
                moved = f" (redirected to {r.url})" if r.redirected else ""
                ep.notes.append(f"/debug/pprof/ is an HTML page without a profile list{moved}: a login page?")
    except ServiceUnreachable:
        raise
    except WorkbenchError as exc:
        first_error = exc
    for path, attr in (("/debug/vars", "vars"), ("/metrics", "metrics")):
        try:
            r = _probe(client, path, path)
        except ServiceUnreachable:
            raise
        except WorkbenchError as exc:
            first_error = first_error or exc
            continue
        if r is None:
            continue
        if looks_like_html(r.content_type, r.body):
            ep.notes.append(f"{path} is an HTML page, ignored")
            continue
        if attr == "vars":
            try:
                decode_vars(r)
            except WorkbenchError as exc:
                ep.notes.append(str(exc))
                continue
        setattr(ep, attr, True)
    if not (ep.pprof_index or ep.vars or ep.metrics):
        if first_error is not None:
            raise first_error
        hint = "; ".join(ep.notes)
        raise ProfileNotServed(
            f"{client.base_url} serves neither /debug/pprof/, /debug/vars nor /metrics"
            + (f" ({hint})" if hint else ""),
            'import _ "net/http/pprof" and "expvar" in the service, and give the base URL of that listener',
        )
    return ep
