"""Typed errors of the prometheus source: what the server did, and what to do about it."""

from __future__ import annotations

from workbench.errors import PermissionDenied, PluginError, TargetNotFound, UnsupportedTarget


class PrometheusUnreachable(TargetNotFound):
    """Nothing answers at the URL (refused, unknown host, timeout)."""


class NotPrometheus(UnsupportedTarget):
    """Something answers, but not Prometheus' HTTP API (a 404, HTML, other JSON)."""


class PrometheusAuth(PermissionDenied):
    """A login page, an SSO redirect or HTTP 401/403 in front of the server."""


class PromQLError(PluginError):
    """The server refused a query (a syntax error, an unknown function, a bad range)."""


class QuerySyntaxError(PluginError):
    """A ``NAME=PROMQL`` line that does not parse."""
