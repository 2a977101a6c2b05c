"""Find a Go process's own net/http/pprof listener among its listening TCP sockets.

Only the process's own LISTEN sockets are looked at (never a port scan), and only those
reachable on loopback: a listener on 127.0.0.1/::1, or on every address (0.0.0.0, ::),
which is probed on 127.0.0.1. Each probe is one GET of ``/debug/pprof/`` with a short
timeout and a small read cap; the first answer that lists profiles wins.
"""

from __future__ import annotations

import contextlib
import ipaddress
import urllib.error
import urllib.request

import psutil

from .discovery import parse_pprof_index

PROBE_TIMEOUT_S = 1.0
PROBE_MAX_BYTES = 256 * 1024  # Go's index page is ~2 KiB
MAX_PROBES = 16  # a process listening on more ports than this is probed on its first ones
_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "127.0.0.1", "": "127.0.0.1"}


def loopback_host(ip: str) -> str | None:
    """The address to reach a listener bound to ``ip`` from here on loopback, or None."""
    if ip in _WILDCARD:
        return _WILDCARD[ip]
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
    if mapped is not None:  # ::ffff:127.0.0.1
        addr = mapped
    if not addr.is_loopback:
        return None
    return f"[{addr}]" if addr.version == 6 else str(addr)


def listening_ports(pid: int) -> list[tuple[str, int]]:
    """(host to probe, port) of each loopback-reachable TCP listener of ``pid``, by port."""
    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return []
    seen: dict[int, str] = {}
    for c in conns:
        if c.status != psutil.CONN_LISTEN or not c.laddr:
            continue
        host = loopback_host(str(c.laddr[0]))
        port = int(c.laddr[1])
        # one probe per port: an IPv4 loopback address is preferred to [::1]
        if host is not None and (port not in seen or seen[port].startswith("[")):
            seen[port] = host
    return sorted(((h, p) for p, h in seen.items()), key=lambda hp: hp[1])


def serves_pprof(base_url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """True if ``base_url``/debug/pprof/ answers with Go's profile index."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a local port: never a proxy
    try:
        with opener.open(base_url + "/debug/pprof/", timeout=timeout_s) as resp:
            if resp.status != 200:
                return False
            body = resp.read(PROBE_MAX_BYTES)
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return bool(parse_pprof_index(body.decode("utf-8", "replace")))


def find_pprof_url(pid: int, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """The base URL of ``pid``'s own net/http/pprof listener, or None when it serves none."""
    for host, port in listening_ports(pid)[:MAX_PROBES]:
        url = f"http://{host}:{port}"
        with contextlib.suppress(Exception):  # a probe that fails in any way is a port without pprof
            if serves_pprof(url, timeout_s):
                return url
    return None
