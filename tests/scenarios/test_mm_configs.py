"""The three kernel configurations give consistent verdicts on the mm scenarios.

Before the series with CONFIG_PER_VMA_LOCK=y and after the series (per-VMA locks always built)
must agree on every scenario.  With CONFIG_PER_VMA_LOCK=n (stubs) the verdicts may differ only
where the finding needs a per-VMA lock to exist; those rows say so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import AFTER_SERIES, BEFORE_OFF, BEFORE_ON, run_mm

# scenario, variants, verdict with per-VMA locks, verdict without
MATRIX: list[tuple[str, dict[str, str], str, str]] = [
    ("mm_recursive_read_fault", {}, "deadlock", "deadlock"),
    ("mm_vma_reader_takes_mmap_lock", {}, "deadlock,lock-order", "clean"),  # no VMA lock
    ("mm_lock_vma_under_rcu_write_locked", {}, "clean", "clean"),
    ("mm_fault_vs_munmap_other_vma", {}, "clean", "clean"),
    ("mm_fault_vs_munmap_same_vma", {}, "clean", "clean"),
    ("mm_munmap_waits_for_vma_reader", {}, "clean", "clean"),
    ("mm_mprotect_split_vs_fault", {}, "clean", "clean"),
    ("mm_remote_user_vs_exit", {}, "clean", "clean"),
    ("mm_fork_vs_fault", {}, "clean", "clean"),
    ("mm_fork_vs_fault", {"dup_mmap": "pre-fb49c455323f"}, "invariant", "clean"),
    ("mm_mmap_vs_fault", {}, "clean", "clean"),
    ("mm_mmap_vs_fault", {"mmap_region": "pre-33313a747e81"}, "invariant", "clean"),
    ("mm_stack_expand_vs_fault", {}, "clean", "clean"),
    ("mm_stack_expand_vs_fault", {"expand_downwards": "pre-c137381f71ae"}, "invariant",
     "clean"),
    ("mm_rcu_stale_vma_pointer", {}, "use-after-free", "use-after-free"),
    ("mm_rcu_locked_vma_pointer", {}, "clean", "clean"),
    ("mm_rcu_sync_read", {}, "clean", "clean"),
    ("mm_rcu_sync_free", {}, "clean", "clean"),
]


def verdict(r: object) -> str:
    kinds = sorted(r.kinds())  # type: ignore[attr-defined]
    return ",".join(kinds) if kinds else "clean"


@pytest.mark.parametrize(("scenario", "variants", "with_locks", "without"), MATRIX)
def test_configurations_agree(scenario: str, variants: dict[str, str], with_locks: str,
                              without: str) -> None:
    after = verdict(run_mm(scenario, AFTER_SERIES, variants))
    before_on = verdict(run_mm(scenario, BEFORE_ON, variants))
    before_off = verdict(run_mm(scenario, BEFORE_OFF, variants))
    assert after == before_on == with_locks
    assert before_off == without
