"""`vmacheck check`: the compact report, expected findings, `show`, budgets and Ctrl-C."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from terminal import HERE, default_sigint, run_in_pty, screen_rows

from vmacheck.cli import main
from vmacheck.cli_last import cache_file
from vmacheck.scenarios import catalogue


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def entries(text: str) -> dict[str, str]:
    """Bug id -> its first line, for every bug entry of a compact report."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^(BUG-[0-9a-f]{6}) .*$", text, re.M)}


def test_catalogue_fits_80_lines_on_an_80x24_terminal(tmp_path: Path) -> None:
    code, text = run_in_pty(["check", "--max-seconds", "20", "--no-color"], real=True,
                            env={"VMACHECK_CACHE_DIR": str(tmp_path)}, timeout=240)
    rows = screen_rows(text, cols=80)
    assert code == 1, "\n".join(rows)
    assert len(rows) <= 80, "\n".join(rows)
    assert "Traceback" not in text
    scenarios = len([s for s in catalogue.all_scenarios() if s.group != "test"])
    assert re.match(rf"vmacheck: \d+ runs of {scenarios} scenarios in ", rows[0]), rows[0]
    # every distinct bug of the run (as saved for `vmacheck show`) appears exactly once,
    # with its occurrences counted
    saved = json.loads((tmp_path / "last-check.json").read_text())["bugs"]
    shown = [line.split()[0] for line in rows if re.match(r"BUG-[0-9a-f]{6} ", line)]
    assert sorted(shown) == sorted(saved), (shown, sorted(saved))
    for bug, info in saved.items():
        line = next(line for line in rows if line.startswith(bug + " "))
        runs = len(info["runs"])
        after = rows[rows.index(line) + 1]
        counted = f"{runs} run{'s' if runs != 1 else ''}"
        assert counted in after or f"×{runs}:" in line, (bug, line, after)


def test_one_entry_per_bug_with_occurrences_and_the_shortest_replay() -> None:
    code, out, _ = run_cli(["check", "test-lost-update", "test-expected-lost-update",
                            "--no-color"])
    assert code == 1  # test-lost-update's finding is new
    found = entries(out)
    assert len(found) == 1, out  # the same invariant in two scenarios is one bug
    (bug,) = found
    assert "both increments land" in found[bug]
    assert "New bugs (1):" in out
    assert re.search(r"2 runs \(\d+ executions\) in 2 scenarios", out), out
    replay = re.search(r"^  (vmacheck replay .*)$", out, re.M)
    assert replay is not None
    args = replay.group(1).split()[2:]
    args = [a.strip("'") for a in args]
    code, out2, _ = run_cli(["replay", *args])
    assert code == 1 and "both increments land" in out2


def test_show_prints_the_full_report_of_a_bug() -> None:
    code, out, _ = run_cli(["check", "test-lost-update", "--no-color"])
    (bug,) = entries(out)
    assert cache_file().exists()
    code, shown, err = run_cli(["show", bug, "--no-color"])
    assert code == 1, err
    assert shown.startswith("=" * 66) and "BUG: vmacheck: invariant violated" in shown
    assert "Interleaving (" in shown and "Replay:" in shown
    code, _, err = run_cli(["show", "BUG-000000"])
    assert code == 2 and err.count("\n") == 1 and "unknown bug id 'BUG-000000'" in err


def test_verbose_prints_the_splats() -> None:
    code, out, _ = run_cli(["check", "test-lost-update", "-v", "--no-color"])
    assert code == 1
    assert out.count("=" * 66) == 2 and "Call Trace:" in out


def test_expected_finding_does_not_fail_the_check() -> None:
    code, out, _ = run_cli(["check", "test-expected-lost-update", "--no-color"])
    assert code == 0, out
    assert "0 new bugs, 1 expected" in out
    assert "Expected findings (1, not failures):" in out
    assert "test fixture: the lost update is what this scenario shows" in out
    assert "New bugs" not in out


def test_expected_finding_that_disappears_is_reported() -> None:
    code, out, _ = run_cli(["check", "test-expected-gone", "--no-color"])
    assert code == 1, out
    assert "Expected but no longer found (1):" in out
    assert "test-expected-gone [defaults]: deadlock" in out
    code, doc, _ = run_cli(["check", "test-expected-gone", "--json"])
    assert code == 1
    (run,) = json.loads(doc)
    assert run["missing_expected"] == ["deadlock"]
    assert run["findings"][0]["expected"].startswith("test fixture")


def test_sigint_while_minimising_prints_the_findings(tmp_path: Path) -> None:
    cmd = [sys.executable, str(HERE / "run_with_fixtures.py"), "check", "test-slow-minimise",
           "--mode", "random", "--max-executions", "1", "--no-color"]
    builds = tmp_path / "builds"
    env = {**os.environ, "VMACHECK_TEST_BUILDS": str(builds)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, preexec_fn=default_sigint)
    # the model is built once by the probe, once by the one execution, then by minimising:
    # the third build means minimising has begun (however slow the machine is today)
    deadline = time.monotonic() + 120
    while not (builds.exists() and builds.read_text().count("\n") >= 3):
        assert proc.poll() is None and time.monotonic() < deadline, "minimising never began"
        time.sleep(0.05)
    proc.send_signal(2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "at most 12 switches" in out and "INTERRUPTED" in out
    assert "vmacheck replay test-slow-minimise" in out


def test_max_seconds_bounds_minimising_too() -> None:
    cmd = [sys.executable, str(HERE / "run_with_fixtures.py"), "check", "test-slow-minimise",
           "--mode", "random", "--max-executions", "1", "--max-seconds", "2", "--no-color"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr
    assert "at most 12 switches" in proc.stdout
    # minimising alone would take 20 s; start-up, 2 s and one replay stay well below (the
    # margin is for a loaded machine: start-up alone has taken 4 s)
    assert took < 15, took


def test_clean_only_for_complete_runs() -> None:
    code, out, err = run_cli(["check", "test-clean", "--max-executions", "1", "--no-color"])
    assert code == 0
    assert "No findings, incomplete (1): test-clean" in out
    assert "Clean" not in out and "no findings (incomplete: execution budget)" in err
    code, out, _ = run_cli(["check", "test-clean", "--no-color"])
    assert code == 0 and "Clean (complete) (1): test-clean" in out


def test_several_scenarios_and_globs() -> None:
    code, out, _ = run_cli(["check", "test-clean", "test-expected-*", "--no-color"])
    assert re.match(r"vmacheck: 3 runs of 3 scenarios", out), out
    code, _, err = run_cli(["check", "test-nothing-*"])
    assert code == 2 and err.count("\n") == 1 and "no scenario matches" in err


def test_version() -> None:
    code, out, _ = run_cli(["--version"])
    assert code == 0
    assert re.fullmatch(r"vmacheck \d+\.\d+\.\d+, engine (compiled \(mypyc\)|pure Python \(.+\))\n",
                        out)


def test_chosen_configuration_is_shown() -> None:
    code, out, _ = run_cli(["check", "test-clean", "--config", "PER_VMA_LOCK=n", "--no-color"])
    assert code == 0
    assert out.splitlines()[1] == "Configuration: PER_VMA_LOCK=n"
    code, out, _ = run_cli(["check", "test-clean", "--no-color"])
    assert "Configuration:" not in out
