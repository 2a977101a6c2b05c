"""Consent for sources that change the target (the runtime agent injects code).

``--yes`` is the consent in scripts; on a terminal without it the user is asked, naming the
PID and what will run there. Anything but an explicit yes is a no.
"""

from __future__ import annotations

import sys
from typing import Any


def needs_consent(plugin: Any) -> bool:
    return bool(getattr(plugin, "needs_consent", False))


def ask(plugin: Any, target: Any, yes: bool) -> bool:
    """True when the user consents (``--yes``, or "y" typed at the prompt on a terminal)."""
    if yes:
        return True
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    text = plugin.consent_text(target) if hasattr(plugin, "consent_text") else ""
    print(f"{plugin.title} will run code inside {target.label()}:", file=sys.stderr)
    if text:
        print(f"  {text}", file=sys.stderr)
    try:
        answer = input("Proceed? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
