"""Real Python targets and memray capture files for the memray tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from workbench.model import Profile

VENV_PYTHON = sys.executable  # the venv's python: has memray

# Two allocation sites at a known ratio: grow_fast holds 5x the bytes of grow_slow.
TWO_SITES = """
import os, sys, time
keep = []
def grow_fast():
    keep.append(bytearray(50_000))
def grow_slow():
    keep.append(bytearray(10_000))
print("ready", flush=True)
stop_file = sys.argv[1] if len(sys.argv) > 1 else None  # the test ends the target by creating it
n = 0
while not (stop_file and n % 20 == 0 and os.path.exists(stop_file)):
    n += 1
    grow_fast()
    grow_slow()
    if len(keep) > 1600:
        del keep[:400]  # bounded: the target must not eat the machine
    time.sleep(0.005)
print("done", flush=True)
"""

# Blocked in one long sleep: gdb waits for Python code to run, so attach hangs until it wakes.
SLEEPS_THEN_ALLOCATES = """
import sys, time
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
keep = [bytearray(10_000) for _ in range(200)]
print("woke", flush=True)
time.sleep(60)
"""


def pyenv_python(version: str) -> str | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    p = Path(root) / "versions" / version / "bin" / "python"
    return str(p) if p.exists() else None


@contextlib.contextmanager
def python_target(python: str, script: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Start ``script`` under ``python``, wait for its "ready" line, always kill and reap it."""
    proc = subprocess.Popen(
        [python, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"target did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def memray_run(tmp: Path, script: str, *, compress: bool = True, native: bool = False) -> Path:
    """A real ``memray run -o`` capture of ``script``."""
    src = tmp / "prog.py"
    src.write_text(script)
    out = tmp / ("capture.bin" if compress else "capture_raw.bin")
    memray = Path(sys.executable).with_name("memray")
    cmd = [str(memray), "run", "-q", "-f", "-o", str(out)]
    if not compress:
        cmd.append("--no-compress")
    if native:
        cmd.append("--native")
    subprocess.run([*cmd, str(src)], check=True, capture_output=True, timeout=120)
    return out


def function_totals(profile: Profile, function: str) -> np.ndarray:
    """Inclusive values of every node whose frame is ``function``, summed (outermost only once)."""
    total = profile.total_values()
    out = np.zeros(len(profile.sample_types))
    names = profile.frames.functions()
    for node in range(1, profile.n_nodes):
        if names[int(profile.frame[node])] != function:
            continue
        # count a node only if no ancestor is the same function (recursion counted once)
        p = int(profile.parent[node])
        nested = False
        while p > 0:
            if names[int(profile.frame[p])] == function:
                nested = True
                break
            p = int(profile.parent[p])
        if not nested:
            out += total[node]
    return out
