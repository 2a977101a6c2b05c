"""A CPU profile of the Go service's pprof-labelled handlers (/slow and /fast, tagged with
``pprof.Do(ctx, pprof.Labels("endpoint", path), ...)``), recorded over its pprof URL."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.gosvc import GoService
from workbench.cli.main import main


def record_labelled(svc: GoService, out: Path, seconds: int = 3) -> Path:
    """``workbench record --url URL --profile cpu`` while two clients call /slow and /fast."""
    svc.get("/labelled-load?ms=30000")  # outlasts the recording on a loaded machine
    rc = main(["record", "--url", svc.url, "--profile", "cpu", "-d", str(seconds), "-o", str(out)])
    assert rc == 0, "record failed"
    return out


def cpu_profile_key(keys: list[str]) -> str:
    (key,) = [k for k in keys if k.startswith("pprof:") and k.endswith(":cpu")]
    return key
