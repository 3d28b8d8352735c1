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


def test_a_trace_names_vm_operations_as_the_kernel_does() -> None:
    """The trace of the mmap_region bug stores shmem's vm_operations_struct in vma->vm_ops:
    the step shows ``&shmem_vm_ops``, never the hooks' addresses (which differ run to run)."""
    r = run_mm("mm-mmap-vs-fault", PER_VMA_CONFIGS[0], {"mmap_region": "pre-33313a747e81"})
    ops = [step.op for f in r.findings for step in f.trace]
    assert "store vma0.vm_ops &shmem_vm_ops" in ops, ops
    assert not [op for op in ops if " at 0x" in op]
