"""RCU scenarios: LKMM litmus tests and VMA pointers kept past the read-side section."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import ALL_CONFIGS, run_mm


def test_rcu_sync_read_never_reaches_forbidden_outcome() -> None:
    r = run_mm("mm-rcu-sync-read")
    assert r.ok
    assert "r0=0 r1=1" not in r.outcome_labels()
    assert {"r0=0 r1=0", "r0=1 r1=0", "r0=1 r1=1"} <= set(r.outcome_labels())


def test_rcu_sync_free_never_reaches_forbidden_outcome() -> None:
    r = run_mm("mm-rcu-sync-free")
    assert r.ok  # includes: no use-after-free of the freed x
    assert "r0=x r1=0" not in r.outcome_labels()
    assert {"r0=x r1=1", "r0=z r1=1"} <= set(r.outcome_labels())


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_stale_vma_pointer_after_rcu_read_unlock_is_use_after_free(
        config: dict[str, bool]) -> None:
    r = run_mm("mm-rcu-stale-vma-pointer", config)
    assert r.kinds() == {"use-after-free"}
    (uaf,) = r.by_kind("use-after-free")
    assert "vm_flags" in uaf.message and uaf.thread == "stale reader"


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_vma_used_under_its_read_lock_is_clean(config: dict[str, bool]) -> None:
    assert run_mm("mm-rcu-locked-vma-pointer", config).ok
