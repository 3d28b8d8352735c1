"""Acceptance: stack_map_lock_vma versions (kernel/bpf/stackmap.c)."""

from __future__ import annotations

import pytest

from vmacheck.scenarios import bpf  # noqa: F401 - registers the scenarios
from vmacheck.scenarios.catalogue import run

P1 = {"stack_map_lock_vma": "hansen-p1"}
SERIES = {"SERIES_APPLIED": True}


@pytest.mark.parametrize("per_vma_lock", [True, False])
@pytest.mark.parametrize("scenario", ["bpf-stackmap-munmap", "bpf-stackmap-mprotect"])
def test_mainline_clean_with_and_without_per_vma_lock(scenario: str, per_vma_lock: bool) -> None:
    r = run(scenario, {"stack_map_lock_vma": "mainline"},
            {"SERIES_APPLIED": False, "PER_VMA_LOCK": per_vma_lock})
    assert r.complete
    assert r.findings == ()
    assert any("build id" in k for k in r.outcome_labels())


def test_p1_unlocks_mmap_lock_it_never_took_and_leaks_the_vma_lock() -> None:
    r = run("bpf-stackmap-munmap", P1, SERIES)
    assert r.complete
    bad = [f for f in r.by_kind("bad-unlock") if "not held" in f.message]
    assert bad and bad[0].thread == "bpf_get_stack"
    assert "mm.mmap_lock" in bad[0].message
    leaks = r.by_kind("resource-leak")
    assert any("vma read lock" in f.message and f.thread == "bpf_get_stack" for f in leaks)
    # the munmap of that VMA then waits for the leaked reader forever
    hangs = r.by_kind("deadlock")
    assert hangs and "munmap" in hangs[0].message and "readers drain" in hangs[0].message
    assert any("stackmap-no-mm-lock-across-build-id-parse" in f.message
               for f in r.by_kind("invariant"))
