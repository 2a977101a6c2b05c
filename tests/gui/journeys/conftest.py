"""Journey fixtures: each journey module runs its live capture once (module scope) and its
tests then check, one aspect each, what the window draws. A marker on one aspect (an
xfail for a fix still on its way) then never hides another aspect's result."""

from __future__ import annotations

from tests.helpers.gosvc import pprofsvc_exe  # noqa: F401 (session fixture: the Go service built once)
