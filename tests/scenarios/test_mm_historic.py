"""Historic per-VMA lock bugs: the kernel's version is clean, the version without the fix is
caught by a model invariant, in both configurations with per-VMA locks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import BEFORE_OFF, PER_VMA_CONFIGS, invariant_names, run_mm

CASES = [
    ("mm-fork-vs-fault", "dup_mmap", "pre-fb49c455323f",
     "dup_mmap copies no read-locked vma (fb49c455323f)"),
    ("mm-mmap-vs-fault", "mmap_region", "pre-33313a747e81",
     "read-locked vma is fully set up (33313a747e81)"),
    ("mm-stack-expand-vs-fault", "expand_downwards", "pre-c137381f71ae",
     "vma fields stable under a read lock (vma_start_write)"),
]


@pytest.mark.parametrize("config", PER_VMA_CONFIGS)
@pytest.mark.parametrize(("scenario", "function", "buggy", "invariant"), CASES)
def test_kernel_version_is_clean(scenario: str, function: str, buggy: str, invariant: str,
                                 config: dict[str, bool]) -> None:
    assert run_mm(scenario, config).ok


@pytest.mark.parametrize("config", PER_VMA_CONFIGS)
@pytest.mark.parametrize(("scenario", "function", "buggy", "invariant"), CASES)
def test_fix_removed_is_found(scenario: str, function: str, buggy: str, invariant: str,
                              config: dict[str, bool]) -> None:
    r = run_mm(scenario, config, {function: buggy})
    assert r.kinds() == {"invariant"}
    assert invariant in invariant_names(r)


@pytest.mark.parametrize(("scenario", "function", "buggy", "invariant"), CASES)
def test_without_per_vma_locks_the_bugs_cannot_happen(scenario: str, function: str,
                                                      buggy: str, invariant: str) -> None:
    assert run_mm(scenario, BEFORE_OFF).ok
    assert run_mm(scenario, BEFORE_OFF, {function: buggy}).ok
