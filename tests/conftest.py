"""Shared test setup. Area-specific fixtures live in tests/helpers/<area>.py, imported by tests."""

import gc
import os

# GUI tests and selftest run offscreen unless a display is asked for explicitly.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

# In CI (CI=true, set by the CI runner) a skipped test is a failure: .ci/run installs
# everything the suite needs, so a skip there means a check silently stopped running.
# A test that truly cannot run in CI says why with a reason starting with this prefix.
CI_SKIP_PREFIX = "not in CI:"


@pytest.fixture(autouse=True)
def _collect_between_tests() -> None:
    """The first window turns automatic cyclic collection off for the process (only the GUI
    thread collects, on a timer: workbench/ui/gui_gc.py), and that timer runs only while an
    event loop does. Collect here, on the main thread, so a test does not inherit the cyclic
    garbage of the ones before it (the agent census walks every object: a run with a window
    earlier saw its budget and ranking thrown off)."""
    if gc.isenabled():
        return
    # the automatic collector's own rule, per generation, at test granularity
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for gen in (2, 1, 0):
        if all(counts[g] > thresholds[g] for g in range(gen + 1)):
            gc.collect(gen)
            return


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if not (_in_ci() and report.skipped) or hasattr(report, "wasxfail"):
        return report
    longrepr = report.longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith(CI_SKIP_PREFIX):
        return report
    report.outcome = "failed"
    report.longrepr = (
        f"skipped in CI ({reason}): CI installs everything the suite needs (.ci/run), so this must run; "
        f"install what it lacks in .ci/run, or give a skip reason starting with {CI_SKIP_PREFIX!r} "
        "that says why it cannot run in CI"
    )
    return report
