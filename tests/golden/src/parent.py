"""Golden py-spy target for --subprocesses: waits on a child running prog.py."""

import subprocess
import sys
import time

p = subprocess.Popen([sys.executable, "prog.py"])


def wait_child():
    while p.poll() is None:
        time.sleep(0.01)


wait_child()
