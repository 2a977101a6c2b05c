"""The workbench end of the agent's socket: handshake, heartbeat, commands, bounded reads."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from workbench.capture.namespaces import connect
from workbench.errors import CaptureError, PermissionDenied

MAX_LINE = 16 * 1024 * 1024  # a census of 200 containers is ~50 KB; anything near this is not our agent
HEARTBEAT_S = 1.0

Message = dict[str, Any]


class AgentClient:
    """One authenticated connection. ``run`` delivers every message to ``on_message``."""

    def __init__(self, port: int, token: str, connect_timeout: float = 15.0, pid: int = 0) -> None:
        """``pid``: the target, whose loopback the agent listens on (its own in a container)."""
        self.port = port
        self._sock = (
            connect(pid, port, timeout=connect_timeout)
            if pid
            else socket.create_connection(("127.0.0.1", port), timeout=connect_timeout)
        )
        self._send_lock = threading.Lock()
        self._buf = b""
        self.hello: Message = {}
        self.closed = False
        self._send({"cmd": "hello", "token": token, "protocol": 1})
        first = self._read_message(deadline=time.monotonic() + connect_timeout)
        if first is None or first.get("type") != "hello":
            self.close()
            reason = (first or {}).get("error", "no answer")
            raise PermissionDenied(f"the agent on port {port} refused the connection: {reason}", "re-inject the agent")
        self.hello = first

    def _send(self, msg: Message) -> None:
        data = json.dumps(msg).encode() + b"\n"
        with self._send_lock:
            self._sock.sendall(data)

    def command(self, cmd: str, **kw: Any) -> bool:
        try:
            self._send({"cmd": cmd, **kw})
            return True
        except OSError:
            return False

    def _read_message(self, deadline: float) -> Message | None:
        """The next JSON line, or None at EOF/deadline. Bounded: an overlong line is an error."""
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(min(left, HEARTBEAT_S))
            try:
                chunk = self._sock.recv(1 << 16)
            except TimeoutError:
                return None
            if not chunk:
                raise EOFError
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                raise CaptureError("the agent sent an oversized message", "re-inject the agent")
        line, self._buf = self._buf.split(b"\n", 1)
        msg = json.loads(line)
        if not isinstance(msg, dict):
            raise CaptureError("the agent sent a malformed message", "re-inject the agent")
        return msg

    def run(self, on_message: Callable[[Message], None], stop: threading.Event) -> str:
        """Read until ``stop`` is set or the agent goes away; pings keep the agent alive.

        Returns why it ended: "stopped", "eof" (agent gone: target exited or agent timed out), or "bye".
        """
        next_ping = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_ping:
                if not self.command("ping"):
                    return "eof"
                next_ping = now + HEARTBEAT_S
            try:
                msg = self._read_message(deadline=min(next_ping, now + 0.25))
            except (EOFError, OSError):
                return "eof"
            except ValueError:
                continue  # one malformed line; the stream stays in sync at the next newline
            if msg is None:
                continue
            if msg.get("type") == "bye":
                return "bye"
            on_message(msg)
        return "stopped"

    def detach(self, on_message: Callable[[Message], None], timeout: float = 3.0) -> bool:
        """Ask the agent to unhook and end; True once it confirmed."""
        if not self.command("detach"):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self._read_message(deadline)
            except (EOFError, OSError, CaptureError, ValueError):
                return False
            if msg is None:
                continue
            if msg.get("type") == "bye":
                return True
            on_message(msg)
        return False

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.close()
