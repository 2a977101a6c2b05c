"""Text from profiles is untrusted: Qt renders tooltips as rich text when they look like HTML."""

from __future__ import annotations

import html

MAX_TOOLTIP = 4000


def plain_tooltip(text: str) -> str:
    """A tooltip that shows ``text`` literally (escaped, forced rich text, newlines kept)."""
    body = html.escape(text[:MAX_TOOLTIP]).replace("\n", "<br>")
    return f"<qt><span style='white-space:pre'>{body}</span></qt>"
