"""Checkpoint and resume: a run killed with SIGKILL and resumed from its checkpoint file ends
with the executions, outcomes and findings of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from benchmarks.dpor_programs import lastzero, philosophers

import vmacheck as vc
from vmacheck.explore import checkpoint as ckpt
from vmacheck.explore import parallel

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
sys.path.insert(0, {root!r})
import vmacheck as vc
from vmacheck.explore import parallel
from benchmarks.dpor_programs import lastzero
parallel.SLICE_SECONDS = 0.02
parallel.CHECKPOINT_SECONDS = 0.05
r = vc.explore(lastzero(10), checkpoint=sys.argv[1], minimise=False)
print(json.dumps({{"executions": r.executions, "blocked": r.blocked, "complete": r.complete,
                  "outcomes": [[o.label, o.count] for o in r.outcomes],
                  "findings": sorted(f.kind for f in r.findings),
                  "resumed_from": parallel.last_stats["resumed_from"]}}))
"""


def _run(path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    return subprocess.Popen([sys.executable, "-c", SCRIPT.format(root=str(ROOT)), str(path)],
                            stdout=subprocess.PIPE, text=True, env=env)


def test_sigkilled_run_resumes_to_the_uninterrupted_totals(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    proc = _run(path)
    deadline = time.monotonic() + 60
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.exists(), "no checkpoint was written"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = ckpt.load(str(path))
    assert saved.ran > 0
    proc = _run(path)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    resumed = json.loads(out)
    whole = vc.explore(lastzero(10), minimise=False)
    assert resumed["resumed_from"] > 0
    assert resumed["complete"] and resumed["blocked"] == 0
    assert resumed["executions"] == whole.executions
    assert resumed["outcomes"] == [[o.label, o.count] for o in whole.outcomes]
    assert resumed["findings"] == sorted(f.kind for f in whole.findings)
    assert not path.exists()  # a finished run removes its checkpoint


def test_a_run_stopped_by_its_budget_saves_and_resumes(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 3)
    path = str(tmp_path / "p.ckpt")
    first = vc.explore(philosophers(4), checkpoint=path, max_executions=5)
    assert not first.complete and os.path.exists(path)
    rest = vc.explore(philosophers(4), checkpoint=path)
    whole = vc.explore(philosophers(4))
    assert rest.complete and rest.executions == whole.executions == 15
    assert [(f.kind, f.minimal_schedule) for f in rest.findings] == \
        [(f.kind, f.minimal_schedule) for f in whole.findings]


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="checkpoint"):
        vc.explore(lastzero(2), checkpoint=str(path))
