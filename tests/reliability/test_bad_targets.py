"""Bad-input matrix, targets: PIDs and pprof URLs that are wrong, refuse, misbehave or go away.

Real processes and real local HTTP servers; the CLI runs in process (``main``) except
where the OS user or capabilities must differ, which needs a real child process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.http_stubs import INDEX, LOGIN, reply, serve, slow
from tests.helpers.targets import HOT, exits_soon, free_pid, non_python_process, run_target, stop_target
from workbench.cli.main import main
from workbench.formats import read_profiles
from workbench.formats.wbs import load_session


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("workbench: error: ") and "; fix: " in err, err
    return err.strip().removeprefix("workbench: error: ")


# ---------------------------------------------------------------------------------- PIDs


def test_unknown_pid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = free_pid()
    line = cli_error(capsys, "record", "--pid", str(pid), "-o", str(tmp_path / "x.wbs"))
    assert line == f"no process with PID {pid}; fix: check the PID with `ps` or pick it from the process list"
    assert not (tmp_path / "x.wbs").exists()


def test_unknown_pid_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    pid = free_pid()
    line = cli_error(capsys, "doctor", "--pid", str(pid))
    assert "process exists" in line and str(pid) in line


def test_non_python_pid_records_process_stats_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with non_python_process() as proc:
        rc = main(["record", "--pid", str(proc.pid), "-d", "2", "-o", str(tmp_path / "x.wbs")])
    assert rc == 0, capsys.readouterr()
    session = load_session(str(tmp_path / "x.wbs"))
    assert "process.rss_bytes" in session.series and not session.profiles  # no profiler reads this runtime


def test_non_python_pid_for_pyspy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with non_python_process() as proc:
        line = cli_error(capsys, "record", "--pid", str(proc.pid), "--source", "pyspy", "-o", str(tmp_path / "x.wbs"))
    assert line == (
        f"PID {proc.pid} (sleep) is not a Python process (no python binary or libpython mapped); "
        "fix: pick the PID of the python interpreter itself (not a shell or launcher wrapping it)"
    )


def test_non_python_pid_for_memray(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with non_python_process() as proc:
        line = cli_error(capsys, "record", "--pid", str(proc.pid), "--source", "memray", "-o", str(tmp_path / "x.wbs"))
    assert line == (
        f"PID {proc.pid} (sleep) is not a Python process; "
        "fix: memray reads Python processes; for Go use the pprof source, for any process procstats"
    )


def test_non_python_pid_doctor(capsys: pytest.CaptureFixture[str]) -> None:
    with non_python_process() as proc:
        line = cli_error(capsys, "doctor", "--pid", str(proc.pid))
    assert line.endswith(
        "first: runtime detected: not a Python, Go or Node process; "
        "fix: native processes: use perf; Go services: use --url with net/http/pprof"
    )


def test_target_exits_mid_capture_keeps_the_wbs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.wbs"
    with run_target(exits_soon(2.0)) as proc:
        rc = main(["record", "--pid", str(proc.pid), "-d", "20", "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 0, err  # the capture is good data; the exit is reported, not an error
    assert f"PID {proc.pid} exited during capture; kept " in err and "Traceback" not in err
    session = load_session(str(out))
    [key] = [k for k in session.profile_keys() if k.startswith("pyspy:")]
    prof = session.profiles[key]
    assert prof.totals()[0] > 0
    assert "busy_until_exit" in {f.function for f in prof.frames}
    assert "process.rss_bytes" in session.series


def test_target_exits_mid_capture_keeps_a_collapsed_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.collapsed"
    with run_target(exits_soon(2.0)) as proc:
        rc = main(["record", "--pid", str(proc.pid), "-d", "20", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    [prof] = read_profiles(out)
    assert "busy_until_exit" in {f.function for f in prof.frames}


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_ptrace_eperm_through_the_cli(tmp_path: Path) -> None:
    """The target runs as nobody; the CLI runs as root without CAP_SYS_PTRACE (a container without it)."""
    system_python = "/usr/bin/python3"
    target = subprocess.Popen(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", system_python, "-c", HOT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert target.stdout is not None and b"TARGET_READY" in target.stdout.readline()
        out = tmp_path / "x.wbs"
        cmd = ["setpriv", "--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"]
        wb = str(Path(sys.executable).with_name("workbench"))
        r = subprocess.run(
            [*cmd, wb, "record", "--pid", str(target.pid), "-d", "2", "-o", str(out)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop_target(target)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("workbench: error: ") and "CAP_SYS_PTRACE" in r.stderr and "fix:" in r.stderr
    assert "uid 65534" in r.stderr
    assert not out.exists()  # nothing half-written for a capture that never started


# ------------------------------------------------------------------------------ pprof URLs

PROFILE = "/debug/pprof/profile"


def record_url(capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, profile: str = "cpu") -> str:
    out = tmp_path / "x.pb.gz"
    line = cli_error(capsys, "record", "--url", url, "--profile", profile, "-d", "2", "-o", str(out))
    assert not out.exists()
    return line


def test_url_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve({}) as s:
        url = s.url
    line = record_url(capsys, tmp_path, url)
    assert line.startswith(f"pprof: {url}") and "connection refused" in line and "; fix: " in line


def test_url_returns_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve({"/debug/pprof/": reply(200, INDEX, "text/html"), PROFILE: reply(200, LOGIN, "text/html")}) as s:
        line = record_url(capsys, tmp_path, s.url)
    assert line.startswith(f"{s.url}{PROFILE}?seconds=")
    assert line.endswith(
        "returned an HTML page instead of a cpu profile: a login page or a proxy error?; "
        "fix: point the workbench at the service's own debug listener, which must not require a login"
    )


def test_url_404(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve({"/debug/pprof/": reply(200, INDEX, "text/html")}) as s:
        line = record_url(capsys, tmp_path, s.url)
    assert line == (
        f"{s.url}{PROFILE}?seconds=2: 404 not found: the service does not serve this CPU profile; "
        'fix: import _ "net/http/pprof" (and expvar) in the service, or check the base URL'
    )


def test_url_500(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with serve({"/debug/pprof/": reply(200, INDEX, "text/html"), PROFILE: reply(500, "internal error\n")}) as s:
        line = record_url(capsys, tmp_path, s.url)
    assert line.endswith(": HTTP 500: internal error; fix: see the service's logs; the workbench retries with backoff")


def test_url_profiling_already_in_use(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    busy = "Could not enable CPU profiling: cpu profiling already in use\n"
    with serve({"/debug/pprof/": reply(200, INDEX, "text/html"), PROFILE: reply(500, busy)}) as s:
        line = record_url(capsys, tmp_path, s.url)
    assert line.endswith(
        ": the service is already taking a CPU profile for another client "
        "(Could not enable CPU profiling: cpu profiling already in use); "
        "fix: Go allows one CPU profile at a time: wait for the other `go tool pprof` or workbench to finish"
    )


def test_url_redirects_to_a_login_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    to_login = reply(302, "", headers={"Location": "/login"})
    with serve({"/debug/pprof/": to_login, PROFILE: to_login, "/login": reply(200, LOGIN, "text/html")}) as s:
        line = record_url(capsys, tmp_path, s.url)
    # record runs the same preflight as the GUI: the failing source is named first
    assert line == (
        f"pprof: {s.url} serves neither /debug/pprof/, /debug/vars nor /metrics (/debug/pprof/ is an HTML page without "
        f"a profile list (redirected to {s.url}/login): a login page?); "
        'fix: import _ "net/http/pprof" and "expvar" in the service, and give the base URL of that listener'
    )


@pytest.mark.parametrize("announce", [True, False], ids=["announced", "streamed"])
def test_url_2gb_response_is_never_read_to_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], announce: bool
) -> None:
    with serve({"/debug/pprof/": reply(200, INDEX, "text/html")}) as s:
        s.routes[PROFILE] = s.huge(2 << 30, announce=announce)
        line = record_url(capsys, tmp_path, s.url)
        time.sleep(0.2)
        sent = s.sent_bytes
    if announce:
        assert line.endswith(
            "response announces 2147483648 bytes, over the 64 MiB cap; reading stopped; fix: this is not a "
            "normal profile size; check the URL, or raise the max_mb option if it is genuine"
        )
    else:
        assert "over the 64 MiB cap; reading stopped" in line and "response passed " in line
    assert sent < 512 << 20  # the client hung up at the cap (plus socket buffers), never near 2 GB


def test_url_slow_past_the_timeout() -> None:
    """The request timeout is a plugin option (the GUI's field); the CLI keeps the 10 s default."""
    from workbench_builtins.pprof_fetch import plugin

    from workbench.capture.api import Target, resolve_options
    from workbench.model import Session

    routes = {"/debug/pprof/": reply(200, INDEX, "text/html"), "/debug/pprof/heap": slow(4, reply(200, b""))}
    with serve(routes) as s:
        opts = resolve_options(plugin, {"profile": "heap", "timeout": 1.0})
        h = plugin.start(Target.from_url(s.url), opts, Session())
        deadline = time.monotonic() + 20
        while "no complete answer" not in h.status().message and time.monotonic() < deadline:
            time.sleep(0.1)
        h.stop()
        err = h.status().error
    assert err is not None
    assert str(err) == (
        f"{s.url}/debug/pprof/heap: no complete answer within 1 s; fix: the service is overloaded or stuck; "
        "the workbench backs off, or raise the timeout option"
    )
