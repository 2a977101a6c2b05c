"""Typed errors of pprof-fetch: each says what the service did and what to do about it.

They subclass the workbench's error tree so the CLI prints them as one line and exits 2,
and the capture status can carry them while a live capture keeps retrying.
"""

from __future__ import annotations

from workbench.errors import CaptureError, FormatError, LimitExceeded, TargetNotFound, UnsupportedTarget


class ServiceUnreachable(TargetNotFound):
    """Connection refused, host unknown, or the service stopped answering."""


class ServiceSlow(CaptureError):
    """The service did not answer within the timeout."""


class ServiceHttpError(CaptureError):
    """The service answered with an HTTP error status (5xx, 401/403, ...)."""

    def __init__(self, message: str, fix: str = "", *, status: int = 0) -> None:
        super().__init__(message, fix)
        self.status = status


class ProfilerBusy(ServiceHttpError):
    """Go allows one CPU profile at a time; someone else is taking one."""


class ProfileNotServed(UnsupportedTarget):
    """404 for a profile type or endpoint: the service does not serve it."""


class NotAProfile(FormatError):
    """The service sent something else (an HTML login page, a redirect target) instead."""


class ResponseTooLarge(LimitExceeded):
    """The response passed the size cap; reading stopped at the cap."""


class TruncatedResponse(FormatError):
    """The connection closed before the announced body length arrived."""


class CorruptProfile(FormatError):
    """The body claimed to be a profile but did not decode (truncated, corrupt protobuf or gzip)."""


class ProfileEmpty(CaptureError):
    """The asked-for profile exists but holds nothing (mutex/block without their rates set)."""
