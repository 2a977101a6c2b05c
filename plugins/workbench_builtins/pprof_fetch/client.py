"""A polite HTTP client for one service: timeouts, a streamed size cap, backoff.

The stdlib's http.client is enough: requests are plain GETs to one base URL. It is used
directly (not through urllib) so ``abort()`` can shut the socket while a CPU profile
request still waits for its headers, which Go sends only when the profile is done.
Redirects are followed on the same host only. No proxy is used: debug listeners are
reached directly. Every failure is turned into a typed error from ``errors.py`` naming
the URL, so a live capture can show it and keep going, and the CLI can print it as one line.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

from workbench.errors import WorkbenchError

from .errors import (
    NotAProfile,
    ProfileNotServed,
    ProfilerBusy,
    ResponseTooLarge,
    ServiceHttpError,
    ServiceSlow,
    ServiceUnreachable,
    TruncatedResponse,
)

MiB = 1024 * 1024
# Profiles of big services run to tens of MiB; more than this is a mistake or an attack.
DEFAULT_MAX_BYTES = 64 * MiB
TEXT_MAX_BYTES = 16 * MiB
DEFAULT_TIMEOUT_S = 10.0
# A CPU profile answers only after ``seconds``; allow this much on top for a busy service.
CPU_TIMEOUT_SLACK_S = 10.0
_CHUNK = 64 * 1024
MAX_REDIRECTS = 5
_BUSY_TEXT = "cpu profiling already in use"


def normalize_base_url(url: str) -> str:
    """``http://h:6060/debug/pprof/`` and ``h:6060`` both become ``http://h:6060``."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServiceUnreachable(
            f"{url!r} is not an http(s) URL", "give the service's base URL, e.g. http://127.0.0.1:6060"
        )
    path = parts.path.rstrip("/")
    for suffix in ("/debug/pprof", "/debug/vars", "/metrics"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


@dataclass(frozen=True, slots=True)
class Response:
    url: str  # final URL after redirects
    status: int
    content_type: str
    body: bytes
    elapsed_s: float
    requested_url: str = ""

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def redirected(self) -> bool:
        return bool(self.requested_url) and self.url != self.requested_url


def looks_like_html(content_type: str, body: bytes) -> bool:
    if "html" in content_type.lower():
        return True
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


class HttpClient:
    """GETs against one base URL. Thread-safe; each call is one request, never retried here."""

    def __init__(self, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = normalize_base_url(base_url)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._conns: set[http.client.HTTPConnection] = set()
        self._aborted = False
        self.requests = 0
        self.bytes_read = 0

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def get(
        self,
        path: str,
        *,
        timeout_s: float | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        first_line_only: bool = False,
        what: str = "response",
    ) -> Response:
        """One GET. ``timeout_s`` bounds the whole exchange, not just each socket read.

        The body is streamed in chunks and refused once it passes ``max_bytes``, so a
        2 GB answer costs at most the cap in memory.
        """
        url = self.url(path)
        total = self.timeout_s if timeout_s is None else timeout_s
        t_start = time.monotonic()
        deadline = t_start + total
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            result = self._exchange(url, current, deadline, total, max_bytes, first_line_only, what)
            if isinstance(result, Response):
                return Response(
                    result.url, result.status, result.content_type, result.body, time.monotonic() - t_start, url
                )
            current = result  # a same-host redirect: follow it within the same deadline
        raise NotAProfile(f"{url}: more than {MAX_REDIRECTS} redirects", "point the workbench at the debug listener")

    def _exchange(  # noqa: PLR0917 (one request of get(); split out to keep get() readable)
        self,
        url: str,
        current: str,
        deadline: float,
        total: float,
        max_bytes: int,
        first_line_only: bool,
        what: str,
    ) -> Response | str:
        """One request/response; a str is the next URL of a redirect."""
        parts = urllib.parse.urlsplit(current)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, timeout=total, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=total)
        with self._lock:
            if self._aborted:
                raise ServiceUnreachable(f"{url}: capture stopped", "start the capture again")
            self._conns.add(conn)
            self.requests += 1
        buf = bytearray()
        try:
            try:
                conn.request(
                    "GET", target, headers={"User-Agent": "profiling-workbench", "Accept-Encoding": "identity"}
                )
                resp = conn.getresponse()
            except TimeoutError as exc:
                raise self._slow(url, total) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(url, exc) from exc
            status = int(resp.status)
            if status in (301, 302, 303, 307, 308):
                return self._redirect(url, current, resp.getheader("Location") or "")
            if status >= 400:
                body = b""
                with contextlib.suppress(OSError, http.client.HTTPException):
                    body = resp.read(4096)
                raise self._http_error(url, status, body, what)
            ctype = resp.getheader("Content-Type", "") or ""
            length = resp.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise self._too_large(url, int(length), max_bytes, announced=True)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._slow(url, total)
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.05, remaining))
                if first_line_only:
                    buf += resp.readline(_CHUNK)
                    break
                chunk = resp.read1(_CHUNK)
                if not chunk:
                    break
                buf += chunk
                if len(buf) > max_bytes:
                    raise self._too_large(url, len(buf), max_bytes, announced=False)
        except http.client.IncompleteRead as exc:
            raise TruncatedResponse(
                f"{url}: the connection closed after {len(exc.partial)} bytes of the {what}",
                "the service crashed or a proxy cut the response; try again",
            ) from None
        except WorkbenchError:
            raise
        except TimeoutError as exc:
            raise self._slow(url, total) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # ValueError: the response was closed under us by abort()
            raise self._unreachable(url, exc) from exc
        finally:
            with self._lock:
                self._conns.discard(conn)
                self.bytes_read += len(buf)
            conn.close()
        if length is not None and length.isdigit() and not first_line_only and len(buf) < int(length):
            raise TruncatedResponse(
                f"{url}: got {len(buf)} of {length} bytes of the {what}",
                "the service crashed or a proxy cut the response; try again",
            )
        return Response(current, status, ctype, bytes(buf), 0.0, url)

    def _redirect(self, url: str, current: str, location: str) -> str:
        """Follow redirects on the same host only: a profiler must not wander off to an SSO host."""
        new = urllib.parse.urljoin(current, location)
        old_p, new_p = urllib.parse.urlsplit(current), urllib.parse.urlsplit(new)
        if not location or (old_p.scheme, old_p.netloc) != (new_p.scheme, new_p.netloc):
            raise NotAProfile(
                f"{url} redirects to another host ({new_p.scheme}://{new_p.netloc}), likely a login page",
                "point the workbench at the service's debug listener, which must not require a login",
            )
        return new

    def abort(self) -> None:
        """Shut in-flight sockets (from another thread) and refuse new requests: a stop must not
        wait for a CPU profile that still has seconds to run."""
        with self._lock:
            self._aborted = True
            conns = list(self._conns)
        for conn in conns:
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)

    def interrupt(self) -> None:
        """Shut the requests in flight but keep accepting new ones (another CPU capture of the
        same service takes the profiler: ``cputurns``)."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            if conn.sock is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------ errors
    def _unreachable(self, url: str, reason: object) -> ServiceUnreachable:
        text = str(reason)
        if isinstance(reason, ConnectionRefusedError) or "refused" in text.lower():
            return ServiceUnreachable(
                f"{url}: connection refused (nothing listens there)",
                "start the service or check the host and port of its debug listener",
            )
        if isinstance(reason, TimeoutError):
            return self._slow(url, self.timeout_s)  # type: ignore[return-value]
        if isinstance(reason, socket.gaierror):
            return ServiceUnreachable(f"{url}: unknown host ({reason})", "check the host name in the URL")
        return ServiceUnreachable(
            f"{url}: cannot reach the service ({text})", "check the URL and that the service runs"
        )

    def _slow(self, url: str, timeout_s: float) -> ServiceSlow:
        return ServiceSlow(
            f"{url}: no complete answer within {timeout_s:.0f} s",
            "the service is overloaded or stuck; the workbench backs off, or raise the timeout option",
        )

    def _too_large(self, url: str, n: int, cap: int, *, announced: bool) -> ResponseTooLarge:
        how = f"announces {n} bytes" if announced else f"passed {n} bytes"
        return ResponseTooLarge(
            f"{url}: response {how}, over the {cap // MiB} MiB cap; reading stopped",
            "this is not a normal profile size; check the URL, or raise the max_mb option if it is genuine",
        )

    def _http_error(self, url: str, status: int, body: bytes, what: str) -> WorkbenchError:
        text = " ".join(body.decode("utf-8", errors="replace").split())[:200]
        if status == 500 and _BUSY_TEXT in text.lower():
            return ProfilerBusy(
                f"{url}: the service is already taking a CPU profile for another client ({text})",
                "Go allows one CPU profile at a time: wait for the other `go tool pprof` or workbench to finish",
                status=status,
            )
        if status == 404:
            return ProfileNotServed(
                f"{url}: 404 not found: the service does not serve this {what}",
                'import _ "net/http/pprof" (and expvar) in the service, or check the base URL',
            )
        if status in (401, 403):
            return ServiceHttpError(
                f"{url}: HTTP {status}: the endpoint needs authentication",
                "expose the debug endpoints on a loopback listener without auth",
                status=status,
            )
        detail = f": {text}" if text and not looks_like_html("", body) else ""
        return ServiceHttpError(
            f"{url}: HTTP {status}{detail}",
            "see the service's logs; the workbench retries with backoff",
            status=status,
        )


class Backoff:
    """Poll spacing that stretches when the service is slow or failing and relaxes after.

    ``delay()`` is how long to wait before the next request: the base interval while
    answers are quick, doubling (to ``max_s``) on each error or slow answer, halving back
    on each quick success. Never below ``base_s``, so no request storms.
    """

    def __init__(self, base_s: float, max_s: float = 30.0, slow_s: float = 2.0) -> None:
        self.base_s = base_s
        self.max_s = max(max_s, base_s)
        self.slow_s = slow_s
        self._delay = base_s

    def delay(self) -> float:
        return self._delay

    def success(self, elapsed_s: float) -> None:
        if elapsed_s > self.slow_s:
            # a slow answer means the service struggles: space requests by at least that time
            self._delay = min(self.max_s, max(self._delay * 2, elapsed_s))
        else:
            self._delay = max(self.base_s, self._delay / 2)

    def failure(self) -> None:
        self._delay = min(self.max_s, max(self._delay * 2, 1.0))

    @property
    def backing_off(self) -> bool:
        return self._delay > self.base_s
