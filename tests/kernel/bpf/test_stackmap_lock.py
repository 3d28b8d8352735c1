"""stack_map_lock_vma / stack_map_unlock_vma (kernel/bpf/stackmap.c) in one thread."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck
from vmacheck.kernel.kernel.bpf.stackmap import (
    StackMapVmaLock,
    stack_map_lock_vma,
    stack_map_unlock_vma,
)
from vmacheck.kernel.mm import VM_READ, MmStruct, boot, setup_vma
from vmacheck.kernel.variants import Selection, select


def lock_unlock(version: str, config: dict[str, bool]) -> vmacheck.Result:
    def model() -> list[Any]:
        boot(vmas=2, generations=1, pages=2, threads=1)
        mm = MmStruct("mm")
        setup_vma(mm, 0xC000, 0xD000, VM_READ)

        async def t() -> None:
            lock = StackMapVmaLock(mm)
            if await stack_map_lock_vma(lock, 0xC000) is not None:
                await stack_map_unlock_vma(lock)

        return [("t", t())]

    with select(Selection({"stack_map_lock_vma": version}, config)):
        return vmacheck.explore(model)


@pytest.mark.parametrize("per_vma", [True, False])
def test_mainline_balanced(per_vma: bool) -> None:
    r = lock_unlock("mainline", {"SERIES_APPLIED": False, "PER_VMA_LOCK": per_vma})
    assert r.findings == ()


def test_p1_unbalanced() -> None:
    r = lock_unlock("hansen-p1", {"SERIES_APPLIED": True})
    assert {"bad-unlock", "resource-leak"} <= r.kinds()
