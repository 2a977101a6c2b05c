"""pprof-fetch: profiles, GC/memory and DB-pool series from services serving net/http/pprof.

Registered as the ``pprof`` entry point (``workbench_builtins.pprof_fetch:plugin``).
"""

from .plugin import PprofFetchPlugin

plugin = PprofFetchPlugin()

__all__ = ["PprofFetchPlugin", "plugin"]
