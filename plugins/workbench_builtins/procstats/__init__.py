"""Process stats (psutil): CPU, memory, threads, fds and TCP connections of any PID.

Registered as the ``procstats`` entry point (``workbench_builtins.procstats:plugin``).
"""

from .plugin import ProcStatsPlugin

plugin = ProcStatsPlugin()

__all__ = ["ProcStatsPlugin", "plugin"]
