"""``--inject ENOMEM``: every allocation site is a branch; binder's mmap handler failing
midway rolls back, and a version without the rollback is found."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from vmacheck.cli import main
from vmacheck.kernel.variants import load_variant_file
from vmacheck.scenarios import catalogue

VARIANTS = Path(__file__).resolve().parents[1] / "variants"
SCENARIO = "binder-mmap-enomem"


def test_failing_mmap_handler_leaves_nothing_behind_at_mainline() -> None:
    r = catalogue.run(SCENARIO)
    assert r.complete and not r.findings
    labels = "; ".join(r.outcome_labels())
    # the handler's allocations fail in some executions, succeed in others
    assert "mmap error -12" in labels and "mmap ok" in labels
    assert "txn ok" in labels and "txn error -12" in labels


def test_without_injection_nothing_fails() -> None:
    r = catalogue.run(SCENARIO, config={"INJECT_ENOMEM": False})
    assert r.complete and not r.findings
    assert not any("-12" in label for label in r.outcome_labels())


def test_missing_rollback_is_found() -> None:
    load_variant_file(VARIANTS / "binder_mmap_no_rollback.py")
    r = catalogue.run(SCENARIO, variants={"binder_alloc_mmap_handler": "no-rollback"})
    assert r.kinds() == {"invariant"}
    (f,) = r.findings
    assert f.message == "invariant violated: binder-mmap-failure-rolled-back"
    assert f.minimal_schedule == "0*20,0:1,0*4,1"
    assert any("kzalloc(binder_buffer): ENOMEM?" in step.op for step in f.trace)


def test_inject_option_makes_allocations_branch_in_any_scenario() -> None:
    def executions(*extra: str) -> int:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert main(["check", "mm-fault-vs-munmap-same-vma", "--json", *extra]) == 0
        runs = json.loads(out.getvalue())
        return int(runs[0]["executions"])

    assert executions("--inject", "ENOMEM") > executions()
