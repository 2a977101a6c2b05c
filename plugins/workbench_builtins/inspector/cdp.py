"""A small synchronous Chrome DevTools Protocol client on ``websocket-client``.

One capture worker owns the connection and calls it sequentially, so a call sends one
request and reads until its reply arrives; events in between (we enable none that
stream) are dropped. Replies are size-capped: a profile larger than ``max_message_bytes``
ends the call with an error instead of growing the workbench without bound.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import websocket

from workbench.capture.namespaces import connect, in_own_net_ns
from workbench.errors import CaptureError, TargetExited, TargetNotFound

DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class CdpError(CaptureError):
    """The inspector answered a call with a protocol error."""


class CdpClient:
    def __init__(
        self,
        ws_url: str,
        timeout: float = 10.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        pid: int = 0,
    ) -> None:
        """``pid``: the Node process, whose loopback the URL is on (its own, in a container)."""
        self.ws_url = ws_url
        self.max_message_bytes = max_message_bytes
        self._ids = itertools.count(1)
        self.bytes_read = 0
        try:
            sock = None
            if pid and in_own_net_ns(pid):
                parts = urllib.parse.urlsplit(ws_url)
                sock = connect(pid, parts.port or 80, timeout=timeout)
            # no Origin header: the inspector accepts tools, not web pages
            self._ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True, socket=sock)
        except (OSError, websocket.WebSocketException) as exc:
            raise TargetNotFound(
                f"cannot connect to the Node inspector at {ws_url}: {exc}",
                "check the process still runs with --inspect and no other debugger holds the session",
            ) from exc

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Send one request and wait for its reply; events before it go to ``on_event`` (else dropped)."""
        mid = next(self._ids)
        msg: dict[str, Any] = {"id": mid, "method": method}
        if params:
            msg["params"] = params
        deadline = time.monotonic() + timeout
        try:
            self._ws.send(json.dumps(msg))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CaptureError(
                        f"the Node inspector did not answer {method} within {timeout:.0f} s",
                        "the target may be stopped at a breakpoint or busy; resume it and retry",
                    )
                self._ws.settimeout(left)
                raw = self._ws.recv()
                self.bytes_read += len(raw)
                if len(raw) > self.max_message_bytes:
                    raise CaptureError(
                        f"the inspector's answer to {method} is {len(raw)} bytes, over the {self.max_message_bytes} cap",
                        "profile in shorter windows or with a larger sampling interval",
                    )
                reply = json.loads(raw)
                if not isinstance(reply, dict):
                    continue
                if reply.get("id") != mid:
                    if on_event is not None and isinstance(reply.get("method"), str):
                        params_ = reply.get("params")
                        on_event(reply["method"], params_ if isinstance(params_, dict) else {})
                    continue  # an event, or a late answer to a call that timed out
                if "error" in reply:
                    err = reply["error"]
                    text = err.get("message", err) if isinstance(err, dict) else err
                    raise CdpError(f"{method} failed in the Node inspector: {text}", "check the Node version (>= 18)")
                result = reply.get("result", {})
                return result if isinstance(result, dict) else {}
        except websocket.WebSocketTimeoutException:
            raise CaptureError(
                f"the Node inspector did not answer {method} within {timeout:.0f} s",
                "the target may be stopped at a breakpoint or busy; resume it and retry",
            ) from None
        except (websocket.WebSocketConnectionClosedException, ConnectionError, BrokenPipeError) as exc:
            raise TargetExited(
                f"the Node inspector connection closed during {method} ({exc or 'closed'})",
                "the process exited or another tool took the session; what was captured is kept",
            ) from None
        except RecursionError:
            raise CaptureError(
                f"the inspector's answer to {method} is nested too deeply to decode",
                "the target's stacks are very deep; profile with a larger sampling interval",
            ) from None
        except json.JSONDecodeError as exc:
            raise CaptureError(f"the inspector sent invalid JSON for {method}: {exc.msg}", "report this") from None

    def close(self) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self._ws.close(timeout=1.0)
