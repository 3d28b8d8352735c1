"""Locking the next VMA of an address-space walk under RCU: ``lock_next_vma`` and its
mmap-lock fallback (``mm/mmap_lock.c``, 6.17+), used by ``/proc/pid/maps`` and
``PROCMAP_QUERY`` (``fs/proc/task_mmu.c``).

A :class:`VmaIterator` is ``struct vma_iterator`` reduced to the index the next ``vma_next``
searches from.  ``mmap_lock_speculate_try_begin``/``_retry`` read ``mm_lock_seq`` (even: no
writer).
"""

from __future__ import annotations

from dataclasses import dataclass

from vmacheck.explore import loop_begin, retry
from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm import tree_find_from
from vmacheck.kernel.include.linux.mm_types import EAGAIN, EINTR, MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_lock_killable,
    mmap_read_unlock,
    vma_end_read,
    vma_start_read_locked,
)
from vmacheck.kernel.mm.mmap_lock import vma_start_read
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock
from vmacheck.kernel.variants import kfunc


@dataclass(slots=True)
class VmaIterator:
    """``struct vma_iterator`` (include/linux/mm_types.h): the mm and the next index."""

    mm: MmStruct
    index: int = 0


async def vma_next(vmi: VmaIterator) -> VmAreaStruct | None:
    """``vma_next`` (include/linux/mm.h): the first VMA ending above the iterator's index;
    the iterator moves past it.  One read of the tree."""
    tree = await vmi.mm.mm_mt.load()
    entry = tree_find_from(tree, vmi.index)
    if entry is None:
        return None
    vmi.index = entry[1]
    return entry[2]


def vma_iter_set(vmi: VmaIterator, addr: int) -> None:
    """``vma_iter_set`` (mm/vma.h): restart the walk at ``addr`` (local state)."""
    vmi.index = addr


async def lock_next_vma_under_mmap_lock(mm: MmStruct, vmi: VmaIterator,
                                        from_addr: int) -> VmAreaStruct | int | None:
    """``lock_next_vma_under_mmap_lock`` (mm/mmap_lock.c): under the mmap read lock
    (killable), look the next VMA up again from ``from_addr`` and ``vma_start_read_locked``
    it (-EAGAIN on the refcount-overflow failure)."""
    if await mmap_read_lock_killable(mm):
        return -EINTR
    vma_iter_set(vmi, from_addr)
    vma: VmAreaStruct | int | None = await vma_next(vmi)
    if isinstance(vma, VmAreaStruct) and not await vma_start_read_locked(vma):
        vma = -EAGAIN
    await mmap_read_unlock(mm)
    return vma


@kfunc("mainline")
async def lock_next_vma(mm: MmStruct, vmi: VmaIterator,
                        from_addr: int) -> VmAreaStruct | int | None:
    """``lock_next_vma`` (mm/mmap_lock.c): called in an RCU read section; find the next VMA
    and ``vma_start_read`` it, re-walking from ``from_addr`` when it was detached (-EAGAIN).
    A locked VMA that ends at or below ``from_addr`` (reused memory), or one starting above
    it when the address space may have changed (another VMA may now fill the gap), is
    unlocked; then, and when ``vma_start_read`` fails, the mmap-lock fallback
    (``lock_next_vma_under_mmap_lock``) runs outside RCU.  Returns with RCU held."""
    while True:
        loop_begin()
        mm_wr_seq = await mm.mm_lock_seq.load()
        mmap_unlocked = mm_wr_seq % 2 == 0
        found = await vma_next(vmi)
        if found is None:
            return None
        vma = await vma_start_read(mm, found)
        if isinstance(vma, int):
            await rcu_read_lock()
            vma_iter_set(vmi, from_addr)
            await retry()
            continue
        if vma is not None:
            start, end = await load_all([vma.vm_start, vma.vm_end], "lock_next_vma: checks")
            ok = from_addr < end
            if ok and from_addr < start and (
                    not mmap_unlocked or await mm.mm_lock_seq.load() != mm_wr_seq):
                vma_iter_set(vmi, from_addr)
                ok = vma is await vma_next(vmi)
            if ok:
                return vma
            await rcu_read_unlock()
            await vma_end_read(vma)
        result = await lock_next_vma_under_mmap_lock(mm, vmi, from_addr)
        await rcu_read_lock()
        if isinstance(result, VmAreaStruct):
            vma_iter_set(vmi, await result.vm_end.load())
        else:
            vma_iter_set(vmi, from_addr)
        return result
