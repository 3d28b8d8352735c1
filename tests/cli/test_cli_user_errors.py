"""User mistakes are user errors (one line on stderr naming what is wrong, exit 2), and the
command line is consistent: replays paste, exit codes agree, interrupted SARIF says so."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from pathlib import Path

import pytest

from vmacheck.cli import main

VARIANTS = Path(__file__).resolve().parents[1] / "variants"
NO_WAIT = str(VARIANTS / "vma_start_write_no_wait.py")


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def usage_error(args: list[str]) -> str:
    code, out, err = run_cli(args)
    assert code == 2, (args, code, out, err)
    assert err.count("\n") == 1 and err.startswith("vmacheck: error: "), err
    assert "Traceback" not in err and out == "", (out, err)
    return err.strip()


BAD_FILES = {
    "not async": ("from vmacheck.kernel.variants import variant\n\n"
                  "@variant('vma_start_write', 'sync')\n"
                  "def vma_start_write_sync(vma):\n    return None\n",
                  4, "variant vma_start_write_sync is not 'async def'"),
    "asyncio": ("import asyncio\nfrom vmacheck.kernel.variants import variant\n\n"
                "@variant('vma_start_write', 'aio')\n"
                "async def f(vma):\n    await asyncio.sleep(0)\n", 1, "uses asyncio"),
    "time.sleep": ("import time\nfrom vmacheck.kernel.variants import variant\n\n"
                   "@variant('vma_start_write', 'sleepy')\n"
                   "async def f(vma):\n    time.sleep(0.1)\n", 6, "calls time.sleep"),
    "file I/O": ("from vmacheck.kernel.variants import variant\n\n"
                 "@variant('vma_start_write', 'io')\n"
                 "async def f(vma):\n    open('/tmp/x').read()\n", 5, "does file I/O"),
    "sys.exit": ("import sys\nfrom vmacheck.kernel.variants import variant\n\n"
                 "@variant('vma_start_write', 'quits')\n"
                 "async def f(vma):\n    sys.exit(1)\n", 6, "calls sys.exit"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_variant_file_mistakes_name_file_line_and_problem(case: str, tmp_path: Path) -> None:
    body, line, problem = BAD_FILES[case]
    path = tmp_path / "mine.py"
    path.write_text(body)
    err = usage_error(["check", "mm-munmap-waits-for-vma-reader", "--variant-file", str(path)])
    assert f"{path}:{line}: {problem}" in err, err


def test_variant_file_may_not_redefine_a_built_in_version(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text("from vmacheck.kernel.variants import variant\n\n"
                    "@variant('vma_start_write', 'mainline')\n"
                    "async def f(vma):\n    return None\n")
    err = usage_error(["check", "mm-munmap-waits-for-vma-reader", "--variant-file", str(path)])
    assert "redefines the built-in version vma_start_write@mainline" in err
    # and the built-in version is still the kernel's
    code, out, _ = run_cli(["check", "mm-munmap-waits-for-vma-reader", "--no-color"])
    assert code == 0, out


def test_two_versions_of_one_function() -> None:
    err = usage_error(["check", "binder-shrink-fork", "--variant",
                       "binder_alloc_free_page@hansen-v2", "--variant",
                       "binder_alloc_free_page@hansen-v3"])
    assert "two versions of binder_alloc_free_page" in err


def test_variant_for_a_function_the_scenario_never_calls() -> None:
    err = usage_error(["check", "mm-recursive-read-fault", "--variant",
                       "binder_alloc_free_page@hansen-v2"])
    assert "mm-recursive-read-fault never calls binder_alloc_free_page" in err


def test_unknown_config_names_the_closest() -> None:
    err = usage_error(["check", "test-lost-update", "--config", "PER_VMA_LOK=n"])
    assert "unknown switch PER_VMA_LOK; did you mean PER_VMA_LOCK?" in err


def test_unknown_version_lists_the_valid_ones() -> None:
    err = usage_error(["check", "binder-shrink-fork", "--variant", "binder_alloc_free_page@v9"])
    assert "versions of binder_alloc_free_page: hansen-v1, hansen-v2, hansen-v3" in err


@pytest.mark.parametrize("args", [["--max-seconds", "-1"], ["--max-seconds", "nan"],
                                  ["--max-seconds", "inf"], ["--max-executions", "-3"],
                                  ["--max-steps", "0"], ["--pct-depth", "0"],
                                  ["--preemption-bound", "-1"]])
def test_negative_or_nan_budgets(args: list[str]) -> None:
    err = usage_error(["check", "test-lost-update", *args])
    assert args[0] in err


def test_empty_schedule() -> None:
    err = usage_error(["replay", "test-lost-update", "--schedule", ""])
    assert "empty schedule" in err


@pytest.mark.parametrize("opt", ["--html", "--sarif"])
def test_output_paths_are_checked_before_exploring(opt: str, tmp_path: Path) -> None:
    err = usage_error(["check", "test-slow-minimise", opt, str(tmp_path)])
    assert "is a directory" in err
    err = usage_error(["check", "test-slow-minimise", opt, str(tmp_path / "no" / "r.x")])
    assert "does not exist" in err


def test_variant_file_alone_runs_the_versions_it_defines() -> None:
    code, out, _ = run_cli(["check", "mm-munmap-waits-for-vma-reader", "--variant-file",
                            NO_WAIT, "--no-color"])
    assert code == 1, out
    assert "vma_start_write@no-wait" in out
    assert "vma reader/writer exclusion" in out


def test_printed_replay_includes_the_variant_file_and_pastes() -> None:
    code, out, _ = run_cli(["check", "mm-munmap-waits-for-vma-reader", "--variant-file",
                            NO_WAIT, "--variant", "vma_start_write@no-wait", "--no-color"])
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("  vmacheck replay "))
    assert f"--variant-file {NO_WAIT}" in line
    code, replayed, err = run_cli(shlex.split(line)[1:])
    assert code == 1, err
    assert "vma reader/writer exclusion" in replayed


def test_outcomes_exit_code_is_the_same_with_and_without_json() -> None:
    code_text, text, _ = run_cli(["outcomes", "test-lost-update"])
    code_json, doc, _ = run_cli(["outcomes", "test-lost-update", "--json"])
    assert code_text == code_json == 1
    assert "findings: 1 (invariant)" in text
    assert json.loads(doc)[0]["findings"]
    assert run_cli(["outcomes", "test-clean"])[0] == run_cli(["outcomes", "test-clean",
                                                              "--json"])[0] == 0


def test_sarif_says_when_the_check_was_interrupted(tmp_path: Path) -> None:
    from vmacheck.report.sarif import to_sarif
    from vmacheck.scenarios.catalogue import ScenarioRun, run

    result = run("test-lost-update")
    runs = [ScenarioRun("test-lost-update", {}, {}, result)]
    assert to_sarif(runs)["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert to_sarif(runs, interrupted=True)["runs"][0]["invocations"][0][
        "executionSuccessful"] is False
