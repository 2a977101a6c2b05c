"""Third-party plugins are found exactly like the built-ins: pip installs a package that
declares a ``workbench.plugins`` entry point, and the registry lists and loads it. A broken
plugin is listed with its import error and never takes the app down."""

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.wheels import build_wheel, pip_install_target

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
    return build_wheel(
        tmp,
        "wb-echo-plugin",
        {"wb_echo_plugin.py": PLUGIN_SRC.encode()},
        "[workbench.plugins]\necho = wb_echo_plugin:plugin\nbroken = wb_echo_missing_module:plugin\n",
    )


def test_pip_installed_plugin_is_discovered_and_broken_one_is_listed(tmp_path):
    site = tmp_path / "site"
    pip_install_target(_wheel(tmp_path), site)
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
