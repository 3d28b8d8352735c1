"""Per-step checks re-run only when what they read may have changed find exactly what checks
run after every step find, on kernel scenarios with invariant findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmacheck.explore import checking
from vmacheck.kernel.variants import load_variant_file
from vmacheck.scenarios.catalogue import run

VARIANTS = Path(__file__).resolve().parent.parent / "variants"

CASES = [
    ("binder-shrink-fork", {"binder_alloc_free_page": "hansen-v2"}, None),
    ("binder-install-munmap", {"binder_install_single_page": "hansen-p4"}, None),
    ("mm-munmap-waits-for-vma-reader", {}, None),
    # the read-lock invariants, which watch the fields of the VMAs held read-locked
    ("mm-ops-uffd-register-vs-fault", {"userfaultfd_set_ctx": "no-vma-start-write"},
     "userfaultfd_set_ctx_no_vma_start_write.py"),
    ("mm-ops-mremap-merge-vs-fault", {"vma_expand": "no-target-lock"},
     "vma_expand_no_target_lock.py"),
    ("binder-shrink-partial-munmap", {"binder_alloc_free_page": "hansen-v3"}, None),
    # the binder page invariants, which watch pages[], the freelist and the installed pages
    ("binder-alloc-shrink", {"binder_install_single_page": "llamas-2024",
                             "binder_alloc_free_page": "llamas-zap-outside-mutex"},
     "binder_llamas_zap_outside_mutex.py"),
]


@pytest.mark.parametrize(("scenario", "variants", "path"), CASES)
def test_gated_checks_equal_checks_after_every_step(
        scenario: str, variants: dict[str, str], path: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if path is not None:
        load_variant_file(VARIANTS / path)
    gated = run(scenario, variants)
    monkeypatch.setattr(checking, "CHECK_EVERY_STEP", True)
    every = run(scenario, variants)
    if path is not None or scenario == "binder-shrink-partial-munmap":
        assert any(f.kind in ("invariant", "resource-leak") for f in gated.findings)
    assert gated.executions == every.executions and gated.complete and every.complete
    assert gated.outcome_labels() == every.outcome_labels()
    assert [(f.kind, f.message, f.location, f.occurrences, f.minimal_schedule)
            for f in gated.findings] == \
        [(f.kind, f.message, f.location, f.occurrences, f.minimal_schedule)
         for f in every.findings]
