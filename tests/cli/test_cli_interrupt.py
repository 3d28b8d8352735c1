"""Ctrl-C stops a long run and still prints what was found, marked incomplete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from terminal import default_sigint

HERE = Path(__file__).resolve().parent


def test_sigint_prints_findings_so_far_and_exits_130() -> None:
    cmd = [sys.executable, str(HERE / "run_with_fixtures.py"), "check", "test-lost-update",
           "--mode", "random", "--max-executions", "100000000", "--no-color"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=default_sigint)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "interrupted" in out
    assert "both increments land" in out  # the finding found before the interrupt
    assert "invariant" in out


def test_livelock_is_a_step_limit_finding_not_a_hang() -> None:
    cmd = [sys.executable, str(HERE / "run_with_fixtures.py"), "check", "test-spin-forever",
           "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert '"step-limit"' in proc.stdout
