"""``workbench leaks (--pid PID | --url URL) [--duration S] [--json]``.

Runs the captures a target needs for leak evidence, judges every candidate with the
leak engine, prints suspects (and the candidates judged bounded), and exits 3 when
there are suspects. Meant for CI: an overall deadline means it never hangs, and a
target that dies mid-check is an error (exit 2), never "no leaks".
"""

from __future__ import annotations

import argparse
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


def run(args: argparse.Namespace) -> int:
    from ..analysis.leak_watch import LeakWatch
    from ..capture import LEAK_EVIDENCE, Target
    from ..capture.controller import LEAKS, CaptureController
    from ..errors import ConsentRequired, TargetExited, UnsupportedTarget
    from ..model.session import Session
    from .consent import terminal_consent

    target = Target.from_url(args.url) if args.url else Target.from_pid(args.pid)
    session = Session()
    watch = LeakWatch()
    session.add_listener(watch.on_batch)
    controller = CaptureController(session)
    iv = max(0.5, float(args.interval))
    # the same plan the GUI's leak watch runs: series sources plus the leak-evidence sources
    # (an agent asks consent first; without it the next evidence source is tried)
    plan = controller.plan(target, given={"interval": iv, "profile_interval": iv}, purpose=LEAKS)
    refused = controller.ask_consent(plan, terminal_consent(bool(args.yes)))
    evidence = [src for src in plan.sources if LEAK_EVIDENCE in src.plugin.provides]
    if not evidence:
        if refused:
            raise ConsentRequired(
                f"no leak evidence source for {target.label()}: {refused[0].message}",
                "re-run with --yes to consent to the source that changes the target",
            )
        raise UnsupportedTarget(
            f"no installed source reads leak evidence from {target.label()}"
            + (f" (runtime: {plan.runtime})" if plan.runtime else ""),
            "leaks reads Python and Node processes by --pid, and Go services by --url or --pid",
        )
    try:
        errors = controller.start_first_of(plan)
        running = controller.running()
        if not any(LEAK_EVIDENCE in src.plugin.provides for src, _h in running):
            first = errors[0] if errors else None
            if first is None:
                raise UnsupportedTarget(
                    f"no leak evidence source started for {target.label()}", "see `workbench doctor`"
                )
            raise type(first)(f"no leak evidence source for {target.label()}: {first.message}", first.fix)
        deadline = time.monotonic() + max(1.0, float(args.duration))
        while time.monotonic() < deadline:
            time.sleep(0.25)
            for src, h in running:
                st = h.status()
                if st.error is not None:
                    if isinstance(st.error, TargetExited) or not _alive(target):
                        raise TargetExited(
                            f"{target.label()} exited during the leak check ({src.name}: {st.error.message})",
                            "a check needs a running target; keep it up for --duration seconds",
                        )
                    raise st.error
                if not st.running and LEAK_EVIDENCE in src.plugin.provides:
                    raise TargetExited(
                        f"{src.name} capture of {target.label()} ended early: {st.message or 'target gone'}",
                        "a check needs a running target; keep it up for --duration seconds",
                    )
    finally:
        controller.stop(join=True)
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
    from ..model.units import format_percent, format_rate, format_seconds

    out = sys.stdout
    if not suspects:
        print(
            f"no leak suspects after {format_seconds(duration)} ({len(checked)} candidate(s) judged bounded)", file=out
        )
    for f in suspects:
        line = (
            f"SUSPECT {f.kind:10s} {f.name}  {format_rate(f.growth_per_min, f.unit)}  "
            f"confidence {format_percent(f.confidence, 0)}  where: {f.where}"
        )
        print(" ".join(line.split()), file=out)
        print("        " + " ".join(f.evidence.split()), file=out)
    if checked:
        print("bounded (not flagged):", file=out)
        for f in checked:
            print("  " + " ".join(f"{f.kind:10s} {f.name}: {f.evidence}".split()), file=out)
