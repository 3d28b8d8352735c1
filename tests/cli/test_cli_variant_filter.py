"""check --variant F@V without a scenario keeps the scenarios in which F is called."""

from __future__ import annotations

from vmacheck.cli_commands import _calling
from vmacheck.scenarios.batch import run_plans
from vmacheck.scenarios.catalogue import get
from vmacheck.scenarios.matrix import seed_matrix


def test_only_scenarios_that_call_the_function_are_kept() -> None:
    fixed = {"vma_start_read_unlocked": "fixed"}
    plans = seed_matrix([get("binder-install-munmap"), get("mm-munmap-waits-for-vma-reader")],
                        fixed, {})
    runs, _ = run_plans(plans, {}, jobs=1)
    kept = _calling(runs, set(fixed))
    assert {r.scenario for r in kept} == {"binder-install-munmap"}
    assert all("vma_start_read_unlocked" not in r.called for r in runs
               if r.scenario == "mm-munmap-waits-for-vma-reader")
