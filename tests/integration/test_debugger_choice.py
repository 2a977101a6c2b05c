"""The debugger choice: real gdb and lldb probed on this machine, forced by WB_DEBUGGER or left to auto."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from workbench_builtins import debugger
from workbench_builtins.agent.client import AgentClient
from workbench_builtins.agent.inject import inject

from tests.helpers.agent_targets import run_target
from workbench.errors import CaptureError


def _gdb_breaks_here() -> bool:
    """The machine the probe exists for: gdb < 14 on a CPU with AMX (its xstate write fails)."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return False
    with open("/proc/cpuinfo") as fh:
        amx = " amx_tile" in fh.read()
    out = subprocess.run([gdb, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"(\d+)\.\d+", out.splitlines()[0] if out else "")
    return amx and m is not None and int(m.group(1)) < 14


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(debugger.ENV, raising=False)
    debugger.forget()
    yield
    debugger.forget()


@pytest.mark.skipif(not _gdb_breaks_here(), reason="gdb can call functions on this machine")
def test_forced_gdb_is_refused_with_the_probe_message_and_auto_takes_lldb(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = debugger.probe("gdb")
    assert not probe.usable
    assert "Couldn't write extended state" in probe.detail, probe.detail
    monkeypatch.setenv(debugger.ENV, "gdb")
    choice = debugger.choose()
    assert not choice.ok and "WB_DEBUGGER=gdb" in choice.reason and "extended state" in choice.reason
    with pytest.raises(CaptureError) as err:
        debugger.require("inject the agent")
    assert "unset WB_DEBUGGER" in err.value.fix and "apt-get install lldb" in err.value.fix
    check = debugger.check()
    assert check.name == "debugger" and not check.ok
    monkeypatch.setenv(debugger.ENV, "auto")
    if not debugger.probe("lldb").usable:
        pytest.skip("lldb cannot call functions here either")
    auto = debugger.choose()
    assert auto.name == "lldb" and "extended state" in auto.reason
    check = debugger.check()
    assert check.ok and check.message.startswith("lldb (")


def test_auto_takes_a_debugger_that_works_and_doctor_says_which() -> None:
    choice = debugger.choose()
    if not choice.ok:
        pytest.skip(f"no usable debugger here: {choice.reason}")
    assert choice.name in ("gdb", "lldb")
    assert debugger.probe(choice.name).usable
    if choice.name == "lldb":  # gdb was tried first and failed, and the reason says why
        assert not debugger.probe("gdb").usable and "gdb" in choice.reason
    check = debugger.check()
    assert check.ok and check.message.startswith(f"{choice.name} (")
    assert debugger.cached() == choice  # known now without probing again


def test_neither_debugger_is_a_typed_error_naming_both(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    choice = debugger.choose()
    assert not choice.ok
    assert "gdb is not installed" in choice.reason and "lldb is not installed" in choice.reason
    with pytest.raises(CaptureError) as err:
        debugger.require("attach memray")
    assert "apt-get install lldb" in err.value.fix and "gdb >= 14" in err.value.fix


def test_bad_value_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(debugger.ENV, "dbx")
    with pytest.raises(CaptureError) as err:
        debugger.choose()
    assert "gdb, lldb or auto" in err.value.fix
    assert not debugger.check().ok


@pytest.mark.skipif(shutil.which("lldb") is None, reason="needs lldb")
def test_forced_lldb_injects_the_agent_and_the_target_lives(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """WB_DEBUGGER=lldb on any machine: the lldb route stays tested where gdb works too."""
    monkeypatch.setenv(debugger.ENV, "lldb")
    if not debugger.probe("lldb").usable:
        pytest.skip(debugger.probe("lldb").detail)
    with run_target(tmp=tmp_path) as t:
        inj = inject(t.pid, {"heartbeat_s": 3.0})
        try:
            assert inj.method == "lldb" and inj.details["route"] == "safe-point"
            assert 0 < inj.stopped_s < 5
            client = AgentClient(inj.port, inj.token)
            assert client.hello["pid"] == t.pid
            assert client.detach(lambda _msg: None)
            client.close()
        finally:
            inj.cleanup()
        st = t.last_status(after_tick=int(t.last_status()["tick"]))  # type: ignore[call-overload]
        assert st["callbacks"] == 0 and t.proc.poll() is None
        with open(f"/proc/{t.pid}/status") as fh:
            assert "TracerPid:\t0" in fh.read()
    assert os.environ[debugger.ENV] == "lldb"
