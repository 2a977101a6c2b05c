"""ptrace refused for real: the workbench runs as root *without* CAP_SYS_PTRACE (as in a
container started without --cap-add SYS_PTRACE) and the target runs as another user.

``setpriv`` drops the capability from the bounding set of a child interpreter, which then
tries to attach; both the preflight diagnosis and py-spy's own refusal must come back as
PermissionDenied naming the missing capability.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.targets import HOT, stop_target

SYSTEM_PYTHON = Path("/usr/bin/python3")

pytestmark = pytest.mark.skipif(
    shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists() or not hasattr(__import__("os"), "geteuid"),
    reason="needs setpriv and a system python3 the nobody user can run",
)

PROBE = textwrap.dedent(
    """
    import json, sys
    from workbench.capture import Target, default_registry
    from workbench.errors import WorkbenchError
    from workbench.model import Session
    from workbench_builtins.pyspy import capture
    from workbench_builtins.pyspy.binary import find_pyspy

    pid = int(sys.argv[1])
    out = {}
    try:
        default_registry().load("pyspy").start(Target.from_pid(pid), {}, Session()).stop()
        out["preflight"] = None
    except WorkbenchError as exc:
        out["preflight"] = [type(exc).__name__, str(exc)]
    # skip the preflight: does py-spy's own refusal map to the same error?
    h = capture.PySpyCapture(find_pyspy(), pid, capture.PySpyOptions(), Session()).start()
    h.join(60)
    err = h.status().error
    out["pyspy"] = [type(err).__name__, str(err)] if err else None
    print(json.dumps(out))
    """
)


def test_ptrace_refused_without_cap_sys_ptrace() -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root to run the target as another user")
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON), "-c"]
    target = subprocess.Popen(
        [*cmd, HOT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert target.stdout is not None
        assert b"TARGET_READY" in target.stdout.readline()
        probe = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-sys_ptrace",
                "--inh-caps=-sys_ptrace",
                sys.executable,
                "-c",
                PROBE,
                str(target.pid),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop_target(target)
    assert probe.returncode == 0, probe.stderr
    out = json.loads(probe.stdout.strip().splitlines()[-1])
    kind, text = out["preflight"]
    assert kind == "PermissionDenied" and "CAP_SYS_PTRACE" in text and "uid 65534" in text and "fix:" in text
    kind, text = out["pyspy"]
    assert kind == "PermissionDenied" and "CAP_SYS_PTRACE" in text, text
