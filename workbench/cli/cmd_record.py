"""``workbench record (--pid PID | --url URL) [--source NAME ...] ... -o OUT``."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("record", help="capture from a running target into a file")
    tgt = p.add_mutually_exclusive_group(required=True)
    tgt.add_argument("--pid", type=int, help="process id of the target")
    tgt.add_argument("--url", help="base URL of a service serving net/http/pprof")
    p.add_argument("--source", action="append", default=None, help="capture source (plugin name); repeatable")
    p.add_argument("-d", "--duration", type=float, default=10.0, help="seconds to capture (Ctrl+C ends early)")
    p.add_argument("-r", "--rate", type=int, default=None, help="samples per second")
    p.add_argument("--profile", choices=["cpu", "heap", "allocs", "goroutine", "mutex", "block"], default=None)
    p.add_argument("--idle", action="store_true", default=None, help="include idle threads (py-spy)")
    p.add_argument("--gil", action="store_true", default=None, help="only threads holding the GIL (py-spy)")
    p.add_argument("--native", action="store_true", default=None, help="native frames (py-spy, memray)")
    p.add_argument("--subprocesses", action="store_true", default=None, help="profile subprocesses too (py-spy)")
    p.add_argument("--nonblocking", action="store_true", default=None, help="do not pause the target (py-spy)")
    p.add_argument("--yes", action="store_true", help="consent to inject the runtime agent")
    p.add_argument("-o", "--output", required=True, help="output file; format by extension")


def run(args: argparse.Namespace) -> int:
    from ..errors import WorkbenchError

    raise WorkbenchError("record is not built yet", "wait for the capture issues")
