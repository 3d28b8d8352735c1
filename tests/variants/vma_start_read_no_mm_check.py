"""A planted bug: ``vma_start_read`` without its ``vm_mm`` check (commit 9bbffee67ffd moved
it there from ``lock_vma_under_rcu``; here it is in neither).

Select it with ``--variant vma_start_read@no-mm-check``.  A reader whose VMA object was freed
and reused by another process returns that process's VMA read-locked: the built-in check
``vma read lock is on a vma of the reader's mm`` reports it (not the reader/writer exclusion
check: the reader compared the stamp with its own mm's sequence, not the owner's).
"""

from vmacheck.kernel.include.linux.atomic import atomic_cond_update, load_all
from vmacheck.kernel.include.linux.mm_types import (
    EAGAIN,
    VM_REFCNT_LIMIT,
    MmStruct,
    VmAreaStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import vma_refcount_put
from vmacheck.kernel.mm.mmap_lock import note_vma_read_locked
from vmacheck.kernel.rcu import rcu_read_unlock
from vmacheck.kernel.variants import variant


@variant("vma_start_read", "no-mm-check")
async def vma_start_read_no_mm_check(mm: MmStruct,
                                     vma: VmAreaStruct) -> VmAreaStruct | int | None:
    """``vma_start_read`` (mm/mmap_lock.c) with no ``vma->vm_mm != mm`` check."""
    stamp, seq = await load_all([vma.vm_lock_seq, mm.mm_lock_seq], "vma_start_read: seq check")
    if stamp == seq:
        await rcu_read_unlock()
        return None
    old = await atomic_cond_update(vma.vm_refcnt,
                                   lambda v: v + 1 if 0 < v < VM_REFCNT_LIMIT else v,
                                   "__refcount_inc_not_zero_limited_acquire")
    if not 0 < old < VM_REFCNT_LIMIT:
        await rcu_read_unlock()
        return -EAGAIN if old == 0 else None
    life = vma.slot.current or vma
    values = await load_all([mm.mm_lock_seq, *life.lock_view()], "vma_start_read: seq recheck")
    if values[1] == values[0]:
        await vma_refcount_put(vma)
        await rcu_read_unlock()
        return None
    note_vma_read_locked(life, mm)
    return life
