"""``get_user_pages_remote`` (``mm/gup.c``): pin pages of another mm under its mmap lock."""

from __future__ import annotations

from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm import get_page, vma_lookup
from vmacheck.kernel.include.linux.mm_types import EFAULT, PAGE_SIZE, MmStruct, Page
from vmacheck.kernel.include.linux.mmap_lock import mmap_assert_locked
from vmacheck.kernel.mm.memory import VM_FAULT_ERROR, handle_mm_fault

FOLL_WRITE = 0x01
FOLL_NOFAULT = 0x80000


async def get_user_pages_remote(mm: MmStruct, start: int, nr_pages: int,
                                gup_flags: int) -> tuple[int, list[Page]]:
    """``get_user_pages_remote`` → ``__get_user_pages`` (mm/gup.c): caller holds the mmap
    read lock.  For each page: find the VMA (none → stop, -EFAULT if nothing pinned), look the
    PTE up (``follow_page_mask``) and take a reference (``try_grab_folio``); a missing page is
    faulted in unless FOLL_NOFAULT, which stops the walk.  Returns (pinned count or -errno,
    pages)."""
    mmap_assert_locked(mm)
    await might_sleep("get_user_pages_remote")
    pages: list[Page] = []
    for i in range(nr_pages):
        addr = start + i * PAGE_SIZE
        vma = await vma_lookup(mm, addr)
        if vma is None:
            break
        page = await mm.pte[addr].load()
        if page is None:
            if gup_flags & FOLL_NOFAULT:
                break
            if await handle_mm_fault(vma, addr, 0) & VM_FAULT_ERROR:
                break
            page = await mm.pte[addr].load()
            if page is None:
                break
        await get_page(page)
        pages.append(page)
    if not pages:
        return -EFAULT, pages
    return len(pages), pages
