"""``workbench leaks (--pid PID | --url URL) [--duration S] [--json]``.

Runs the captures a target needs for leak evidence, judges every candidate with the
leak engine, prints suspects (and the candidates judged bounded), and exits 3 when
there are suspects. Meant for CI: an overall deadline means it never hangs, and a
target that dies mid-check is an error (exit 2), never "no leaks".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("leaks", help="watch a target and report unbounded growth (exit 3 if suspects)")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int, help="a Python (agent with --yes, else memray) or Node (inspector) process")
    tgt.add_argument("--url", help="a service serving net/http/pprof (heap and goroutine profiles)")
    p.add_argument("-d", "--duration", type=float, default=60.0, help="seconds to watch (default 60)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between snapshots")
    p.add_argument("--yes", action="store_true", help="consent to inject the runtime agent into --pid")
    p.add_argument("--json", action="store_true", help='{"suspects": [...], "checked": [...]} (DESIGN.md)')


def _plans(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """Which plugins to run, with which options, for this target."""
    from ..capture.targets import detect_runtime
    from ..errors import ConsentRequired, UnsupportedTarget

    iv = max(0.5, float(args.interval))
    if args.url:
        return [("pprof", {"profile": "leaks", "interval": iv, "profile_interval": iv})]
    info = detect_runtime(args.pid)
    if info.runtime == "node":
        # V8 heap sampling through the inspector; --yes lets it open a closed inspector (SIGUSR1)
        return [
            ("procstats", {"interval": 1.0}),
            ("inspector", {"profile": "heap", "heap_interval": iv, "yes": args.yes}),
        ]
    if info.runtime != "python":
        raise UnsupportedTarget(
            f"PID {args.pid} is a {info.runtime} process; `leaks --pid` reads Python and Node processes",
            "for a Go service use --url with its net/http/pprof address",
        )
    plans: list[tuple[str, dict[str, Any]]] = [("procstats", {"interval": 1.0})]
    from ..capture import Target, default_registry
    from .consent import ask

    if args.yes or ask(default_registry().load("agent"), Target.from_pid(args.pid), False):
        plans.append(("agent", {"yes": True, "census_interval": iv, "interval": iv}))
        return plans
    memray = default_registry().load("memray")
    failed = [c for c in memray.preflight(Target.from_pid(args.pid)) if not c.ok]
    if failed:
        raise ConsentRequired(
            f"no leak evidence source for PID {args.pid}: the runtime agent needs consent and memray "
            f"is not usable there ({failed[0].message})",
            f"re-run with --yes to inject the runtime agent, or {failed[0].fix}",
        )
    plans.append(("memray", {"interval": iv}))
    return plans


def run(args: argparse.Namespace) -> int:
    from ..analysis.leak_watch import LeakWatch
    from ..capture import Target, default_registry, resolve_options
    from ..errors import TargetExited, WorkbenchError
    from ..model.session import Session

    target = Target.from_url(args.url) if args.url else Target.from_pid(args.pid)
    session = Session()
    watch = LeakWatch()
    session.add_listener(watch.on_batch)
    handles = []
    try:
        for name, opts in _plans(args):
            plugin = default_registry().load(name)
            for check in plugin.preflight(target):
                if not check.ok and name != "procstats":
                    raise WorkbenchError(f"{name}: {check.message}", check.fix)
            handles.append((name, plugin.start(target, resolve_options(plugin, opts), session)))
        deadline = time.monotonic() + max(1.0, float(args.duration))
        while time.monotonic() < deadline:
            time.sleep(0.25)
            for name, h in handles:
                st = h.status()
                if st.error is not None:
                    if isinstance(st.error, TargetExited) or not _alive(target):
                        raise TargetExited(
                            f"{target.label()} exited during the leak check ({name}: {st.error.message})",
                            "a check needs a running target; keep it up for --duration seconds",
                        )
                    raise st.error
                if not st.running and name != "procstats":
                    raise TargetExited(
                        f"{name} capture of {target.label()} ended early: {st.message or 'target gone'}",
                        "a check needs a running target; keep it up for --duration seconds",
                    )
    finally:
        for _, h in handles:
            with contextlib.suppress(WorkbenchError):
                h.stop()
        for _, h in handles:
            h.join(10.0)
    suspects, checked = watch.judge(session)
    if args.json:
        print(
            json.dumps(
                {"suspects": [f.contract_dict() for f in suspects], "checked": [f.contract_dict() for f in checked]},
                indent=2,
            )
        )
    else:
        _print_text(suspects, checked, args.duration)
    return 3 if suspects else 0


def _alive(target: Any) -> bool:
    """A PID target that is gone or a zombie has exited, whatever error a capture reported."""
    if target.kind.value != "pid":
        return True
    import psutil

    try:
        return bool(psutil.Process(target.pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _print_text(suspects: list[Any], checked: list[Any], duration: float) -> None:
    out = sys.stdout
    if not suspects:
        print(f"no leak suspects after {duration:.0f} s ({len(checked)} candidate(s) judged bounded)", file=out)
    for f in suspects:
        line = (
            f"SUSPECT {f.kind:10s} {f.name}  +{f.growth_per_min:.1f} {f.unit}/min  "
            f"confidence {f.confidence:.2f}  where: {f.where}"
        )
        print(" ".join(line.split()), file=out)
        print("        " + " ".join(f.evidence.split()), file=out)
    if checked:
        print("bounded (not flagged):", file=out)
        for f in checked:
            print("  " + " ".join(f"{f.kind:10s} {f.name}: {f.evidence}".split()), file=out)
