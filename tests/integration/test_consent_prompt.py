"""On a terminal without --yes, `record --source agent` asks, naming the PID; a "n" injects nothing."""

import os
import subprocess
import sys
import time

WORKBENCH = [sys.executable, "-m", "workbench.cli.main"]


def test_prompt_names_the_pid_and_no_means_no(tmp_path):
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    master, slave = os.openpty()
    out = tmp_path / "x.wbs"
    try:
        proc = subprocess.Popen(
            [*WORKBENCH, "record", "--pid", str(target.pid), "--source", "agent", "-d", "2", "-o", str(out)],
            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 60
        while b"[y/N]" not in seen and time.monotonic() < deadline:
            seen += os.read(master, 4096)
        assert f"pid:{target.pid}".encode() in seen and b"[y/N]" in seen, seen
        os.write(master, b"n\n")
        rc = proc.wait(60)
        try:
            while chunk := os.read(master, 4096):
                seen += chunk
        except OSError:
            pass  # the terminal closes with the process
        assert rc == 2, seen
        assert b"Traceback" not in seen
        assert not out.exists()
        # nothing was injected: the target has no gdb attached and runs unchanged
        assert target.poll() is None
        with open(f"/proc/{target.pid}/status") as fh:
            assert any(line.split() == ["TracerPid:", "0"] for line in fh)
    finally:
        os.close(master)
        target.kill()
        target.wait()
