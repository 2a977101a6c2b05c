"""Profiling Workbench: live CPU, memory, GC, pool and leak views of running services."""

# ``__version__`` is looked up on first use (PEP 562): importlib.metadata and the email
# parser it pulls in cost ~40 ms, which ``workbench convert``/``info`` must not pay.
_version: str | None = None


def __getattr__(name: str) -> str:
    global _version
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _version = version("profiling-workbench")
        except PackageNotFoundError:  # running from a source tree without install metadata
            _version = "0.0.0+unknown"
    return _version


__all__ = ["__version__"]
