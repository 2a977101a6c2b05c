"""Where the py-spy executable is: the installed ``py-spy`` package first, never a PATH guess.

A PATH lookup could pick a different py-spy (another venv, a distro build) whose
output or flags differ from the version we pin, so the binary comes from the
distribution metadata of the package we depend on; a frozen app ships it next to
its executable.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from workbench.errors import PluginError

EXE = "py-spy.exe" if os.name == "nt" else "py-spy"
ENV_OVERRIDE = "WORKBENCH_PYSPY"


def _from_distribution() -> Path | None:
    try:
        files = metadata.distribution("py-spy").files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == EXE:
            p = Path(str(f.locate())).resolve()
            if p.is_file():
                return p
    return None


def find_pyspy() -> Path:
    """The py-spy binary to run, or a PluginError saying how to install it."""
    override = os.environ.get(ENV_OVERRIDE)
    candidates: list[Path | None] = [Path(override)] if override else []
    if getattr(sys, "frozen", False):
        candidates.append(Path(sys.executable).parent / EXE)
        bundle = getattr(sys, "_MEIPASS", None)  # PyInstaller >= 6 puts binaries under _internal/
        if bundle:
            candidates.append(Path(bundle) / EXE)
    candidates.append(_from_distribution())
    candidates.append(Path(sysconfig.get_path("scripts")) / EXE)
    for c in candidates:
        if c is not None and c.is_file() and os.access(c, os.X_OK):
            return c
    raise PluginError(
        "py-spy executable not found in this installation",
        "pip install 'py-spy==0.4.3' into the workbench's environment"
        + (
            f" or set {ENV_OVERRIDE} to its path" if not override else f" ({ENV_OVERRIDE}={override} is not executable)"
        ),
    )
