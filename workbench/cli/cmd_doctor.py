"""``workbench doctor (--pid PID | --url URL) [--json]``: can this target be profiled?

Generic checks (process, runtime, ptrace, tools) plus every applicable plugin's own
``preflight``. Exit 0 when every check passes, 2 (one summary line on stderr) when any
fails; the report itself goes to stdout either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check that a target can be profiled, with a fix for each failure")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int)
    tgt.add_argument("--url")
    p.add_argument("--json", action="store_true")


def _generic_pid_checks(pid: int) -> list[dict[str, Any]]:
    from ..capture.targets import detect_runtime, ptrace_verdict
    from ..errors import WorkbenchError

    out: list[dict[str, Any]] = []
    try:
        info = detect_runtime(pid)
    except WorkbenchError as exc:
        return [{"source": "doctor", "name": "process exists", "ok": False, "message": exc.message, "fix": exc.fix}]
    out.append(
        {"source": "doctor", "name": "process exists", "ok": True, "message": f"{info.name} (PID {pid})", "fix": ""}
    )
    label = f"{info.runtime} {info.version}".strip()
    out.append(
        {
            "source": "doctor",
            "name": "runtime detected",
            "ok": info.runtime != "other",
            "message": label if info.runtime != "other" else "not a Python, Go or Node process",
            "fix": ""
            if info.runtime != "other"
            else "native processes: use perf; Go services: use --url with net/http/pprof",
        }
    )
    v = ptrace_verdict(pid)
    out.append({"source": "doctor", "name": "ptrace allowed", "ok": v.allowed, "message": v.reason, "fix": v.fix})
    from .doctor_namespaces import namespace_checks

    out += namespace_checks(pid)
    # which debugger injects code (gdb, or lldb where gdb cannot call functions) is each
    # injecting source's own "debugger" check
    return out


_BUSY = "cpu profiling already in use"


def _cpu_profile_free(url: str) -> list[dict[str, Any]]:
    """Is the service's CPU profiler free? Go serves one CPU profile at a time.

    Plain urllib (the workbench does not import the built-in plugins): a 1 s CPU profile
    request, body capped; only a "busy" answer is reported here, every other failure is
    the pprof source's own preflight check.
    """
    import urllib.error
    import urllib.request

    probe = f"{url.rstrip('/')}/debug/pprof/profile?seconds=1"
    try:
        with urllib.request.urlopen(probe, timeout=10) as resp:
            resp.read(64 << 20)
        status, body = 200, ""
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(4096).decode("utf-8", "replace")
    except (OSError, ValueError):
        return []
    if status == 500 and _BUSY in body.lower():
        return [
            {
                "source": "doctor",
                "name": "CPU profile not already in use",
                "ok": False,
                "message": "another client is taking a CPU profile of this service right now",
                "fix": "Go allows one CPU profile at a time: wait for the other `go tool pprof` or workbench to finish",
            }
        ]
    if status == 200:
        return [
            {
                "source": "doctor",
                "name": "CPU profile not already in use",
                "ok": True,
                "message": "the CPU profiler answered a 1 s probe",
                "fix": "",
            }
        ]
    return []


def _plugin_checks(target: Any) -> list[dict[str, Any]]:
    """Every installed source that applies to a PID (as it declares), at the target it would
    capture (a Go PID's own pprof URL), or the URL defaults that read a URL, with their
    preflight checks; a PID default that finds nothing to capture is a failure with a fix."""
    from ..capture import URL_TARGET, default_registry
    from ..capture.controller import CaptureController, PlannedSource, runtime_of
    from ..errors import WorkbenchError

    try:
        runtime = runtime_of(target)
    except WorkbenchError:
        runtime = ""
    key = runtime if target.kind.value == "pid" else URL_TARGET
    out: list[dict[str, Any]] = []
    for entry in default_registry().entries():
        try:
            plugin = default_registry().load(entry.name)
        except WorkbenchError as exc:
            out.append(
                {"source": entry.name, "name": "plugin loads", "ok": False, "message": exc.message, "fix": exc.fix}
            )
            continue
        if key == URL_TARGET and URL_TARGET not in plugin.default_for:
            continue  # a URL is checked by what would capture it (any http URL could be anything)
        try:
            located = plugin.locate(target, runtime)
        except WorkbenchError as exc:
            out.append({"source": entry.name, "name": "target", "ok": False, "message": exc.message, "fix": exc.fix})
            continue
        if located is None:
            # a default of this PID's runtime that finds nothing (a Go PID with no pprof listener)
            # is worth a fix; a URL another kind of source reads is simply not this one's
            if key in plugin.default_for and key != URL_TARGET:
                out.append(
                    {
                        "source": entry.name,
                        "name": "target found",
                        "ok": False,
                        "message": f"a default source for {key} targets, but it found nothing to capture "
                        f"for {target.label()}",
                        "fix": "give the process what this source reads (a Go service: a net/http/pprof "
                        "listener on loopback), or pass that address with --url",
                    }
                )
            continue
        src = PlannedSource(plugin, located, {})
        where = "" if located == target else f" at {located.label()}"
        for c in CaptureController.preflight(src):
            out.append({"source": entry.name, "name": c.name + where, "ok": c.ok, "message": c.message, "fix": c.fix})
    return out


def run(args: argparse.Namespace) -> int:
    from ..capture import Target

    if args.pid is not None:
        target = Target.from_pid(args.pid)
        checks = _generic_pid_checks(args.pid)
        if checks[0]["ok"]:
            checks += _plugin_checks(target)
    else:
        target = Target.from_url(args.url)
        checks = _plugin_checks(target)
        if any(c["name"] == "pprof endpoints" and c["ok"] for c in checks):
            checks += _cpu_profile_free(target.value)
    ok = all(c["ok"] for c in checks)
    if args.json:
        print(json.dumps({"target": target.label(), "ok": ok, "checks": checks}, indent=2))
    else:
        for c in checks:
            mark = "ok  " if c["ok"] else "FAIL"
            line = f"{mark} [{c['source']}] {c['name']}: {c['message']}"
            if not c["ok"] and c["fix"]:
                line += f"  -> fix: {c['fix']}"
            print(" ".join(line.split()))
    if not ok:
        failed = [c for c in checks if not c["ok"]]
        first = failed[0]
        print(
            f"workbench: error: {len(failed)} check(s) failed for {target.label()}, first: "
            f"{first['name']}: {first['message']}; fix: {first['fix'] or 'see above'}",
            file=sys.stderr,
        )
        return 2
    return 0
