"""The error tree every layer raises: each error carries a message and a fix.

The CLI prints ``str(err)`` as one line and exits with ``err.exit_code``; the GUI
shows the same two parts in an inline banner. Nothing user-caused may escape as a
bare traceback, so new failure modes get a subclass here, not a generic exception.
"""

from __future__ import annotations

import os


class WorkbenchError(Exception):
    """Base of every error a user can cause. ``message`` says what, ``fix`` says how."""

    exit_code = 2

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        # One line, always: names from profiles can hold newlines.
        text = self.message if not self.fix else f"{self.message}; fix: {self.fix}"
        return " ".join(text.split())


class FormatError(WorkbenchError):
    """A file or payload could not be read or written."""

    def __init__(
        self,
        message: str,
        fix: str = "",
        *,
        path: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        where = []
        if path:
            where.append(path)
        if line is not None:
            where.append(f"line {line}")
        if offset is not None:
            where.append(f"byte {offset}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message, fix)
        self.detail = message  # without the position prefix: re-raising with a path must not repeat it
        self.path = path
        self.offset = offset
        self.line = line

    def with_path(self, path: str | os.PathLike[str]) -> FormatError:
        """This error naming ``path``, for readers that parse bytes and never saw the file name.

        The copy keeps the error's type, fix and position; an error that already names a
        file is returned as it is (the innermost file is the one that is wrong).
        Use as ``raise exc.with_path(p) from None``.
        """
        if self.path is not None:
            return self
        return type(self)(self.detail, self.fix, path=os.fspath(path), offset=self.offset, line=self.line)


class LimitExceeded(FormatError):
    """Input is larger or deeper than a configured safety limit (size, depth, count)."""


class UnknownFormat(FormatError):
    """The format could not be told from the extension or the content."""


class CaptureError(WorkbenchError):
    """A capture could not start or broke while running."""


class TargetNotFound(CaptureError):
    """The PID or URL does not exist or does not answer."""


class PermissionDenied(CaptureError):
    """The OS refused access to the target (ptrace, /proc, sockets)."""


class UnsupportedTarget(CaptureError):
    """The target is not of a runtime or version the source can read."""


class TargetExited(CaptureError):
    """The target went away during capture; what was captured is kept."""


class PluginError(WorkbenchError):
    """A plugin could not be found, imported or configured."""


class ConsentRequired(WorkbenchError):
    """An action that changes the target needs an explicit yes from the user."""
