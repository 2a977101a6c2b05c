"""Profiling Workbench: live CPU, memory, GC, pool and leak views of running services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("profiling-workbench")
except PackageNotFoundError:  # running from a source tree without install metadata
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
