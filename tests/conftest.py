"""Shared test setup. Area-specific fixtures live in tests/helpers/<area>.py, imported by tests."""

import os

# GUI tests and selftest run offscreen unless a display is asked for explicitly.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
