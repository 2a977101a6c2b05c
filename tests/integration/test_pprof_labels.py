"""pprof labels end to end: the Go service tags /slow and /fast with ``pprof.Do``; a CPU
profile recorded over its URL keeps the labels in the .wbs, in pprof export (read back by
``go tool pprof -tags``), and ``--tagfocus``/``--tagignore`` slice by them as pprof does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.gosvc import GoService, gosvc, pprofsvc_exe  # noqa: F401 (fixtures)
from tests.helpers.labels import cpu_profile_key, record_labelled
from workbench.cli.main import main

pytestmark = [pytest.mark.go, pytest.mark.slow]


def _go_tags(path: Path, tmp: Path) -> str:
    go = shutil.which("go")
    assert go is not None
    proc = subprocess.run(
        [go, "tool", "pprof", "-tags", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(tmp), "PPROF_TMPDIR": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _info(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(["info", "--json", "--top", "50", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_labels_survive_and_slice(gosvc: GoService, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    from workbench.analysis.labels import label_values
    from workbench.formats.wbs import load_session

    wbs = record_labelled(gosvc, tmp_path / "lab.wbs")
    session = load_session(str(wbs))
    prof = session.profiles[cpu_profile_key(session.profile_keys())]
    assert prof.labels is not None
    assert label_values(prof, "endpoint")[:2] == ["/slow", "/fast"], "/slow burns ten times the CPU of /fast"

    # pprof export keeps Sample.label: go tool pprof reads them back
    out = tmp_path / "lab.pb.gz"
    assert main(["convert", str(wbs), str(out)]) == 0
    if shutil.which("go"):
        tags = _go_tags(out, tmp_path)
        assert "endpoint:" in tags and "/slow" in tags and "/fast" in tags, tags

    # --tagfocus keeps only /slow's samples (pprof's KEY=REGEX)
    whole = _info([str(wbs)], capsys)["profiles"]
    slow = _info([str(wbs), "--tagfocus", "endpoint=/slow"], capsys)["profiles"]
    idx = [p["name"] for p in whole].index(prof.name)
    fns = {r["function"] for r in slow[idx]["top"]}
    assert "main.slowHandler" in fns and "main.fastHandler" not in fns
    assert 0 < slow[idx]["totals"]["samples"] < whole[idx]["totals"]["samples"]
    # comma = or: both endpoints, no unlabelled runtime samples
    both = _info([str(wbs), "--tagfocus", "endpoint=/slow,/fast"], capsys)["profiles"][idx]
    assert {"main.slowHandler", "main.fastHandler"} <= {r["function"] for r in both["top"]}
    ign = _info([str(wbs), "--tagignore", "endpoint=/slow"], capsys)["profiles"][idx]
    assert "main.slowHandler" not in {r["function"] for r in ign["top"]}
    assert ign["totals"]["samples"] + slow[idx]["totals"]["samples"] == whole[idx]["totals"]["samples"]

    sliced = tmp_path / "slow.pb.gz"
    assert main(["convert", str(wbs), str(sliced), "--tagfocus", "endpoint=/slow"]) == 0
    if shutil.which("go"):
        tags = _go_tags(sliced, tmp_path)
        assert "/slow" in tags and "/fast" not in tags, tags

    # collapsed has no place for labels: said on stderr; --tagroot keeps one as the root frame
    capsys.readouterr()
    assert main(["convert", str(wbs), str(tmp_path / "x.collapsed")]) == 0
    assert "no place for sample labels" in capsys.readouterr().err
    assert main(["convert", str(wbs), str(tmp_path / "g.collapsed"), "--tagroot", "endpoint"]) == 0
    roots = {ln.split(";", 1)[0] for ln in (tmp_path / "g.collapsed").read_text().splitlines()}
    assert {"endpoint=/slow", "endpoint=/fast"} <= roots

    # a bad filter is one line, exit 2
    capsys.readouterr()
    assert main(["info", str(wbs), "--tagfocus", "=x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
