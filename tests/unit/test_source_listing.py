"""analysis.source: per-line flat/cum, recursion counted once, remaps, caps and untrusted text."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.analysis import source
from workbench.analysis.source import SourceFiles, list_sources, listing_for, parse_remaps, render_listings
from workbench.analysis.treeops import AnalysisError
from workbench.model import SAMPLES, Frame, Profile, Runtime


def _profile(file: str) -> Profile:
    p = Profile([SAMPLES])
    main = Frame("main", file, 2, runtime=Runtime.PYTHON)
    loop = Frame("work", file, 5, runtime=Runtime.PYTHON)
    call = Frame("work", file, 6, runtime=Runtime.PYTHON)
    p.add_stack([main, loop], [7])
    p.add_stack([main, call, call, loop], [3])  # recursion: line 6 counts once per stack
    p.add_stack([main, Frame("work", file, 0, runtime=Runtime.PYTHON)], [1])
    return p


def test_flat_and_cum_per_line(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("\n".join(f"line {i}" for i in range(1, 30)) + "\n")
    res = list_sources(_profile(str(f)), "^work$")
    (lst,) = res.listings
    by = {lc.line: (float(lc.flat[0]), float(lc.cum[0])) for lc in lst.lines}
    assert by == {5: (10.0, 10.0), 6: (0.0, 3.0)}
    assert float(lst.cum[0]) == 11.0 and float(lst.flat[0]) == 11.0
    assert lst.unknown is not None and float(lst.unknown.flat[0]) == 1.0
    assert lst.hottest(0) == 5
    text = render_listings(res, _profile(str(f)))
    assert "ROUTINE ======================== work in" in text
    assert "        10         10      5:line 5" in text
    assert "         .          3      6:line 6" in text
    assert "(no line number)" in text
    assert "      1:line 1" in text and "     12:line 12" not in text  # 5 lines of margin, as pprof


def test_window_gaps_and_no_text(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("\n".join(f"l{i}" for i in range(1, 100)) + "\n")
    p = Profile([SAMPLES])
    p.add_stack([Frame("g", str(f), 10)], [1])
    p.add_stack([Frame("g", str(f), 60)], [2])
    (lst,) = list_sources(p, "g").listings
    rows = lst.rows()
    assert [n for n, _c, _t in rows] == [*range(5, 16), 0, *range(55, 66)]
    missing = listing_for(p, Frame("g", str(tmp_path / "gone.py"), 10))
    assert missing is None  # no samples there
    p2 = Profile([SAMPLES])
    p2.add_stack([Frame("g", str(tmp_path / "gone.py"), 10)], [1])
    lst2 = listing_for(p2, Frame("g", str(tmp_path / "gone.py"), 10))
    assert lst2 is not None and lst2.text is None and "--source-root" in lst2.read_error
    assert [n for n, _c, _t in lst2.rows()] == [10]


def test_remaps_and_untrusted_text(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("ok\n\x1b[31mred\tx\n" + "y" * 1000 + "\n")
    files = SourceFiles(parse_remaps([f"/app={tmp_path}/src"]))
    lines, path, why = files.read("/app/a.py")
    assert lines is not None and path == f"{tmp_path}/src/a.py" and not why
    assert lines[1] == "\\x1b[31mred    x"
    assert len(lines[2]) == source.MAX_LINE_CHARS
    with pytest.raises(AnalysisError, match="OLD=NEW"):
        parse_remaps(["nope"])
    with pytest.raises(AnalysisError, match="regular expression"):
        list_sources(Profile([SAMPLES]), "(")


def test_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.py"
    big.write_bytes(b"x\n" * 100)
    monkeypatch.setattr(source, "MAX_FILE_BYTES", 50)
    lines, _p, why = SourceFiles().read(str(big))
    assert lines is None and "larger than" in why
    p = Profile([SAMPLES])
    for i in range(5):
        p.add_stack([Frame(f"f{i}", "x.py", 1)], [i + 1])
    res = list_sources(p, "f", max_functions=2)
    assert [lst.function for lst in res.listings] == ["f4", "f3"] and res.more == 3
    assert "3 more functions match" in render_listings(res, p)
