"""``ProfileKey``: which profile of a session a batch feeds, as data rather than a string.

A key is (source, target, kind) plus an optional prefix for captures a trigger started.
Its text (``pyspy:1234:cpu``, ``trigger1:pprof:http://h:6060:heap``) is only for display
and storage (it is what sessions saved before keys were data hold); code reads the fields.
Profiles opened from files have the source ``file`` and the file name as target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# the kinds of data a profile holds; a plugin declares which it provides, and the leak
# engine and triggers dispatch on them (never on a plugin's name)
CPU = "cpu"
WALL = "wall"
HEAP = "heap"  # in-use memory by allocation site (a snapshot that replaces the previous one)
ALLOCS = "allocs"
GOROUTINE = "goroutine"
MUTEX = "mutex"
BLOCK = "block"
PROFILE_KINDS = (CPU, WALL, HEAP, ALLOCS, GOROUTINE, MUTEX, BLOCK)
# Go 1.26+'s /debug/pprof/goroutineleak: a goroutine profile of the goroutines the runtime
# proved leaked (blocked on what no running code can reach); leak evidence, not a view
GOROUTINE_LEAK = "goroutineleak"

_PREFIX = re.compile(r"^trigger\d+$")


@dataclass(frozen=True, slots=True, order=True)
class ProfileKey:
    source: str  # the plugin that captured it, or "file"
    target: str  # Target.value: "1234", "http://127.0.0.1:6060", or a file name
    kind: str  # one of PROFILE_KINDS for captures; free text for opened files
    prefix: str = ""  # "trigger3" for a capture a trigger started

    @property
    def text(self) -> str:
        body = f"{self.source}:{self.target}:{self.kind}" if self.kind else f"{self.source}:{self.target}"
        return f"{self.prefix}:{body}" if self.prefix else body

    def __str__(self) -> str:
        return self.text

    def with_prefix(self, prefix: str) -> ProfileKey:
        return replace(self, prefix=prefix)

    @classmethod
    def for_file(cls, name: str, part: str = "") -> ProfileKey:
        return cls("file", name, part)

    @classmethod
    def parse(cls, text: str) -> ProfileKey:
        """The key a stored text stands for. The source is the first ``:`` part and the kind
        the last, so a URL target with colons of its own survives."""
        prefix = ""
        head, sep, rest = text.partition(":")
        if sep and _PREFIX.match(head):
            prefix, text = head, rest
        source, sep, rest = text.partition(":")
        if not sep:
            return cls(source, "", "", prefix)
        if source == "file":
            name, _, part = rest.partition(":")
            return cls(source, name, part, prefix)
        target, sep, kind = rest.rpartition(":")
        if not sep:
            return cls(source, rest, "", prefix)
        return cls(source, target, kind, prefix)
