"""Recorded profiles for the source-listing tests (``workbench list``, the Source tab): the
Python pool service under real py-spy, and the Go service's CPU hotspot over its pprof URL."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.gosvc import SRC as GO_SRC
from tests.helpers.gosvc import GoService
from tests.helpers.poolsvc import SCRIPT as POOLSVC
from tests.helpers.poolsvc import run_poolsvc
from workbench.cli.main import main

GO_MAIN = GO_SRC / "main.go"


def line_of(path: Path, needle: str) -> int:
    """1-based number of the first line of ``path`` containing ``needle``."""
    for i, text in enumerate(path.read_text().splitlines(), 1):
        if needle in text:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def hashing_loop_lines() -> set[int]:
    """The body of compute_report's hashing loop (the sha256 line and the XOR line)."""
    return {line_of(POOLSVC, "hashlib.sha256("), line_of(POOLSVC, "bytes(b ^ 0x5A")}


def go_burn_lines() -> set[int]:
    """hotspotBurn's loops: the inner multiply-add and the two loop heads."""
    return {line_of(GO_MAIN, "x = x*6364136223846793005"), line_of(GO_MAIN, "for i := 0; i < 100000")}


def record_poolsvc(out: Path) -> Path:
    """``workbench record --pid PID -d 3 -o out`` against the running pool service."""
    with run_poolsvc() as proc:
        rc = main(["record", "--pid", str(proc.pid), "-d", "3", "-o", str(out)])
    assert rc == 0, "record failed"
    return out


def record_go_cpu(svc: GoService, out: Path) -> Path:
    svc.get("/burn?ms=30000")  # outlasts the recording on a loaded machine
    rc = main(["record", "--url", svc.url, "--profile", "cpu", "-d", "3", "-o", str(out)])
    assert rc == 0, "record failed"
    return out


ROW = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\d+):(.*)$")


def listed_rows(text: str) -> dict[int, tuple[str, str, str]]:
    """``{line: (flat, cum, text)}`` of the first ROUTINE of ``workbench list`` output."""
    out: dict[int, tuple[str, str, str]] = {}
    seen = 0
    for row in text.splitlines():
        if row.startswith("ROUTINE"):
            seen += 1
            if seen > 1:
                break
            continue
        m = ROW.match(row)
        if m and seen:
            out[int(m.group(3))] = (m.group(1), m.group(2), m.group(4))
    return out


def number(cell: str) -> float:
    """A flat/cum cell back to a number (``.`` is zero; counts print with thousands commas)."""
    return 0.0 if cell == "." else float(cell.replace(",", ""))
