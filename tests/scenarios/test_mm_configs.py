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
    ("mm-recursive-read-fault", {}, "deadlock", "deadlock"),
    ("mm-vma-reader-takes-mmap-lock", {}, "deadlock,lock-order", "clean"),  # no VMA lock
    ("mm-lock-vma-under-rcu-write-locked", {}, "clean", "clean"),
    ("mm-fault-vs-munmap-other-vma", {}, "clean", "clean"),
    ("mm-fault-vs-munmap-same-vma", {}, "clean", "clean"),
    ("mm-munmap-waits-for-vma-reader", {}, "clean", "clean"),
    ("mm-mprotect-split-vs-fault", {}, "clean", "clean"),
    ("mm-remote-user-vs-exit", {}, "clean", "clean"),
    ("mm-fork-vs-fault", {}, "clean", "clean"),
    ("mm-fork-vs-fault", {"dup_mmap": "pre-fb49c455323f"}, "invariant", "clean"),
    ("mm-mmap-vs-fault", {}, "clean", "clean"),
    ("mm-mmap-vs-fault", {"mmap_region": "pre-33313a747e81"}, "invariant", "clean"),
    ("mm-stack-expand-vs-fault", {}, "clean", "clean"),
    ("mm-stack-expand-vs-fault", {"expand_downwards": "pre-c137381f71ae"}, "invariant",
     "clean"),
    ("mm-rcu-stale-vma-pointer", {}, "use-after-free", "use-after-free"),
    ("mm-rcu-locked-vma-pointer", {}, "clean", "clean"),
    ("mm-rcu-sync-read", {}, "clean", "clean"),
    ("mm-rcu-sync-free", {}, "clean", "clean"),
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
