"""Per-step checks re-run only when what they read may have changed find exactly what checks
run after every step find, on kernel scenarios with invariant findings."""

from __future__ import annotations

import pytest

from vmacheck.explore.core import Execution
from vmacheck.scenarios.catalogue import run

CASES = [
    ("binder-shrink-fork", {"binder_alloc_free_page": "hansen-v2"}),
    ("binder-install-munmap", {"binder_install_single_page": "hansen-p4"}),
    ("mm-munmap-waits-for-vma-reader", {}),
]


@pytest.mark.parametrize(("scenario", "variants"), CASES)
def test_gated_checks_equal_checks_after_every_step(
        scenario: str, variants: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    gated = run(scenario, variants)
    monkeypatch.setattr(Execution, "check_every_step", True)
    every = run(scenario, variants)
    assert gated.executions == every.executions and gated.complete and every.complete
    assert gated.outcome_labels() == every.outcome_labels()
    assert [(f.kind, f.message, f.location, f.occurrences, f.minimal_schedule)
            for f in gated.findings] == \
        [(f.kind, f.message, f.location, f.occurrences, f.minimal_schedule)
         for f in every.findings]
