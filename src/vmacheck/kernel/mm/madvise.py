"""madvise ``MADV_DONTNEED`` / ``MADV_FREE`` and their locking (``mm/madvise.c``).

``get_lock_mode`` gives ``MADVISE_VMA_READ_LOCK`` to the behaviours that only zap or walk PTEs
(``MADV_DONTNEED``, ``MADV_DONTNEED_LOCKED``, ``MADV_FREE``): ``madvise_lock`` takes nothing,
and ``madvise_walk_vmas`` first tries the per-VMA lock (``try_vma_read_lock``); when the VMA
cannot be locked, the range leaves it, or it is userfaultfd-armed, it falls back to the mmap
read lock and walks the VMAs with ``find_vma``.  Behaviours that change VMA flags take the
mmap write lock; the others the mmap read lock.  Known simplifications: no guard regions, no
``process_madvise`` (remote mm), no mmu_gather batching; ``MADV_FREE``'s lazy-free marking
has no LRU to act on, so its PTE walk reads the PTEs under the page-table lock and changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmacheck.kernel.include.linux.atomic import load_all, locked_update
from vmacheck.kernel.include.linux.mm import find_vma_range
from vmacheck.kernel.include.linux.mm_types import (
    EINTR,
    EINVAL,
    ENOMEM,
    PAGE_SIZE,
    VM_PFNMAP,
    MmStruct,
    VmAreaStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_lock,
    mmap_read_lock_killable,
    mmap_read_unlock,
    mmap_write_lock_killable,
    mmap_write_unlock,
    vma_end_read,
)
from vmacheck.kernel.mm.memory import zap_vma_range
from vmacheck.kernel.mm.mmap_lock import lock_vma_under_rcu
from vmacheck.kernel.mm.userfaultfd import userfaultfd_armed
from vmacheck.kernel.variants import kfunc

MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_DONTFORK = 10
MADV_DONTNEED_LOCKED = 24

MADVISE_MMAP_READ_LOCK = "MADVISE_MMAP_READ_LOCK"
MADVISE_MMAP_WRITE_LOCK = "MADVISE_MMAP_WRITE_LOCK"
MADVISE_VMA_READ_LOCK = "MADVISE_VMA_READ_LOCK"

VM_LOCKED = 0x2000
VM_HUGETLB = 0x400000


@dataclass(slots=True)
class MadviseBehavior:
    """``struct madvise_behavior`` (mm/madvise.c): the behaviour, the lock mode (which
    ``try_vma_read_lock`` downgrades to the mmap read lock) and the VMA it locked."""

    mm: MmStruct
    behavior: int
    lock_mode: str
    vma: VmAreaStruct | None = None


def get_lock_mode(behavior: int) -> str:
    """``get_lock_mode`` (mm/madvise.c): which lock a behaviour needs."""
    if behavior in (MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE):
        return MADVISE_VMA_READ_LOCK
    if behavior in (MADV_WILLNEED,):
        return MADVISE_MMAP_READ_LOCK
    return MADVISE_MMAP_WRITE_LOCK


async def madvise_lock(madv: MadviseBehavior) -> int:
    """``madvise_lock`` (mm/madvise.c): nothing for the per-VMA lock mode (each VMA is
    locked by ``madvise_walk_vmas``), else the mmap lock (killable) in the mode needed."""
    err = 0
    if madv.lock_mode == MADVISE_MMAP_READ_LOCK:
        err = await mmap_read_lock_killable(madv.mm)
    elif madv.lock_mode == MADVISE_MMAP_WRITE_LOCK:
        err = await mmap_write_lock_killable(madv.mm)
    return -EINTR if err else 0


async def madvise_unlock(madv: MadviseBehavior) -> None:
    """``madvise_unlock`` (mm/madvise.c): drop what ``madvise_lock`` (or the fallback of
    ``try_vma_read_lock``) took."""
    if madv.lock_mode == MADVISE_MMAP_READ_LOCK:
        await mmap_read_unlock(madv.mm)
    elif madv.lock_mode == MADVISE_MMAP_WRITE_LOCK:
        await mmap_write_unlock(madv.mm)


@kfunc("mainline")
async def try_vma_read_lock(madv: MadviseBehavior, start: int, end: int) -> bool:
    """``try_vma_read_lock`` (mm/madvise.c): ``lock_vma_under_rcu`` the VMA at ``start``;
    the range must stay within it and it must not be userfaultfd-armed.  Otherwise (or if the
    VMA lock fails) take the mmap read lock and switch to ``MADVISE_MMAP_READ_LOCK``; false."""
    vma = await lock_vma_under_rcu(madv.mm, start)
    if vma is not None:
        vm_end = await vma.vm_end.load()
        if end > vm_end or await userfaultfd_armed(vma):
            await vma_end_read(vma)
        else:
            madv.vma = vma
            return True
    await mmap_read_lock(madv.mm)
    madv.lock_mode = MADVISE_MMAP_READ_LOCK
    return False


async def madvise_free_single_vma(vma: VmAreaStruct, start: int, end: int) -> int:
    """``madvise_free_single_vma`` (mm/madvise.c): anonymous VMAs only; walk the range's
    PTEs under the page-table lock (``madvise_free_pte_range``)."""
    ops, file = await load_all([vma.vm_ops, vma.vm_file], "vma_is_anonymous")
    if ops is not None or file is not None:
        return -EINVAL
    mm = vma.vm_mm
    assert mm is not None
    ptes = [mm.pte[a] for a in range(start, end, PAGE_SIZE) if a in mm.pte]
    await locked_update(ptes, [], lambda _: None, f"madvise_free_pte_range [{start:#x}, {end:#x})")
    return 0


async def madvise_dontneed_free(madv: MadviseBehavior, vma: VmAreaStruct, start: int,
                                end: int) -> int:
    """``madvise_dontneed_free`` (mm/madvise.c): reject VM_LOCKED/VM_HUGETLB/VM_PFNMAP
    (``madvise_dontneed_free_valid_vma``), clamp to the VMA, then zap
    (``madvise_dontneed_single_vma``) or lazy-free the range."""
    vm_start, vm_end, flags = await load_all([vma.vm_start, vma.vm_end, vma.vm_flags],
                                             "madvise_dontneed_free_valid_vma")
    if flags & (VM_LOCKED | VM_HUGETLB | VM_PFNMAP):
        return -EINVAL
    start, end = max(start, vm_start), min(end, vm_end)
    if madv.behavior == MADV_FREE:
        return await madvise_free_single_vma(vma, start, end)
    await zap_vma_range(vma, start, end - start)
    return 0


async def madvise_walk_vmas(madv: MadviseBehavior, start: int, end: int) -> int:
    """``madvise_walk_vmas`` (mm/madvise.c): the per-VMA lock path when it applies, else
    every VMA of ``[start, end)`` under the mmap lock (-ENOMEM if part is unmapped)."""
    if madv.lock_mode == MADVISE_VMA_READ_LOCK and await try_vma_read_lock(madv, start, end):
        assert madv.vma is not None
        error = await madvise_dontneed_free(madv, madv.vma, start, end)
        await vma_end_read(madv.vma)
        return error
    unmapped_error = 0
    addr = start
    while addr < end:
        entry = await find_vma_range(madv.mm, addr)
        if entry is None or entry[0] >= end:
            return -ENOMEM
        vm_start, vm_end, vma = entry
        if vm_start > addr:
            unmapped_error = -ENOMEM
        error = await madvise_dontneed_free(madv, vma, max(addr, vm_start), min(end, vm_end))
        if error:
            return error
        addr = vm_end
    return unmapped_error


async def do_madvise(mm: MmStruct, start: int, len_in: int, behavior: int) -> int:
    """``do_madvise`` (mm/madvise.c) for ``MADV_DONTNEED``/``MADV_FREE``: ``madvise_lock``,
    ``madvise_do_behavior`` (``madvise_walk_vmas``), ``madvise_unlock``."""
    if behavior not in (MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE):
        return -EINVAL
    madv = MadviseBehavior(mm, behavior, get_lock_mode(behavior))
    err = await madvise_lock(madv)
    if err:
        return err
    error = await madvise_walk_vmas(madv, start, start + len_in)
    await madvise_unlock(madv)
    return error
