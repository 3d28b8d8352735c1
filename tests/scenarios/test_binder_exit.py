"""The binder owner exits while another process installs a page into it and the shrinker
runs: file and mm lifetimes (fput's task-work deferral, binder_release at the last reference,
mmget_not_zero/mmput_async), and a version that pins the mm wrongly."""

from __future__ import annotations

from pathlib import Path

from vmacheck.kernel.variants import load_variant_file
from vmacheck.scenarios import catalogue

VARIANTS = Path(__file__).resolve().parents[1] / "variants"
SCENARIO = "binder-owner-exit-install-shrink"


def test_owner_exit_during_install_and_shrink_is_clean_at_mainline() -> None:
    r = catalogue.run(SCENARIO, minimise=False)
    assert r.complete and not r.findings
    labels = "; ".join(r.outcome_labels())
    # the race is reached: the install succeeds, the shrinker reclaims or meets an exiting mm
    assert "txn ok" in labels
    assert "skip (mm exiting)" in labels
    assert "reclaim with zap" in labels


def test_install_pinning_only_the_mm_struct_frees_a_mapped_vma() -> None:
    load_variant_file(VARIANTS / "binder_install_no_mmget.py")
    r = catalogue.run(SCENARIO, variants={"binder_install_single_page": "no-mmget"},
                      max_executions=4000)
    kinds = r.kinds()
    assert kinds == {"invariant"}
    (f,) = r.findings
    assert f.thread == "owner exit"
    assert f.message == "vm_area_free(vma0) with PTEs still mapped at 0x4000"
    assert f.minimal_schedule == "1*26,2*8,0*31,2*15"


def test_debug_readers_as_threads_are_clean_and_see_the_states() -> None:
    r = catalogue.run("binder-debug-print-shrink-munmap", minimise=False)
    assert r.complete and not r.findings
    labels = "; ".join(r.outcome_labels())
    # mapped and on the LRU, mapped and reclaimed, and already unmapped (nothing counted)
    assert "print: pages 0:1:0" in labels and "print: pages 0:0:1" in labels
    assert "print: pages 0:0:0" in labels
