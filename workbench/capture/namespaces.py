"""A PID in other namespaces than ours (a container, a pod, an ``unshare``): see it from the host.

What changes when a target lives in its own namespaces, and how each is bridged:

- mount: paths the target names (``/proc/PID/exe``, its maps, a file it must read) are
  in its filesystem; from here they are under ``/proc/PID/root`` (``host_path``,
  ``target_tmp``).
- network: a port the target listens on is on *its* loopback. A socket created by a
  thread that has entered ``/proc/PID/ns/net`` (``setns``) belongs to that namespace and
  stays there; connecting or listening with it reaches the target's loopback only
  (``socket_in_netns``). setns of the network namespace is per thread, so no fork and no
  other thread of the workbench is affected; it needs CAP_SYS_ADMIN (root).
- pid: the target sees other PID numbers (``NSpid`` in /proc/PID/status).

Reads /proc only; never attaches. ``container_of`` names the container from the cgroup
path (docker, containerd/Kubernetes, podman) or, for a bare ``unshare``, the namespaces.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from dataclasses import dataclass

from ..errors import PermissionDenied, TargetNotFound

KINDS = ("pid", "mnt", "net")
_CLONE_NEWNET = 0x40000000
_SETNS_TIMEOUT_S = 10.0


def _ns_inode(pid: int | str, kind: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return ""


def foreign_namespaces(pid: int) -> tuple[str, ...]:
    """Which of pid, mnt, net ``pid`` does not share with the workbench (empty: same as ours)."""
    out = []
    for kind in KINDS:
        theirs, ours = _ns_inode(pid, kind), _ns_inode("self", kind)
        if theirs and ours and theirs != ours:
            out.append(kind)
    return tuple(out)


def in_own_mount_ns(pid: int) -> bool:
    return "mnt" in foreign_namespaces(pid)


def in_own_net_ns(pid: int) -> bool:
    return "net" in foreign_namespaces(pid)


def nspids(pid: int) -> list[int]:
    """``NSpid``: the PID in each PID namespace from ours inwards; ``[pid]`` when not nested."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]] or [pid]
    except (OSError, ValueError):
        pass
    return [pid]


def pid_inside(pid: int) -> int:
    """The number the target itself sees for host PID ``pid`` (its innermost NSpid)."""
    return nspids(pid)[-1]


def host_path(pid: int, path: str) -> str:
    """``path`` as the target names it, readable from here (through /proc/PID/root when its mounts differ)."""
    if not path.startswith("/") or not in_own_mount_ns(pid):
        return path
    return f"/proc/{pid}/root{path}"


def target_tmp(pid: int) -> tuple[str, str]:
    """(host path, target path) of a temporary directory the target can read: its own /tmp."""
    if not in_own_mount_ns(pid):
        import tempfile

        d = tempfile.gettempdir()
        return d, d
    for inside in ("/tmp", "/var/tmp", "/dev/shm"):
        outside = f"/proc/{pid}/root{inside}"
        if os.path.isdir(outside) and os.access(outside, os.W_OK):
            return outside, inside
    raise PermissionDenied(
        f"no writable /tmp in the filesystem of PID {pid} (seen as /proc/{pid}/root/tmp)",
        "give the container a writable /tmp (e.g. an emptyDir or tmpfs volume) or run the workbench as root",
    )


def socket_in_netns(pid: int, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
    """A new socket in ``pid``'s network namespace (ours when it shares it).

    Made on a short-lived thread that enters the namespace, creates the socket and leaves;
    the socket keeps its namespace for life, so ``connect(("127.0.0.1", port))`` on it
    reaches the target's own loopback. Raises PermissionDenied without CAP_SYS_ADMIN.
    """
    if not in_own_net_ns(pid):
        return socket.socket(family, kind)
    result: list[socket.socket | BaseException] = []

    def enter() -> None:
        try:
            ours = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                theirs = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
                try:
                    os.setns(theirs, _CLONE_NEWNET)
                    try:
                        result.append(socket.socket(family, kind))
                    finally:
                        os.setns(ours, _CLONE_NEWNET)  # the thread ends anyway; leave it as it came
                finally:
                    os.close(theirs)
            finally:
                os.close(ours)
        except BaseException as exc:  # handed to the caller below
            result.append(exc)

    t = threading.Thread(target=enter, name=f"netns-{pid}", daemon=True)
    t.start()
    t.join(_SETNS_TIMEOUT_S)
    got = result[0] if result else TimeoutError("setns did not finish")
    if isinstance(got, socket.socket):
        return got
    if isinstance(got, FileNotFoundError | ProcessLookupError):
        raise TargetNotFound(f"PID {pid} has exited", "start the target again") from got
    raise PermissionDenied(
        f"cannot enter the network namespace of PID {pid} (/proc/{pid}/ns/net): {got}",
        "run the workbench as root (setns needs CAP_SYS_ADMIN), or run it inside the container/pod "
        "(`kubectl debug -it POD --target=CONTAINER --image=...` shares its network)",
    )


def connect(pid: int, port: int, timeout: float = 15.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:``port`` as the target sees it (its loopback, not ours)."""
    sock = socket_in_netns(pid)
    try:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass(frozen=True, slots=True)
class Container:
    runtime: str  # docker | containerd | kubernetes | podman | namespaced | ""
    name: str  # the container id (12 hex), pod uid, or the namespaces for a bare unshare
    namespaces: tuple[str, ...]

    def label(self) -> str:
        if not self.runtime:
            return ""
        return f"{self.runtime} {self.name}".strip()


_DOCKER = re.compile(r"(?:/docker/|docker-)([0-9a-f]{12,64})")
_PODMAN = re.compile(r"libpod-(?:conmon-)?([0-9a-f]{12,64})")
_CRI = re.compile(r"(?:cri-containerd-|crio-|containerd-)([0-9a-f]{12,64})")
_POD = re.compile(r"kubepods[^/]*/(?:[^/]*/)?(?:kubepods-[a-z]+-)?pod([0-9a-f_\-]{8,40})")
_MAX_CGROUP = 64 * 1024


def parse_cgroup(text: str) -> tuple[str, str]:
    """(runtime, id) from /proc/PID/cgroup text; ("", "") when it names no container."""
    text = text[:_MAX_CGROUP]
    pod = _POD.search(text)
    for rx, runtime in ((_PODMAN, "podman"), (_DOCKER, "docker"), (_CRI, "containerd")):
        m = rx.search(text)
        if m:
            cid = m.group(1)[:12]
            if pod:
                return "kubernetes", f"pod {pod.group(1).replace('_', '-')[:36]} container {cid}"
            return runtime, cid
    if pod:
        return "kubernetes", f"pod {pod.group(1).replace('_', '-')[:36]}"
    return "", ""


def container_of(pid: int) -> Container:
    """The container ``pid`` runs in, from its cgroup path, else its own namespaces, else none."""
    ns = foreign_namespaces(pid)
    try:
        with open(f"/proc/{pid}/cgroup") as fh:
            theirs = fh.read(_MAX_CGROUP)
    except OSError:
        theirs = ""
    ours = ""
    with contextlib.suppress(OSError), open("/proc/self/cgroup") as fh:
        ours = fh.read(_MAX_CGROUP)
    runtime, cid = parse_cgroup(theirs)
    if runtime and parse_cgroup(ours) != (runtime, cid):
        return Container(runtime, cid, ns)
    if ns:
        return Container("namespaced", "(" + ",".join(ns) + ")", ns)
    return Container("", "", ns)
