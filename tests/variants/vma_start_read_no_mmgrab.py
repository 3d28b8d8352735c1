"""A planted bug: ``vma_start_read`` drops its reference on a VMA that another process reused
without pinning that process's mm (the fix of commit 9bbffee67ffd "mm: fix a UAF when
vma->mm is freed after vma->vm_refcnt got dropped", undone).

Select it with ``--variant vma_start_read@no-mmgrab``.  ``vma_refcount_put`` wakes the other
mm's ``vma_writer_wait`` after dropping the reference; by then that process may have finished
``exit_mmap`` and freed its mm: ``mm-vma-reused-by-other-mm`` reports a use-after-free.
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


@variant("vma_start_read", "no-mmgrab")
async def vma_start_read_no_mmgrab(mm: MmStruct,
                                   vma: VmAreaStruct) -> VmAreaStruct | int | None:
    """``vma_start_read`` (mm/mmap_lock.c) whose reused-by-another-mm path calls
    ``vma_refcount_put`` without ``mmgrab``/``mmdrop`` around it."""
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
    other_mm = await vma.slot.vm_mm.load()
    if other_mm is not mm:
        await rcu_read_unlock()
        await vma_refcount_put(vma)  # the other mm is not pinned
        return None
    life = vma.slot.current or vma
    values = await load_all([mm.mm_lock_seq, *life.lock_view()], "vma_start_read: seq recheck")
    if values[1] == values[0]:
        await vma_refcount_put(vma)
        await rcu_read_unlock()
        return None
    note_vma_read_locked(life, mm)
    return life
