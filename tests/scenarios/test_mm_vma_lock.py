"""mm per-VMA lock scenarios: readers never block, writers wait for readers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vmacheck.kernel.variants import load_variant_file

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import (
    ALL_CONFIGS,
    BEFORE_OFF,
    PER_VMA_CONFIGS,
    invariant_names,
    run_mm,
)

VARIANTS = Path(__file__).resolve().parents[1] / "variants"


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_lock_vma_under_rcu_returns_null_on_write_locked_vma(config: dict[str, bool]) -> None:
    r = run_mm("mm-lock-vma-under-rcu-write-locked", config)
    assert r.ok  # no deadlock: the reader never blocked while the writer waited for it
    assert set(r.outcome_labels()) == {"lock_vma_under_rcu=NULL"}


@pytest.mark.parametrize("config", PER_VMA_CONFIGS)
def test_fault_on_a_completes_inside_munmap_of_b(config: dict[str, bool]) -> None:
    r = run_mm("mm-fault-vs-munmap-other-vma", config)
    assert r.ok
    labels = r.outcome_labels()
    assert all(x.startswith("fault=0") for x in labels)
    assert any("fault ran inside munmap's mmap write section" in x for x in labels)
    assert all("VMA_LOCK_SUCCESS" in x for x in labels)


def test_fault_on_a_waits_for_munmap_of_b_without_per_vma_locks() -> None:
    r = run_mm("mm-fault-vs-munmap-other-vma", BEFORE_OFF)
    assert r.ok
    assert not any("inside munmap" in x for x in r.outcome_labels())


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_munmap_completes_only_after_vma_end_read(config: dict[str, bool]) -> None:
    r = run_mm("mm-munmap-waits-for-vma-reader", config)
    assert r.ok
    if config in PER_VMA_CONFIGS:
        assert {"reader: locked A", "reader: NULL"} <= set(r.outcome_labels())


def test_user_variant_vma_start_write_no_wait_breaks_reader_writer_exclusion() -> None:
    ids = load_variant_file(VARIANTS / "vma_start_write_no_wait.py")
    assert "vma_start_write@no-wait" in ids or ids == []
    r = run_mm("mm-munmap-waits-for-vma-reader", variants={"vma_start_write": "no-wait"})
    assert r.kinds() == {"invariant"}
    assert "vma reader/writer exclusion (__vma_start_write)" in invariant_names(r)
