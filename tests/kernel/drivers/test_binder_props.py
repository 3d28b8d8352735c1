"""The install property ``binder-install-into-checked-vma`` (``binder_page_insert``): binder
inserts only into a VMA it identified as its own (``mapped`` checked) under a lock that still
pins it."""

from __future__ import annotations

from typing import Any

import vmacheck
from vmacheck.kernel.drivers.android import binder_install
from vmacheck.kernel.drivers.android.binder import setup_binder_mapping
from vmacheck.kernel.drivers.android.binder_alloc import BinderFreelist, binder_page_alloc
from vmacheck.kernel.mm import MmStruct, boot, mmap_read_lock, mmap_read_unlock, vma_lookup


def insert(check_first: bool, unlock_between: bool) -> set[str]:
    def model() -> list[Any]:
        boot(vmas=2, generations=1, pages=3, threads=1)
        mm = MmStruct("mm")
        alloc, _, _ = setup_binder_mapping(mm, BinderFreelist(), 0x4000, 1, mdata_for=())
        binder_install.reset_ghosts()

        async def t() -> None:
            page = await binder_page_alloc(alloc, 0)
            await mmap_read_lock(mm)
            vma = await vma_lookup(mm, 0x4000)
            if check_first:
                binder_install._note_identified(alloc, vma, True)
            if unlock_between:
                await mmap_read_unlock(mm)
                await mmap_read_lock(mm)
                binder_install._IDENTIFIED[(id(alloc), 0)] = ("stale", None)
            await binder_install._binder_vm_insert_page(alloc, vma, 0x4000, page)
            await mmap_read_unlock(mm)

        return [("t", t())]

    r = vmacheck.explore(model)
    return {f.message.split(":")[1].strip() for f in r.by_kind("invariant")}


def test_install_property() -> None:
    assert insert(True, False) == set()
    assert "binder-install-into-checked-vma" in insert(False, False)
    assert "binder-install-into-checked-vma" in insert(True, True)
