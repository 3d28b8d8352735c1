"""The Hansen series patch 3 helper: ``vma_start_read_unlocked`` posted and fixed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import run_mm


def test_posted_version_dereferences_null_on_the_slow_path() -> None:
    r = run_mm("mm-start-read-unlocked-vs-mprotect",
               variants={"vma_start_read_unlocked": "posted"})
    assert r.kinds() == {"null-deref"}
    (f,) = r.by_kind("null-deref")
    assert f.thread == "vma_start_read_unlocked"
    assert f.location is not None and f.location.function == "vma_start_read_locked_nested"


def test_fixed_version_returns_the_vma_in_every_interleaving() -> None:
    r = run_mm("mm-start-read-unlocked-vs-mprotect",
               variants={"vma_start_read_unlocked": "fixed"})
    assert r.ok
    assert set(r.outcome_labels()) == {"vma"}


def test_lock_vma_under_rcu_wait_waits_out_mprotect() -> None:
    r = run_mm("mm-lock-vma-under-rcu-wait-vs-mprotect")
    assert r.ok
    assert set(r.outcome_labels()) == {"vma"}
