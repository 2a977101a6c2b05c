"""Consent on the command line for sources that change the target (the runtime agent injects code).

``--yes`` is the consent in scripts; on a terminal without it the user is asked, naming the
target and what will run there. Anything but an explicit yes is a no.
"""

from __future__ import annotations

import sys
from typing import Any

from ..capture.controller import ConsentFn


def terminal_consent(yes: bool) -> ConsentFn:
    """The CLI's answer to the controller's consent question."""

    def answer(plugin: Any, target: Any, text: str) -> bool:
        return ask(plugin, target, text, yes)

    return answer


def ask(plugin: Any, target: Any, text: str, yes: bool) -> bool:
    """True when the user consents (``--yes``, or "y" typed at the prompt on a terminal)."""
    if yes:
        return True
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    print(f"{plugin.title or plugin.name} will run code inside {target.label()}:", file=sys.stderr)
    if text:
        print(f"  {text}", file=sys.stderr)
    try:
        answer = input("Proceed? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
