"""Prometheus' HTTP API (``/api/v1/...``), bounded like every source, with typed errors.

Built on pprof-fetch's ``HttpClient`` (whole-exchange timeouts, a size cap on every answer,
same-host redirects only): a server behind an SSO redirect or a login page is an auth wall,
a 404 on the API is not a Prometheus server, a 400/422 with ``errorType`` is a PromQL error.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from workbench.errors import WorkbenchError
from workbench_builtins.pprof_fetch.client import HttpClient, looks_like_html
from workbench_builtins.pprof_fetch.errors import NotAProfile, ServiceUnreachable

from .errors import NotPrometheus, PrometheusAuth, PrometheusUnreachable, PromQLError

ANSWER_MAX_BYTES = 8 * 1024 * 1024  # one API answer; a query returning more is cut off, not read
MAX_JSON_NESTING = 64
_URL_FIX = "give the server's base URL, e.g. --prometheus http://127.0.0.1:9090"


class PromClient(HttpClient):
    """GETs against one Prometheus server; ``api`` returns the ``data`` of a success answer."""

    def api(self, path: str, params: dict[str, str] | None = None, *, timeout_s: float | None = None) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        try:
            resp = self.get(
                f"/api/v1/{path}{query}", max_bytes=ANSWER_MAX_BYTES, timeout_s=timeout_s, what="API answer"
            )
        except ServiceUnreachable as exc:
            raise PrometheusUnreachable(exc.message, f"check that Prometheus runs there; {_URL_FIX}") from None
        except NotAProfile as exc:  # a redirect to another host: a login in front of the server
            raise PrometheusAuth(exc.message, _AUTH_FIX) from None
        if looks_like_html(resp.content_type, resp.body):
            moved = f" (redirected to {resp.url})" if resp.redirected else ""
            raise PrometheusAuth(
                f"{self.base_url} answers the Prometheus API with an HTML page{moved}: a login page?", _AUTH_FIX
            )
        doc = _decode(self.base_url, resp.body)
        if doc.get("status") != "success":
            raise _api_error(self.base_url, doc)
        return doc.get("data")

    def _http_error(self, url: str, status: int, body: bytes, what: str) -> WorkbenchError:
        if status in (401, 403):
            return PrometheusAuth(f"{url}: HTTP {status}: the Prometheus server wants credentials", _AUTH_FIX)
        if status == 404:
            return NotPrometheus(f"{url}: 404: no Prometheus HTTP API at this URL", _URL_FIX)
        if status in (400, 422):
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "errorType" in doc:
                return _api_error(self.base_url, doc)
        return super()._http_error(url, status, body, what)


_AUTH_FIX = (
    "the workbench sends no credentials: point it at a Prometheus it can read without a login "
    "(a loopback port, an SSH tunnel, or `kubectl port-forward` to the server)"
)


def _decode(base_url: str, body: bytes) -> dict[str, Any]:
    depth = 0
    deepest = 0
    for ch in body[:1_000_000]:  # cheap nesting guard before json.loads recurses
        if ch in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in b"]}":
            depth -= 1
    if deepest > MAX_JSON_NESTING:
        raise NotPrometheus(f"{base_url}: JSON nested {deepest} levels deep", _URL_FIX)
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise NotPrometheus(f"{base_url} does not answer like a Prometheus server (not JSON)", _URL_FIX) from None
    if not isinstance(doc, dict) or "status" not in doc:
        raise NotPrometheus(f"{base_url} does not answer like a Prometheus server (no status field)", _URL_FIX)
    return doc


def _api_error(base_url: str, doc: dict[str, Any]) -> WorkbenchError:
    kind = str(doc.get("errorType") or "error")
    text = " ".join(str(doc.get("error") or "unknown error").split())[:300]
    if kind in ("bad_data", "execution"):
        return PromQLError(
            f"PromQL error ({kind}): {text}", "fix the expression; try it in Prometheus' own /graph page"
        )
    return NotPrometheus(f"{base_url}: API error {kind}: {text}", "see the Prometheus server's log")
