"""--workers, --scheduler and --checkpoint: bad input is one line and exit code 2; a
checkpointed run that stopped early resumes to the full count."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_errors import assert_usage_error, run_cli


def test_bad_split_options_are_usage_errors(tmp_path: Path) -> None:
    assert "--workers" in assert_usage_error(["check", "test-lost-update", "--workers", "0"])
    assert "dpor" in assert_usage_error(["check", "test-lost-update", "--mode", "random",
                                         "--workers", "2"])
    junk = tmp_path / "ck"
    run_cli(["check", "test-lost-update", "--checkpoint", str(junk), "--max-executions", "1"])
    saved = list(tmp_path.glob("ck.test-lost-update-*"))
    assert len(saved) == 1
    saved[0].write_bytes(b"garbage")  # not a checkpoint, where the run would resume from
    assert "checkpoint" in assert_usage_error(["check", "test-lost-update", "--checkpoint",
                                               str(junk)])


def test_checkpointed_cli_run_resumes_to_the_full_count(tmp_path: Path) -> None:
    path = str(tmp_path / "run")
    _, out, _ = run_cli(["check", "test-lost-update", "--checkpoint", path,
                         "--max-executions", "1", "--json"])
    first = json.loads(out)[0]
    assert not first["complete"] and first["executions"] == 1
    _, out, _ = run_cli(["check", "test-lost-update", "--checkpoint", path, "--json"])
    resumed = json.loads(out)[0]
    code, out, _ = run_cli(["check", "test-lost-update", "--json"])
    assert code == 1  # the lost update is found
    whole = json.loads(out)[0]
    assert resumed["complete"] and resumed["executions"] == whole["executions"] > 1
    assert not list(tmp_path.glob("run.*"))
