"""`make dist-check`: the frozen build and the installed .deb must pass `workbench selftest --record`.

Run after `make dist`. Installing the .deb needs root (CI runs as root); elsewhere only the
frozen one-folder build is checked and the .deb step says why it was skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONEDIR_EXE = ROOT / "build" / "pyinstaller-dist" / "workbench" / "workbench"
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
# a clean machine state: no venv on PATH, nothing of the source tree importable
for var in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
    ENV.pop(var, None)
ENV["PATH"] = ":".join(p for p in ENV.get("PATH", "").split(":") if ".venv" not in p)


def run(cmd: list[str], timeout: float = 180) -> None:
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, env=ENV, cwd="/", timeout=timeout, capture_output=True, text=True, check=False)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"dist-check: {' '.join(cmd)} exited {proc.returncode}")


def main() -> int:
    if not ONEDIR_EXE.exists():
        raise SystemExit(f"dist-check: {ONEDIR_EXE} missing; run `make dist` first")
    run([str(ONEDIR_EXE), "--version"])
    run([str(ONEDIR_EXE), "selftest", "--record"])
    debs = sorted((ROOT / "dist").glob("*.deb"))
    if not debs:
        raise SystemExit("dist-check: no .deb in dist/")
    if os.geteuid() != 0 or shutil.which("dpkg") is None:
        print("dist-check: .deb install skipped (needs root and dpkg)")
        return 0
    run(["dpkg", "-i", str(debs[-1])])
    try:
        run(["/usr/bin/workbench", "--version"])
        run(["/usr/bin/workbench", "selftest", "--record"])
    finally:
        run(["dpkg", "-r", "profiling-workbench"])
    print("dist-check: frozen build and installed .deb passed selftest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
