"""``workbench record (--pid PID | --url URL) [--source NAME ...] ... -o OUT``.

Generic over capture plugins: the capture controller plans the sources (named with
``--source``, else the target's runtime decides: DESIGN.md), every CLI flag that
matches a plugin option name is handed to that plugin, and everything the plugins
produce goes into one Session. A ``.wbs`` output is written while recording (the
session store listens to the session), so a crash loses nothing; any other output
gets the main profile (the first source's first profile) when recording ends.
Ctrl+C ends the recording early and still writes what was captured.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..model.keys import CPU, PROFILE_KINDS

# CLI flags handed to plugins under the same option name (py-spy and pprof spellings)
PLUGIN_FLAGS = (
    "rate",
    "idle",
    "gil",
    "native",
    "subprocesses",
    "nonblocking",
    "threads",
    "thread_filter",
    "profile",
    "duration",
    "yes",
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("record", help="capture from a running target into a file")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int, help="process id of the target")
    tgt.add_argument("--url", help="base URL of a service serving net/http/pprof")
    p.add_argument("--source", action="append", default=None, help="capture source (plugin name); repeatable")
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds to capture (Ctrl+C ends early)")
    p.add_argument("-r", "--rate", type=int, default=None, help="samples per second")
    p.add_argument(
        "--profile",
        choices=list(PROFILE_KINDS),
        default=None,
        help="which profile: the source that provides it is chosen (cpu: on-CPU only; wall: waiting included)",
    )
    p.add_argument("--idle", action="store_true", default=None, help="include idle threads (py-spy)")
    p.add_argument("--gil", action="store_true", default=None, help="only threads holding the GIL (py-spy)")
    p.add_argument("--native", action="store_true", default=None, help="native frames (py-spy, memray)")
    p.add_argument("--subprocesses", action="store_true", default=None, help="profile subprocesses too (py-spy)")
    p.add_argument("--nonblocking", action="store_true", default=None, help="do not pause the target (py-spy)")
    p.add_argument("--threads", action="store_true", default=None, help="one root frame per thread (py-spy)")
    p.add_argument("--thread-filter", default=None, help="only threads whose name or id contains this (py-spy)")
    p.add_argument("--yes", action="store_true", help="consent to inject the runtime agent")
    p.add_argument(
        "--trigger",
        action="append",
        default=None,
        metavar="RULE",
        help="capture when a series crosses a threshold, e.g. 'process.rss_bytes>200e6 for 5s -> cpu 10s' "
        "(METRIC OP VALUE [for DURATION] -> cpu|heap DURATION; rate(METRIC) for counters); repeatable",
    )
    p.add_argument(
        "--prometheus",
        default=None,
        metavar="PROM_URL",
        help="also poll this Prometheus server's PromQL --query series into the recording",
    )
    p.add_argument(
        "--query",
        action="append",
        default=None,
        metavar="NAME=PROMQL",
        help="with --prometheus: the series NAME (one per label set) from a PromQL expression, e.g. "
        "'p99=histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))'; "
        "repeatable; a --trigger can watch NAME",
    )
    p.add_argument(
        "--action",
        action="append",
        default=None,
        metavar="NAME[@SECONDS]",
        help="ask a source for a one-off action SECONDS after the start (without @: one second before "
        "the end), e.g. 'heap-snapshot' (inspector); repeatable",
    )
    p.add_argument("-o", "--output", required=True, help="output file; format by extension")


def run(args: argparse.Namespace) -> int:
    from ..capture import Target
    from ..capture.controller import CaptureController
    from ..errors import CaptureError, PluginError, TargetExited, UnsupportedTarget
    from ..formats import detect_format
    from ..model import Session
    from .consent import terminal_consent

    out = Path(args.output)
    fmt = detect_format(out)  # refuse an unknown extension before attaching to anything
    if args.duration is not None and args.duration <= 0:
        raise PluginError("--duration must be positive", "pass seconds, e.g. --duration 10")
    target = Target.from_pid(args.pid) if args.pid is not None else Target.from_url(args.url)
    session = Session()
    controller = CaptureController(session)
    given: dict[str, Any] = {k: getattr(args, k, None) for k in PLUGIN_FLAGS}
    plan = controller.plan(target, args.source, given=given, profile=args.profile)
    promql = _add_prometheus(args, controller, plan)
    for note in plan.notes:
        print(f"workbench: note: {note}", file=sys.stderr)
    # ask once per source that changes the target, naming what will run (--yes is the consent in scripts)
    refused = controller.ask_consent(plan, terminal_consent(bool(args.yes)))
    if not plan.sources:
        raise (
            refused[0]
            if refused
            else CaptureError(
                f"no capture source for {target.label()}", "name one with --source (see `workbench doctor`)"
            )
        )
    for exc in refused:
        print(f"workbench: warning: {exc}", file=sys.stderr)
    if fmt != "wbs" and not any(set(src.plugin.provides) & set(PROFILE_KINDS) for src in plan.sources):
        # a profile file was asked for: refuse before attaching, not after recording series
        raise UnsupportedTarget(
            f"no source of this recording profiles {target.label()}"
            + (f" (runtime: {plan.runtime}; sources: {', '.join(plan.names())})" if plan.runtime else ""),
            "record its series to a session (-o NAME.wbs), or name a --source that reads it (see `workbench doctor`)",
        )
    rules = _trigger_rules(args, controller, plan)
    actions = _parse_actions(getattr(args, "action", None) or [], plan, float(args.duration))

    session.info.title = f"record {target.label()}"
    session.info.targets.append(target.label())
    store: Any = None
    triggers: Any = None
    interrupted = False
    main_name = plan.sources[0].name  # the recording's point: its main profile
    try:
        errors = controller.start(plan)
        running = controller.running()
        if promql is not None and errors and not any(src is promql for src, _h in running):
            # asked for by flag, so its failure (a PromQL typo, a wrong URL) ends the command;
            # it starts last, so the last error is its own
            controller.stop(join=True)
            raise errors[-1]
        if not running or main_name not in {src.name for src, _h in running}:
            # the first source is the recording's point: without it there is nothing to write
            failed = next((e for e in errors if str(e).startswith(f"{main_name}:")), errors[0] if errors else None)
            controller.stop(join=True)
            if failed is not None:
                raise failed
        for exc in errors:
            print(f"workbench: warning: {exc}", file=sys.stderr)
        if fmt == "wbs":
            # opened once the sources are attached, so a failed attach leaves no file;
            # attach() first writes what the session already holds, then every batch
            store = _open_store(out)
            store.attach(session)
        if rules:
            from ..capture.triggers import TriggerEngine

            triggers = TriggerEngine(session, rules, controller.kind_starter(plan), target=target.label()).start()
        main_handle = next(h for src, h in running if src.name == main_name)
        interrupted = _wait(main_handle, float(args.duration), _scheduled(actions, controller))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        # a second Ctrl+C while the captures flush would lose what the first one kept
        previous = _ignore_sigint()
        try:
            if triggers is not None:
                triggers.stop()  # a triggered capture still running is stopped and kept
            ran = controller.running()
            controller.stop()
            statuses = {src.name: h.status() for src, h in ran}
            if store is not None:
                store.close()
        finally:
            _restore_sigint(previous)

    main_status = statuses.get(main_name)
    if main_status is not None and main_status.error is not None and not isinstance(main_status.error, TargetExited):
        raise main_status.error
    for name, st in statuses.items():
        if st.error is not None and name != main_name and not isinstance(st.error, TargetExited):
            print(f"workbench: warning: {name}: {st.error}", file=sys.stderr)

    if fmt != "wbs":
        _write_main_profile(session, plan.sources[0], out, fmt, args.profile)
    _summary(statuses, out, interrupted, session)
    if triggers is not None:
        st = triggers.stats
        print(f"workbench: triggers: {st.fired} fired, {st.captured} captured {st.keys}", file=sys.stderr)
        for text in st.errors:
            print(f"workbench: warning: trigger {text}", file=sys.stderr)
    return 0


def _add_prometheus(args: argparse.Namespace, controller: Any, plan: Any) -> Any:
    """``--prometheus URL --query NAME=PROMQL``: the installed source that reads Prometheus
    servers joins the plan with the server as its own target."""
    from ..capture import PROMQL, QUERIES_OPTION, Target
    from ..errors import PluginError

    queries = getattr(args, "query", None) or []
    url = getattr(args, "prometheus", None)
    if queries and not url:
        raise PluginError("--query needs --prometheus URL (the server to ask)", "add --prometheus http://HOST:9090")
    if not url:
        return None
    if not queries:
        raise PluginError("--prometheus needs at least one --query NAME=PROMQL", "add e.g. --query 'up=up'")
    plugin = controller.provider(PROMQL, "reads Prometheus servers (PromQL)")
    opts: dict[str, Any] = {QUERIES_OPTION: "\n".join(queries)}
    if args.duration is not None:
        opts["duration"] = args.duration
    return plan.add(plugin, Target.from_url(url), opts)


def _trigger_rules(args: argparse.Namespace, controller: Any, plan: Any) -> list[Any]:
    if not getattr(args, "trigger", None):
        return []
    from ..capture.triggers import check_rules, parse_trigger

    rules = [parse_trigger(t) for t in args.trigger]
    check_rules(controller, plan, rules)
    return rules


def _ignore_sigint() -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _open_store(out: Path) -> Any:
    from ..errors import UnknownFormat

    try:
        from ..formats.wbs import SessionStore
    except ModuleNotFoundError as exc:
        raise UnknownFormat(".wbs sessions are not available in this build", "record to another format") from exc
    if out.exists():
        out.unlink()  # a session file is written fresh, never appended to an old one
    return SessionStore(str(out))


# an action without @ runs this long before the end, so the source still runs to serve it
END_ACTION_LEAD_S = 1.0


def _parse_actions(specs: list[str], plan: Any, duration: float) -> list[tuple[float, str, str]]:
    """``NAME[@SECONDS]`` -> (seconds after start, source, action), checked before attaching."""
    from ..errors import PluginError

    offered = {a.name: src.name for src in plan.sources for a in src.plugin.actions}
    out = []
    for spec in specs:
        name, _, at = spec.partition("@")
        if name not in offered:
            have = ", ".join(f"{n} ({src})" for n, src in offered.items()) or "none"
            raise PluginError(
                f"--action {spec!r}: no source of this recording offers {name!r} (offered: {have})",
                "pick one of the offered actions, or add the --source that offers it",
            )
        try:
            seconds = float(at) if at else max(0.0, duration - END_ACTION_LEAD_S)
        except ValueError:
            seconds = -1.0
        if not 0.0 <= seconds < duration:
            raise PluginError(
                f"--action {spec!r}: the time must be seconds within the {duration:g} s recording",
                f"write e.g. {name}@{duration / 2:g}",
            )
        out.append((seconds, offered[name], name))
    return sorted(out)


def _scheduled(actions: list[tuple[float, str, str]], controller: Any) -> list[tuple[float, Any]]:
    return [(at, lambda src=src, name=name: controller.run_action(src, name)) for at, src, name in actions]


def _wait(main: Any, duration: float, scheduled: list[tuple[float, Any]] | None = None) -> bool:
    """Until ``duration`` passes or the main capture ends by itself, running each scheduled
    call at its time (seconds after the start); True if Ctrl+C ended it."""
    start = time.monotonic()
    deadline = start + duration
    todo = list(scheduled or [])
    try:
        while (left := deadline - time.monotonic()) > 0:
            while todo and time.monotonic() - start >= todo[0][0]:
                todo.pop(0)[1]()
            due = start + todo[0][0] if todo else deadline
            if main.join(max(0.0, min(left, 0.2, due - time.monotonic()))):
                break
    except KeyboardInterrupt:
        return True
    return False


def _write_main_profile(session: Any, main: Any, out: Path, fmt: str, kind: str | None) -> None:
    from ..errors import CaptureError
    from ..formats import write_profile

    texts = session.profile_keys()
    keys = [t for t in texts if session.key_of(t).source == main.name and not session.key_of(t).prefix] or texts
    # the asked-for kind first (a source may also keep snapshots of other kinds), else CPU
    keys.sort(key=lambda t: session.key_of(t).kind != (kind or CPU))
    if not keys and session.series_names():
        raise CaptureError(
            f"{main.name} records time series, not a profile, so {out.name} was not written",
            "write a .wbs session (-o NAME.wbs) to keep series, or add a profiling --source",
        )
    if not keys:
        raise CaptureError(
            f"{main.name} captured no samples, so {out.name} was not written",
            "the target may be idle: record longer, or use --idle to include idle threads",
        )
    profile = session.profiles[keys[0]]
    write_profile(profile, str(out), fmt)


def _summary(statuses: dict[str, Any], out: Path, interrupted: bool, session: Any) -> None:
    parts = []
    for name, st in statuses.items():
        text = f"{name}: {st.samples} samples"
        if st.coverage is not None:
            text += f", coverage {st.coverage:.0%}"
        if st.error is not None:
            text += f" ({st.error.message})"
        parts.append(text)
    how = "interrupted; kept what was captured" if interrupted else "done"
    print(f"workbench: record {how}: {'; '.join(parts)} -> {out}", file=sys.stderr)
