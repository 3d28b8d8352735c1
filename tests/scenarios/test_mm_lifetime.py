"""VMA and mm_struct lifetime scenarios."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import ALL_CONFIGS, BEFORE_OFF, PER_VMA_CONFIGS, run_mm


@pytest.mark.parametrize("config", PER_VMA_CONFIGS)
def test_fault_vs_munmap_of_its_own_vma_covers_every_path(config: dict[str, bool]) -> None:
    r = run_mm("mm-fault-vs-munmap-same-vma", config)
    assert r.ok
    assert set(r.outcome_labels()) == {
        "fault=0x0; events=VMA_LOCK_SUCCESS",
        "fault=0x40; events=VMA_LOCK_ABORT",
        "fault=0x40; events=VMA_LOCK_ABORT,VMA_LOCK_MISS",  # -EAGAIN re-walk
    }


def test_fault_vs_munmap_of_its_own_vma_without_per_vma_locks() -> None:
    r = run_mm("mm-fault-vs-munmap-same-vma", BEFORE_OFF)
    assert r.ok
    assert set(r.outcome_labels()) == {"fault=0x0; events=", "fault=0x40; events="}


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_mprotect_split_vs_fault_is_clean(config: dict[str, bool]) -> None:
    r = run_mm("mm-mprotect-split-vs-fault", config)
    assert r.ok
    assert all("fault=0x0" in x and "mprotect=0" in x for x in r.outcome_labels())


@pytest.mark.parametrize("config", ALL_CONFIGS)
def test_remote_user_vs_exit_is_clean(config: dict[str, bool]) -> None:
    r = run_mm("mm-remote-user-vs-exit", config)
    assert r.ok
    assert "remote: mm exiting" in r.outcome_labels()
    assert ("remote used A" in r.outcome_labels()) == (config != BEFORE_OFF)
