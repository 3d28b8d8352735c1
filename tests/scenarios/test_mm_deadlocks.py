"""mm deadlock scenarios: the recursive mmap read lock and the VMA-writer wait cycle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import ALL_CONFIGS, BEFORE_OFF, PER_VMA_CONFIGS, run_mm


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_recursive_read_fault_deadlocks_in_every_configuration(config: dict[str, bool]) -> None:
    r = run_mm("mm-recursive-read-fault", config)
    assert r.kinds() == {"deadlock"}
    (dl,) = r.by_kind("deadlock")
    assert sorted(dl.extra["cycle"]) == ["copy_to_user under mmap_read_lock", "mmap_write_lock"]
    assert "down_read (granted) mm.mmap_lock" in dl.message
    assert "down_write (granted) mm.mmap_lock" in dl.message


@pytest.mark.parametrize("config", PER_VMA_CONFIGS)
def test_vma_reader_taking_mmap_lock_deadlocks_through_vma_writer_wait(
        config: dict[str, bool]) -> None:
    r = run_mm("mm-vma-reader-takes-mmap-lock", config)
    assert r.kinds() == {"deadlock", "lock-order"}
    (dl,) = r.by_kind("deadlock")
    assert sorted(dl.extra["cycle"]) == ["vma reader", "vma writer"]
    assert "vma_writer_wait" in dl.message
    # lockdep view: the writer takes the VMA lock class under mmap_lock, the reader the reverse
    (lo,) = r.by_kind("lock-order")
    assert sorted(lo.extra["cycle"]) == ["mmap_lock", "vm_area_struct->vm_lock"]


def test_vma_reader_taking_mmap_lock_is_clean_without_per_vma_locks() -> None:
    # with CONFIG_PER_VMA_LOCK=n lock_vma_under_rcu is the NULL stub: no VMA lock is held
    assert run_mm("mm-vma-reader-takes-mmap-lock", BEFORE_OFF).ok
