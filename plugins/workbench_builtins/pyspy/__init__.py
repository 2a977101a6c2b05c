"""py-spy: live CPU (or wall-clock) stacks of a running Python process by PID.

Registered as the ``pyspy`` entry point (``workbench_builtins.pyspy:plugin``).
"""

from .plugin import MAX_RATE, PySpyPlugin

plugin = PySpyPlugin()

__all__ = ["MAX_RATE", "PySpyPlugin", "plugin"]
