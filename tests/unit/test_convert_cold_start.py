"""``workbench convert``/``info`` load only what they need; bulk frame loading keeps intern's rules."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from workbench.formats.collapsed import read_collapsed, write_collapsed
from workbench.model import FRAMES_OVERFLOW, Frame, FrameTable
from workbench.model.frames import plain_frames

PROBE = """
import sys
from workbench.cli.main import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith(("importlib.metadata", "workbench.cli.cmd_", "workbench.capture",
                                                         "PySide6", "email", "workbench.formats.pprof")))
print(",".join(loaded))
sys.exit(code)
"""


def test_convert_imports_no_metadata_plugins_or_other_subcommands(tmp_path: Path) -> None:
    src = tmp_path / "x.collapsed"
    src.write_text("main;work 3\nmain;idle 1\n")
    for argv in (["convert", str(src), str(tmp_path / "x.svg")], ["info", str(src)]):
        out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True)
        loaded = out.stdout.strip().splitlines()[-1].split(",")
        assert loaded == [f"workbench.cli.cmd_{argv[0]}"], loaded


def test_version_is_read_when_asked() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli.main", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("workbench ")


def test_plain_frames_equal_frames_made_the_usual_way() -> None:
    made = plain_frames(["a", "b;c", ""])
    assert made == [Frame("a"), Frame("b;c"), Frame("")]
    assert [hash(f) for f in made] == [hash(Frame("a")), hash(Frame("b;c")), hash(Frame(""))]
    assert pickle.loads(pickle.dumps(made[0])) == Frame("a")


def test_load_distinct_then_intern_and_find_agree() -> None:
    table = FrameTable(max_frames=3)
    ids = table.load_distinct([Frame("a"), Frame("b"), Frame("c"), Frame("d"), Frame("e")])
    assert ids[:3] == [0, 1, 2] and ids[3] == ids[4] and table[ids[3]] == FRAMES_OVERFLOW
    assert table.overflowed == 2
    assert table.find(Frame("b")) == 1 and table.intern(Frame("c")) == 2
    again = FrameTable()
    again.intern(Frame("x"))
    assert again.load_distinct([Frame("y"), Frame("x")]) == [1, 0]  # a non-empty table interns


def test_read_collapsed_mixed_plain_and_located_frames_round_trips() -> None:
    text = "thread (1): Main;main (app.py:3);plain;work (app.py:9) 2\nplain;other 1\n"
    prof = read_collapsed(text.encode())
    assert sorted(write_collapsed(prof).splitlines()) == sorted(text.splitlines())
    assert prof.source == "py-spy"
    assert read_collapsed(b"a;b 1\n").source != "py-spy"


def test_file_only_commands_skip_teardown_but_lose_no_output(tmp_path: Path) -> None:
    """``console`` ends convert/info with os._exit once stdout and stderr are flushed: every
    line of a piped ``info``, the converted file, and the exit code of a failure survive it."""
    src = tmp_path / "x.collapsed"
    src.write_text("".join(f"main;f{i} {i + 1}\n" for i in range(2000)))
    run = [sys.executable, "-c", "from workbench.cli.main import console; console()"]
    info = subprocess.run([*run, "info", str(src), "--top", "2000"], capture_output=True, text=True, check=True)
    assert "f1999" in info.stdout and "f0" in info.stdout, info.stdout[-300:]
    out = tmp_path / "x.svg"
    subprocess.run([*run, "convert", str(src), str(out)], capture_output=True, check=True)
    assert out.read_text().rstrip().endswith("</svg>")
    missing = str(tmp_path / "missing.collapsed")
    bad = subprocess.run([*run, "convert", missing, str(out)], capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "workbench: error:" in bad.stderr
