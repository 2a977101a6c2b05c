"""Third-party plugins are found exactly like the built-ins: pip installs a package that
declares a ``workbench.plugins`` entry point, and the registry lists and loads it. A broken
plugin is listed with its import error and never takes the app down."""

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

PLUGIN_SRC = """
from workbench.capture import Check, Option, PluginBase, TargetKind


class EchoPlugin(PluginBase):  # the base supplies every declaration it does not make
    name = "echo"
    title = "Echo (third-party test plugin)"
    targets = frozenset({TargetKind.PID})
    options = (Option("loud", bool, False, "shout", label="loud"),)

    def preflight(self, target):
        return [Check("echo", True, f"would echo {target.label()}")]

    def start(self, target, options, sink):
        raise RuntimeError("this plugin exists to test discovery; it captures nothing")


plugin = EchoPlugin()
"""


def _wheel(tmp: Path) -> Path:
    """A minimal, valid wheel built by hand: two modules and dist-info with entry points."""
    files = {
        "wb_echo_plugin.py": PLUGIN_SRC.encode(),
        "wb_echo_plugin-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: wb-echo-plugin\nVersion: 0.1\n",
        "wb_echo_plugin-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        "wb_echo_plugin-0.1.dist-info/entry_points.txt": b"[workbench.plugins]\necho = wb_echo_plugin:plugin\n"
        b"broken = wb_echo_missing_module:plugin\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("wb_echo_plugin-0.1.dist-info/RECORD,,")
    files["wb_echo_plugin-0.1.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = tmp / "wb_echo_plugin-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def test_pip_installed_plugin_is_discovered_and_broken_one_is_listed(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(_wheel(tmp_path))],
        check=True, timeout=120,
    )  # fmt: skip
    probe = (
        "import json\n"
        "from workbench.capture import default_registry\n"
        "reg = default_registry()\n"
        "out = {e.name: [e.ok, e.error, e.dist] for e in reg.load_all()}\n"
        "out['echo_check'] = reg.load('echo').preflight(__import__('workbench.capture', fromlist=['Target']).Target.from_pid(1))[0].message\n"
        "print(json.dumps(out))\n"
    )  # fmt: skip
    res = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    got = json.loads(res.stdout)
    assert got["echo"][0] is True and got["echo"][2] == "wb-echo-plugin"
    assert got["echo_check"] == "would echo pid:1"
    assert got["broken"][0] is False and "ModuleNotFoundError" in got["broken"][1]
    # the built-ins come through the same group, next to the third-party one
    for builtin in ("pyspy", "procstats", "memray", "pprof", "agent", "inspector"):
        assert got[builtin][0] is True, got[builtin]
