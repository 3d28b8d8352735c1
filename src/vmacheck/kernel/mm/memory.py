"""Page tables and page faults (``mm/memory.c``).

A PTE table is processed under its page-table lock (PTL) as one step (``zap_pte_range``,
``insert_page``); page references taken by PTEs are dropped after the TLB flush
(``tlb_finish_mmu``).  Faults handle anonymous memory (``do_anonymous_page``) and call the
driver's ``vm_ops->fault`` otherwise; copy-on-write, swap and huge pages are not modelled.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import WARN_ON
from vmacheck.kernel.include.linux.atomic import load_all, locked_update
from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm import alloc_page, get_page, put_page
from vmacheck.kernel.include.linux.mm_types import (
    EBUSY,
    EFAULT,
    PAGE_SIZE,
    VM_MIXEDMAP,
    MmStruct,
    Page,
    VmAreaStruct,
    VmOperationsStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_assert_write_locked,
    mmap_read_trylock,
    mmap_read_unlock,
    vma_assert_stabilised,
    vma_end_read,
)
from vmacheck.kernel.mm.rmap import __anon_vma_prepare as __anon_vma_prepare
from vmacheck.kernel.mm.rmap import folio_add_new_anon_rmap

# include/linux/mm_types.h: enum vm_fault_reason
VM_FAULT_OOM = 0x000001
VM_FAULT_SIGBUS = 0x000002
VM_FAULT_MAJOR = 0x000004
VM_FAULT_SIGSEGV = 0x000040
VM_FAULT_RETRY = 0x000400
VM_FAULT_COMPLETED = 0x004000
VM_FAULT_ERROR = VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV

# include/linux/mm_types.h: enum fault_flag
FAULT_FLAG_WRITE = 1 << 0
FAULT_FLAG_ALLOW_RETRY = 1 << 2
FAULT_FLAG_KILLABLE = 1 << 4
FAULT_FLAG_TRIED = 1 << 5
FAULT_FLAG_USER = 1 << 6
FAULT_FLAG_INTERRUPTIBLE = 1 << 11
FAULT_FLAG_VMA_LOCK = 1 << 12
FAULT_FLAG_DEFAULT = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE | FAULT_FLAG_INTERRUPTIBLE


# --------------------------------------------------------------------------- zap


def _range_ptes(mm: MmStruct, start: int, end: int) -> list[Any]:
    return [mm.pte[a] for a in range(start, end, PAGE_SIZE) if a in mm.pte]


async def unmap_page_range(mm: MmStruct, start: int, end: int) -> list[Page]:
    """``unmap_page_range``/``zap_pte_range`` (mm/memory.c): clear the PTEs of
    ``[start, end)`` under the PTL; returns the pages for ``tlb_finish_mmu``."""
    ptes = _range_ptes(mm, start, end)
    if not ptes:
        return []
    old = await locked_update(ptes, ptes, lambda values: [None] * len(values),
                              f"zap_pte_range {mm.name} [{start:#x}, {end:#x})")
    return [p for p in old if p is not None]


async def tlb_finish_mmu(pages: list[Page]) -> None:
    """``tlb_finish_mmu`` (mm/mmu_gather.c): after the TLB flush, drop the references the
    zapped PTEs held."""
    for page in pages:
        await put_page(page)


async def zap_vma_range(vma: VmAreaStruct, address: int, size: int) -> None:
    """``zap_vma_range`` (mm/memory.c; ``zap_page_range_single`` before 2026): unmap
    ``[address, address + size)`` of ``vma``.  Reads the VMA (so a freed one is a
    use-after-free); the caller must have stabilised it (``vma_assert_stabilised``)."""
    vma_assert_stabilised(vma)
    await might_sleep("zap_vma_range")
    await vma.vm_flags.load()
    mm = vma.vm_mm
    assert mm is not None
    pages = await unmap_page_range(mm, address, address + size)
    await tlb_finish_mmu(pages)


# --------------------------------------------------------------------------- insert


async def insert_page(vma: VmAreaStruct, addr: int, page: Page) -> int:
    """``insert_page``/``insert_page_into_pte_locked`` (mm/memory.c): under the PTL,
    -EBUSY if the PTE is populated, else take a page reference and set the PTE."""
    mm = vma.vm_mm
    assert mm is not None
    pte = mm.pte[addr]

    def install(values: list[Any]) -> list[Any] | None:
        current, ref = values
        if current is not None:
            return None
        return [page, ref + 1]

    old = await locked_update([pte, page._refcount], [pte, page._refcount], install,
                              f"insert_page {page} at {addr:#x}")
    return -EBUSY if old[0] is not None else 0


async def vm_insert_page(vma: VmAreaStruct, addr: int, page: Page) -> int:
    """``vm_insert_page`` (mm/memory.c): insert a driver page into a user VMA; -EFAULT
    outside the VMA, -EBUSY if already populated.  Sets VM_MIXEDMAP under the mmap write lock
    if needed.  The caller must have stabilised the VMA (``vma_assert_stabilised``)."""
    vma_assert_stabilised(vma)
    await might_sleep("vm_insert_page: get_locked_pte may allocate a page table")
    start, end, flags = await load_all([vma.vm_start, vma.vm_end, vma.vm_flags],
                                       f"vm_insert_page: check {vma.name}")
    if addr < start or addr >= end:
        return -EFAULT
    if not flags & VM_MIXEDMAP:
        assert vma.vm_mm is not None
        mmap_assert_write_locked(vma.vm_mm)
        await vma.vm_flags.store(flags | VM_MIXEDMAP)
    return await insert_page(vma, addr, page)


# --------------------------------------------------------------------------- faults


async def __vmf_anon_prepare(vma: VmAreaStruct, flags: int) -> int:
    """``__vmf_anon_prepare`` (mm/memory.c): make sure the VMA has an anon_vma.  Under the
    VMA lock that needs ``mmap_read_trylock``; if it fails, return VM_FAULT_RETRY."""
    if await vma.anon_vma.load() is not None:
        return 0
    mm = vma.vm_mm
    assert mm is not None
    if flags & FAULT_FLAG_VMA_LOCK and not await mmap_read_trylock(mm):
        return VM_FAULT_RETRY
    ret = 0
    if await __anon_vma_prepare(vma):
        ret = VM_FAULT_OOM
    if flags & FAULT_FLAG_VMA_LOCK:
        await mmap_read_unlock(mm)
    return ret


async def vmf_anon_prepare(vma: VmAreaStruct, flags: int) -> int:
    """``vmf_anon_prepare`` (mm/internal.h): ``__vmf_anon_prepare``; on VM_FAULT_RETRY the
    VMA lock is dropped here (the protocol of 4089eef0e6ac)."""
    ret = await __vmf_anon_prepare(vma, flags)
    if ret & VM_FAULT_RETRY:
        await vma_end_read(vma)
    return ret


async def do_anonymous_page(vma: VmAreaStruct, address: int, flags: int) -> int:
    """``do_anonymous_page`` (mm/memory.c): allocate a page and map it with
    ``vma->vm_page_prot`` unless someone mapped one meanwhile (``pte_none`` re-check under
    the PTL)."""
    ret = await vmf_anon_prepare(vma, flags)
    if ret:
        return ret
    page = await alloc_page()
    if page is None:
        return VM_FAULT_OOM
    prot = await vma.vm_page_prot.load()
    WARN_ON(prot is None, f"do_anonymous_page: {vma.name} has no vm_page_prot")
    mm = vma.vm_mm
    assert mm is not None
    await folio_add_new_anon_rmap(page, vma, address)
    if not await mm.pte[address].cas(None, page):
        await put_page(page)
    return 0


async def handle_mm_fault(vma: VmAreaStruct, address: int, flags: int) -> int:
    """``handle_mm_fault`` (mm/memory.c) → ``handle_pte_fault``: a present PTE needs nothing
    (no copy-on-write in the model); a missing one goes to ``vm_ops->fault`` (``do_fault``)
    or ``do_anonymous_page``.  With FAULT_FLAG_VMA_LOCK, RETRY and COMPLETED mean the VMA lock
    was already dropped."""
    mm = vma.vm_mm
    assert mm is not None
    vm_ops: VmOperationsStruct | None = await vma.vm_ops.load()
    if await mm.pte[address].load() is not None:
        return 0
    if vm_ops is not None and vm_ops.fault is not None:
        return await vm_ops.fault(vma, address, flags)
    return await do_anonymous_page(vma, address, flags)


async def copy_page_range(dst_vma: VmAreaStruct, src_vma: VmAreaStruct) -> int:
    """``copy_page_range`` (mm/memory.c): copy the parent's PTEs into the child, each mapped
    page gaining a reference (``copy_present_pte``)."""
    src_mm, dst_mm = src_vma.vm_mm, dst_vma.vm_mm
    assert src_mm is not None and dst_mm is not None
    start, end = await load_all([src_vma.vm_start, src_vma.vm_end], "copy_page_range")
    for addr in range(start, end, PAGE_SIZE):
        page = await src_mm.pte[addr].load()
        if page is not None:
            await get_page(page)
            await dst_mm.pte[addr].store(page)
    return 0
