"""Find a Node process's inspector: its WebSocket URL from the PID or a URL, loopback only.

From a PID: the ports it was told to use (``--inspect[-brk|-wait][=[host:]port]`` in its
command line or ``NODE_OPTIONS``; 9229 when none is given) and the loopback ports it
actually listens on (``--inspect=127.0.0.1:0`` picks one at random), each asked for
``/json/list``. Nothing here changes the target; opening the inspector with SIGUSR1 is
``open_inspector`` and needs consent from the caller. A Node process in its own network
namespace (a container) is asked on its own loopback, through a socket made in that
namespace (``workbench.capture.namespaces``).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

from workbench.capture.namespaces import connect, in_own_net_ns
from workbench.capture.proc_net import tcp_connections
from workbench.errors import PermissionDenied, TargetNotFound, UnsupportedTarget

DEFAULT_PORT = 9229
_INSPECT_FLAG = re.compile(r"^--inspect(?:-brk|-wait|-port)?(?:=(?:(?P<host>[^:]+):)?(?P<port>\d+))?$")
_PROBE_TIMEOUT_S = 2.0
_OPEN_WAIT_S = 5.0


def is_loopback(host: str) -> bool:
    h = host.strip("[]")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _read_nul(path: Path) -> list[str]:
    try:
        return [p.decode("utf-8", "replace") for p in path.read_bytes().split(b"\0") if p]
    except FileNotFoundError:
        return []
    except PermissionError:
        return []


def check_node(pid: int) -> list[str]:
    """The command line of a Node process; refuses a PID that is gone or not Node."""
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        raise TargetNotFound(f"no process with PID {pid}", "check the PID (it may have exited)")
    argv = _read_nul(proc / "cmdline")
    try:
        exe = os.path.basename(os.readlink(proc / "exe"))
    except OSError:
        exe = os.path.basename(argv[0]) if argv else ""
    if not (exe.startswith("node") or (argv and os.path.basename(argv[0]).startswith("node"))):
        raise UnsupportedTarget(
            f"PID {pid} ({exe or 'unknown'}) is not a Node.js process",
            "pick a node process (the inspector source reads Node/TypeScript services)",
        )
    return argv


def _flag_ports(args: list[str]) -> list[int]:
    ports = []
    for a in args:
        m = _INSPECT_FLAG.match(a)
        if m:
            port = int(m.group("port")) if m.group("port") else DEFAULT_PORT
            if port:
                ports.append(port)
    return ports


def candidate_ports(pid: int, argv: list[str]) -> list[int]:
    env = _read_nul(Path(f"/proc/{pid}/environ"))
    node_options = next((e.split("=", 1)[1] for e in env if e.startswith("NODE_OPTIONS=")), "")
    ports = _flag_ports(argv) + _flag_ports(node_options.split())
    try:
        # a container's sockets are listed in its own network namespace (psutil reads ours)
        conns = tcp_connections(pid) if in_own_net_ns(pid) else psutil.Process(pid).net_connections(kind="tcp")
        for c in conns:
            if c.status == psutil.CONN_LISTEN and c.laddr and is_loopback(c.laddr[0]):
                ports.append(c.laddr[1])
    except psutil.AccessDenied as exc:
        if not ports:  # the flags named no port: without its sockets there is nothing to try
            raise PermissionDenied(
                f"cannot list the sockets of PID {pid}", "run as the same user as the target, or pass the inspector URL"
            ) from exc
    except (psutil.NoSuchProcess, FileNotFoundError) as exc:
        raise TargetNotFound(f"PID {pid} exited", "start the service again") from exc
    return list(dict.fromkeys(ports))


def _get_in_netns(pid: int, port: int, path: str) -> bytes:
    """GET http://127.0.0.1:PORT/path on the loopback of ``pid``'s network namespace."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=_PROBE_TIMEOUT_S)
    conn.sock = connect(pid, port, timeout=_PROBE_TIMEOUT_S)  # http.client then skips its own connect
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        if resp.status != 200:
            return b""
        return resp.read(1 << 20)
    finally:
        conn.close()


def list_targets(host: str, port: int, pid: int = 0) -> list[dict[str, str]]:
    """The inspector's ``/json/list`` (empty if nothing inspector-like answers there).

    ``pid``: ask on that process's own loopback (a container's network namespace).
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        if pid and in_own_net_ns(pid):
            body = _get_in_netns(pid, port, "/json/list")
        else:
            with opener.open(f"http://{host}:{port}/json/list", timeout=_PROBE_TIMEOUT_S) as r:
                body = r.read(1 << 20)
        doc = json.loads(body)
    except (OSError, urllib.error.URLError, ValueError, http.client.HTTPException):
        return []
    if not isinstance(doc, list):
        return []
    return [d for d in doc if isinstance(d, dict) and isinstance(d.get("webSocketDebuggerUrl"), str)]


def ws_url_for_pid(pid: int) -> str | None:
    """The inspector WebSocket URL of a Node PID, or None if its inspector is not open."""
    argv = check_node(pid)
    for port in candidate_ports(pid, argv):
        targets = list_targets("127.0.0.1", port, pid)
        if targets:
            return _loopback_ws(targets[0]["webSocketDebuggerUrl"])
    return None


def _loopback_ws(ws: str) -> str:
    host = urllib.parse.urlsplit(ws).hostname or ""
    if not is_loopback(host):
        raise PermissionDenied(
            f"the inspector listens on {host}, not on loopback",
            "start node with --inspect=127.0.0.1:PORT; a non-loopback inspector lets anyone run code in it",
        )
    return ws


def ws_url_from_url(url: str) -> str:
    """``ws://127.0.0.1:PORT/<id>`` as is, or ``http://127.0.0.1:PORT`` via its /json/list."""
    parts = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    if not is_loopback(host):
        raise PermissionDenied(
            f"inspector URL {url!r} is not on loopback",
            "the inspector lets a client run code in the target: reach it through 127.0.0.1 (ssh -L for remote hosts)",
        )
    if parts.scheme in ("ws", "wss"):
        return url
    port = parts.port or DEFAULT_PORT
    targets = list_targets(host, port)
    if not targets:
        raise TargetNotFound(
            f"no Node inspector answers at {host}:{port}",
            "start node with --inspect=127.0.0.1:PORT and pass that URL, or pass --pid",
        )
    return _loopback_ws(targets[0]["webSocketDebuggerUrl"])


def open_inspector(pid: int) -> str:
    """Send SIGUSR1 (Node opens its inspector on 127.0.0.1) and wait for it. Needs consent first."""
    check_node(pid)
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError as exc:
        raise TargetNotFound(f"PID {pid} exited", "start the service again") from exc
    except PermissionError as exc:
        raise PermissionDenied(f"not allowed to signal PID {pid}", "run as the same user as the target") from exc
    deadline = time.monotonic() + _OPEN_WAIT_S
    while time.monotonic() < deadline:
        ws = ws_url_for_pid(pid)
        if ws:
            return ws
        time.sleep(0.1)
    raise TargetNotFound(
        f"PID {pid} did not open its inspector within {_OPEN_WAIT_S:.0f} s of SIGUSR1",
        "port 9229 may be taken (start node with --inspect-port=127.0.0.1:0) or the process ignores SIGUSR1",
    )
