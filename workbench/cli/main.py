"""``workbench``: the GUI with no subcommand, headless subcommands otherwise.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. Imports stay lazy so ``workbench convert`` never loads Qt.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from ..errors import WorkbenchError

# subcommands that only read files and write files or stdout: once those are closed, the
# interpreter's teardown (~20 ms with numpy loaded, a fifth of a small convert) shows nothing
QUICK_EXIT = frozenset({"convert", "info"})

# subcommand name -> module under workbench.cli
SUBCOMMANDS = {
    "selftest": "cmd_selftest",
    "record": "cmd_record",
    "convert": "cmd_convert",
    "info": "cmd_info",
    "leaks": "cmd_leaks",
    "doctor": "cmd_doctor",
    "services": "cmd_services",
    "list": "cmd_list",
}


class _VersionAction(argparse.Action):
    """``--version``, reading the installed metadata only when asked (it costs ~40 ms)."""

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from .. import __version__

        print(f"workbench {__version__}")  # stdout, as argparse's own "version" action
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only`` a subcommand name, just that subcommand's (its module
    alone is imported, so ``workbench convert`` does not load capture or network code)."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Profiling Workbench: live CPU, memory, GC, pool and leak views of running services.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, help="show the version and exit")
    parser.add_argument("--demo", action="store_true", help="open the GUI attached to the bundled demo service")
    parser.add_argument("--pid", type=int, help="open the GUI attached to this process (its runtime picks the sources)")
    parser.add_argument("--url", help="open the GUI attached to this service URL (net/http/pprof, inspector)")
    parser.add_argument("--source", action="append", help="with --pid/--url: capture with this source; repeatable")
    parser.add_argument("-o", "--output", help="with --pid/--url: write the session (.wbs) as it is captured")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in SUBCOMMANDS.items():
        if only is not None and name != only:
            continue
        mod = importlib.import_module(f"{__package__}.{modname}")
        mod.add_parser(sub)
    return parser


def _gui_parser() -> argparse.ArgumentParser:
    """``workbench [FILE ...]``, ``workbench --demo`` and ``workbench (--pid PID | --url URL)
    [--source NAME ...] [-o OUT.wbs]``: the GUI, opened attached and capturing when a target
    is given (like ``go tool pprof -http``); with -o the session is written as it is captured."""
    gui = argparse.ArgumentParser(prog="workbench", add_help=False)
    gui.add_argument("--demo", action="store_true")
    tgt = gui.add_mutually_exclusive_group()
    tgt.add_argument("--pid", type=int)
    tgt.add_argument("--url")
    gui.add_argument("--source", action="append", default=None)
    gui.add_argument("-o", "--output", default=None)
    gui.add_argument("files", nargs="*")
    return gui


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--run-demo-service"]:
        # a frozen app has no ``python -m``: the demo child re-enters here (workbench.demo.launch)
        from ..demo.__main__ import main as demo_main

        return demo_main(argv[1:])
    if argv[:1] == ["--run-helper"] and len(argv) >= 2:
        # a frozen app has no ``python helper.py``: plugin helper processes re-enter here
        from ..capture.registry import run_helper

        try:
            return run_helper(argv[1], argv[2:])
        except WorkbenchError as exc:
            print(f"workbench: error: {exc}", file=sys.stderr)
            return exc.exit_code
    if argv[:1] == ["--selftest-busy"]:
        # selftest's CPU target; in a frozen app this executable is the only Python there is
        from .cmd_selftest import busy_loop

        return busy_loop(float(argv[1]) if len(argv) > 1 else 30.0)
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    # argparse cannot mix optional positionals with subparsers; route by the first word
    if (argv and argv[0] in SUBCOMMANDS) or any(a in ("-h", "--help", "--version") for a in argv):
        args = parser.parse_args(argv)
    else:
        args = _gui_parser().parse_args(argv)
        args.command = None
    try:
        if args.command is None:
            from ..ui.app import run_gui  # Qt only for the GUI

            return int(
                run_gui(
                    files=args.files,
                    demo=args.demo,
                    pid=args.pid,
                    url=args.url,
                    sources=args.source,
                    output=args.output,
                )
            )
        mod = importlib.import_module(f"{__package__}.{SUBCOMMANDS[args.command]}")
        return int(mod.run(args))
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def console(argv: Sequence[str] | None = None) -> None:
    """The ``workbench`` command (console script, frozen app): ``main``, then the exit. A
    file-only subcommand ends with ``os._exit`` once its streams are flushed; its output files
    were written atomically and closed before ``run`` returned, so only teardown is skipped."""
    args = list(sys.argv[1:] if argv is None else argv)
    rc = main(args)
    if args[:1] and args[0] in QUICK_EXIT:
        with contextlib.suppress(BrokenPipeError):  # the reader left (`| head`): as main() treats it
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)


if __name__ == "__main__":
    console()
