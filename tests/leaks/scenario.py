"""Run a labelled leak scenario service live and score the leak engine on it.

Used by tests/leaks/test_leak_scenarios.py and benchmarks/bench_leaks.py. The engine is
judged every ``judge_every`` seconds, so the result carries the time to the first
verdict of each labelled container as well as precision and recall at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.child import ready_child
from tests.helpers.gosvc import go_env, start_pprofsvc
from workbench.analysis.leak_watch import LeakWatch
from workbench.capture import Target, default_registry, resolve_options
from workbench.model import Session

HERE = Path(__file__).resolve().parent
GO_SRC = HERE / "go" / "leaksvc"
PY_SRC = HERE / "py" / "leaksvc.py"
NODE_SRC = HERE / "node" / "leaksvc.js"

# label -> substring that names it in a finding; True = a real leak, False = a decoy
GO_LABELS: dict[str, tuple[str, bool]] = {
    "clients map never cleaned": ("main.(*Hub).register", True),
    "broadcast buffer grows": ("main.(*Broadcaster).publish", True),
    "executions map keeps failures": ("main.(*Executor).run", True),
    "goroutines blocked forever": ("main.spawnBlocked", True),
    "LRU with max size": ("main.(*LRU).Put", False),
    "ring buffer": ("main.(*Ring).Push", False),
    "batch flushed every N": ("main.(*Batcher).Add", False),
    "warm-up allocation": ("main.warmup", False),
    "map grows then cleared": ("main.(*SessionCache).fill", False),
    "LRU full after ~32 s": ("main.(*SlowLRU).Add", False),
    "TTL cache (25 s)": ("main.(*TTLCache).Set", False),
    "map cleared every minute": ("main.(*MinuteMap).record", False),
    "backlog grows and shrinks": ("main.(*Backlog).push", False),
}
PY_LABELS: dict[str, tuple[str, bool]] = {
    "unbounded dict cache": ("SessionStore._sessions", True),
    "clients never cleaned": ("WebSocketHub.clients", True),
    "growing bytearray": ("Broadcaster.buffer", True),
    "executions keep failures": ("Executor.executions", True),
    "LRU with max size": ("LRUCache._data", False),
    "ring buffer (deque maxlen)": ("RingLog.entries", False),
    "batch flushed every N": ("Batcher.pending", False),
    "warm-up table": ("WARMUP_TABLE", False),
    "map grows then cleared": ("ScratchMap.items", False),
    "LRU full after ~32 s": ("SlowLRU._data", False),
    "TTL cache (20 s)": ("TTLCache._entries", False),
    "map cleared every minute": ("MinuteMap.items", False),
    "backlog grows and shrinks": ("Backlog.queue", False),
}

# Node sites are named by the container holding them (heap snapshot retainer paths); a
# decoy keeps its filling function in ``where`` whatever its name, so decoys match on that
NODE_LABELS: dict[str, tuple[str, bool]] = {
    "sockets Map never cleaned": ("sockets Map", True),
    "history array never trimmed": ("history array", True),
    "LRU with max size": ("cacheRow (", False),
    "LRU full after ~30 s": ("cacheSlowRow (", False),
    "LRU's own inserts": ("put (", False),
    "map cleared every 20 s": ("recordMetric (", False),
    "TTL cache (15 s)": ("issueToken (", False),
}


@dataclass
class ScenarioResult:
    suite: str
    duration_s: float
    first_flag_s: dict[str, float] = field(default_factory=dict)  # label -> seconds to first flag
    flagged: dict[str, bool] = field(default_factory=dict)  # label -> flagged at the end
    unlabelled_suspects: list[str] = field(default_factory=list)
    suspects: list[dict[str, Any]] = field(default_factory=list)
    checked: list[dict[str, Any]] = field(default_factory=list)  # name and why it is judged bounded

    def scores(self, labels: dict[str, tuple[str, bool]]) -> tuple[float, float]:
        """(precision, recall); every suspect no label names is a false positive too."""
        tp = sum(1 for lab, (_, leak) in labels.items() if leak and self.flagged.get(lab))
        fp = sum(1 for lab, (_, leak) in labels.items() if not leak and self.flagged.get(lab))
        fp += len(self.unlabelled_suspects)
        fn = sum(1 for lab, (_, leak) in labels.items() if leak and not self.flagged.get(lab))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        return precision, recall

    def explain(self, labels: dict[str, tuple[str, bool]]) -> str:
        """What a failed assertion shows: the decoys flagged, and why each missed leak was judged
        bounded (its checked entries), so a run on CI says what went wrong without a rerun."""
        missed = [lab for lab, (_, leak) in labels.items() if leak and not self.flagged.get(lab)]
        wrong = [lab for lab, (_, leak) in labels.items() if not leak and self.flagged.get(lab)]
        why = {
            lab: [c for c in self.checked if labels[lab][0] in c["name"] or labels[lab][0] in c["where"]]
            for lab in missed
        }
        flagged = [s for s in self.suspects if any(labels[lab][0] in s["name"] + s["where"] for lab in wrong)]
        # every suspect's evidence too: a leak folded into another's finding is missed without a checked entry
        found = [{k: s[k] for k in ("name", "where", "evidence")} for s in self.suspects]
        report = {"missed": why, "decoys flagged": flagged, "unlabelled": self.unlabelled_suspects, "suspects": found}
        # a string: pytest prints an assertion's message object cut to a line, a string whole
        return json.dumps(report, indent=1)


def _label_of(name: str, labels: dict[str, tuple[str, bool]]) -> str | None:
    for lab, (needle, _) in labels.items():
        if needle in name:
            return lab
    return None


def build_go_leaksvc(outdir: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("go toolchain not installed (apt-get install golang-go)")
    exe = outdir / "leaksvc"
    subprocess.run([go, "build", "-o", str(exe), "."], cwd=GO_SRC, env=go_env(outdir), check=True, timeout=300,
                   capture_output=True)  # fmt: skip
    return exe


def _watch(suite: str, target: Target, plans: list[tuple[str, dict[str, Any]]], labels: dict[str, tuple[str, bool]], *,
           duration_s: float, judge_every: float) -> ScenarioResult:  # fmt: skip
    session = Session()
    watch = LeakWatch()
    session.add_listener(watch.on_batch)
    res = ScenarioResult(suite, duration_s)
    handles = []
    t_start = time.monotonic()
    try:
        for name, opts in plans:
            plugin = default_registry().load(name)
            handles.append(plugin.start(target, resolve_options(plugin, opts), session))
        next_judge = t_start + judge_every
        while time.monotonic() - t_start < duration_s:
            time.sleep(0.2)
            for h in handles:
                st = h.status()
                if st.error is not None:
                    raise RuntimeError(f"capture failed: {st.error}")
            if time.monotonic() >= next_judge:
                next_judge += judge_every
                suspects, _ = watch.judge(session)
                for f in suspects:
                    lab = _label_of(f.name, labels) or _label_of(f.where, labels)
                    if lab and lab not in res.first_flag_s:
                        res.first_flag_s[lab] = round(time.monotonic() - t_start, 1)
    finally:
        for h in handles:
            h.stop()
        for h in handles:
            h.join(10.0)
    suspects, checked = watch.judge(session)
    res.checked = [
        {"name": f.name, "where": f.where, "evidence": f.evidence, "sparkline": [round(x) for x in f.sparkline]}
        for f in checked
    ]
    for f in suspects:
        lab = _label_of(f.name, labels) or _label_of(f.where, labels)
        if lab:
            res.flagged[lab] = True
        else:
            res.unlabelled_suspects.append(f.name)
        res.suspects.append(f.contract_dict())
    return res


# A user attaches to a service that has been up for a while, not to one still filling
# its caches: the scenarios get this long to start before the watch begins.
WARMUP_S = 8.0


def run_go_suite(exe: Path, duration_s: float = 45.0, judge_every: float = 3.0) -> ScenarioResult:
    svc = start_pprofsvc(exe, "-rate", "1")
    try:
        time.sleep(WARMUP_S)
        plans = [("pprof", {"profile": "leaks", "interval": 1.0, "profile_interval": 2.0})]
        return _watch("go", Target.from_url(svc.url), plans, GO_LABELS, duration_s=duration_s, judge_every=judge_every)
    finally:
        svc.stop()


def run_py_suite(duration_s: float = 45.0, judge_every: float = 3.0, python: str | None = None) -> ScenarioResult:
    argv = [python or sys.executable, str(PY_SRC)]
    with ready_child(argv, "ready", "leaksvc.py", env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        time.sleep(WARMUP_S)
        plans = [("agent", {"yes": True, "census_interval": 2.0, "interval": 1.0})]
        return _watch(
            "python", Target.from_pid(proc.pid), plans, PY_LABELS, duration_s=duration_s, judge_every=judge_every
        )


def run_node_suite(duration_s: float = 45.0, judge_every: float = 3.0) -> ScenarioResult:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not installed (apt-get install nodejs)")
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    with ready_child([node, "--inspect=127.0.0.1:0", str(NODE_SRC)], "ready", "leaksvc.js", env=env) as proc:
        time.sleep(WARMUP_S)
        # the options `workbench leaks` uses for Node (the inspector's kind_options["leaks"])
        plugin = default_registry().load("inspector")
        plans = [("inspector", {**plugin.kind_options["leaks"], "interval": 1.0})]
        return _watch(
            "node", Target.from_pid(proc.pid), plans, NODE_LABELS, duration_s=duration_s, judge_every=judge_every
        )
