"""TCP sockets of a process in its own network namespace (a container), read from /proc/PID/net.

psutil reads ``/proc/net/tcp``, which is the *workbench's* namespace: a containerised
target's sockets are not there. ``/proc/PID/net/tcp`` is the target's namespace; its
lines are matched to the target's socket inodes (``/proc/PID/fd``), as psutil does.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

# /proc/net/tcp's hex states (include/net/tcp_states.h), named as psutil names them
_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}
MAX_LINES = 100_000  # a namespace with more sockets than this is read in part


class Conn(NamedTuple):
    laddr: tuple[str, int]
    raddr: tuple[str, int] | tuple[()]
    status: str


def _addr(text: str, family: int) -> tuple[str, int]:
    ip_hex, port_hex = text.split(":")
    raw = bytes.fromhex(ip_hex)
    # the kernel prints each 32-bit word in host (little-endian) order
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, packed), int(port_hex, 16)


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            link = os.readlink(f"{base}/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def tcp_connections(pid: int) -> list[Conn]:
    """The process's TCP sockets as its own namespace lists them (raises OSError if it is gone)."""
    inodes = _socket_inodes(pid)
    out: list[Conn] = []
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            fh = open(f"/proc/{pid}/net/{name}")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue  # no IPv6 in that namespace
        with fh:
            next(fh, None)  # header
            for n, line in enumerate(fh):
                if n >= MAX_LINES:
                    break
                f = line.split()
                if len(f) < 10 or f[9] not in inodes:
                    continue
                try:
                    laddr, raddr = _addr(f[1], family), _addr(f[2], family)
                except (ValueError, OSError):
                    continue
                status = _STATES.get(f[3], f[3])
                out.append(Conn(laddr, raddr if raddr[1] else (), status))
    return out
