"""``doctor --pid``'s checks for a target in other namespaces than the workbench (a container).

Each step the sources take across a namespace is checked on its own, with a fix: the
target's filesystem through /proc/PID/root, its network namespace (setns, for the agent
and the Node inspector), the PIDs it sees (NSpid), and whether the workbench itself
shares the host's PID namespace (else it cannot see other containers at all).
"""

from __future__ import annotations

import os
from typing import Any

from ..capture.namespaces import container_of, nspids, parse_cgroup, socket_in_netns
from ..errors import WorkbenchError

_K8S_FIX = (
    "run the workbench on the node (host PID namespace), or beside the pod: "
    "`kubectl debug -it POD --target=CONTAINER --image=IMAGE-WITH-WORKBENCH --profile=sysadmin`; "
    "with Docker: `docker run --pid=container:NAME --cap-add=SYS_PTRACE ...`"
)


def _row(name: str, ok: bool, message: str, fix: str = "") -> dict[str, Any]:
    return {"source": "doctor", "name": name, "ok": ok, "message": message, "fix": fix}


def _own_container() -> str:
    """Why the workbench itself looks containerised ("" when it does not): its cgroup, /.dockerenv, Kubernetes."""
    try:
        with open("/proc/self/cgroup") as fh:
            runtime, cid = parse_cgroup(fh.read(64 * 1024))
    except OSError:
        runtime, cid = "", ""
    if runtime:
        return f"its cgroup names {runtime} {cid}"
    if os.path.exists("/.dockerenv"):
        return "/.dockerenv exists"
    if "KUBERNETES_SERVICE_HOST" in os.environ:
        return "KUBERNETES_SERVICE_HOST is set"
    return ""


def namespace_checks(pid: int) -> list[dict[str, Any]]:
    box = container_of(pid)
    out = []
    if not box.runtime:
        out.append(_row("namespaces", True, "the target shares the workbench's PID, mount and network namespaces"))
    else:
        out.append(
            _row(
                "namespaces",
                True,
                f"the target runs in {box.label()}; its own namespaces: {', '.join(box.namespaces) or 'none'}",
            )
        )
    why = _own_container()
    if why:
        # not a failure by itself: with --pid=host / hostPID or a shared PID namespace it sees the target
        out.append(
            _row(
                "workbench runs in a container",
                True,
                f"the workbench itself seems containerised ({why}): it sees only the processes its PID "
                "namespace shares (the host's with --pid=host / hostPID: true)",
                _K8S_FIX,
            )
        )
    if "pid" in box.namespaces:
        ids = nspids(pid)
        out.append(_row("PID translated", True, f"host PID {pid} is PID {ids[-1]} inside its namespace (NSpid {ids})"))
    if "mnt" in box.namespaces:
        root = f"/proc/{pid}/root"
        ok = os.access(f"{root}/tmp", os.W_OK) if os.path.isdir(f"{root}/tmp") else False
        out.append(
            _row(
                "container filesystem",
                ok,
                f"its files are reached at {root}/...; the agent's files go to {root}/tmp"
                if ok
                else f"cannot write {root}/tmp (the agent hands its files to the target there)",
                ""
                if ok
                else "run the workbench as root (CAP_SYS_PTRACE to read /proc/PID/root), "
                "and give the container a writable /tmp",
            )
        )
    if "net" in box.namespaces:
        try:
            socket_in_netns(pid).close()
            out.append(
                _row(
                    "container network",
                    True,
                    f"its loopback is reached by entering /proc/{pid}/ns/net (agent, Node inspector)",
                )
            )
        except WorkbenchError as exc:
            out.append(_row("container network", False, exc.message, exc.fix))
    return out
