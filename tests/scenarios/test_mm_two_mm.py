"""Two processes share the VMA slab (SLAB_TYPESAFE_BY_RCU), and the VMA free regime is a
configuration (``VMA_FREE_RCU``: 6.4 - 6.14 free through RCU, 6.15+ free at once)."""

from __future__ import annotations

from pathlib import Path

from mm_helpers import invariant_names, run_mm

from vmacheck.kernel.variants import load_variant_file

VARIANTS = Path(__file__).resolve().parents[1] / "variants"
RCU_FREE = {"VMA_FREE_RCU": True}
EXCLUSION = "vma reader/writer exclusion (__vma_start_write)"
OWN_MM = "vma read lock is on a vma of the reader's mm (9bbffee67ffd)"


def test_reader_meets_a_vma_reused_by_another_process_and_mainline_is_clean() -> None:
    r = run_mm("mm-vma-reused-by-other-mm")
    assert not r.findings
    labels = set(r.outcome_labels())
    # the reuse is reached, and the reader then never returns the other process's VMA
    assert "reader: NULL; reuse seen" in labels
    assert not any("locked A; reuse seen" in x for x in labels)


def test_with_rcu_free_the_object_is_never_reused_under_the_reader() -> None:
    r = run_mm("mm-vma-reused-by-other-mm", RCU_FREE)
    assert not r.findings
    assert not any("reuse seen" in x and "no reuse" not in x for x in r.outcome_labels())


def test_dropping_the_foreign_reference_without_mmgrab_is_a_use_after_free() -> None:
    load_variant_file(VARIANTS / "vma_start_read_no_mmgrab.py")
    r = run_mm("mm-vma-reused-by-other-mm", variants={"vma_start_read": "no-mmgrab"})
    assert r.kinds() == {"use-after-free"}
    (f,) = r.findings
    assert "mm2.vma_writer_wait" in f.message and "freed mm2" in f.message
    assert f.thread == "reader"
    schedule = f.minimal_schedule
    assert schedule.startswith("0*3,")


def test_a_reader_holding_another_mms_vma_is_not_an_exclusion_failure() -> None:
    load_variant_file(VARIANTS / "vma_start_read_no_mm_check.py")
    r = run_mm("mm-vma-reused-by-other-mm", variants={"vma_start_read": "no-mm-check"})
    names = invariant_names(r)
    assert OWN_MM in names
    assert EXCLUSION not in names


def test_prelock_read_is_clean_with_rcu_free_and_a_use_after_free_without() -> None:
    legal = run_mm("mm-rcu-prelock-read-vs-munmap", RCU_FREE)
    assert not legal.findings
    assert "reader: anon_vma set" in legal.outcome_labels()
    now = run_mm("mm-rcu-prelock-read-vs-munmap")
    assert now.kinds() == {"use-after-free"}
    (f,) = now.findings
    assert f.message == "load vma0.anon_vma touches vma0.anon_vma of freed vma0"
    assert f.minimal_schedule == "0*2,1*18,0"
