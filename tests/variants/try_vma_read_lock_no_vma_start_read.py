"""madvise's ``try_vma_read_lock`` that finds the VMA under RCU but never read-locks it.

Load with ``--variant-file`` and select ``try_vma_read_lock@no-vma-start-read``: the
``vma_start_read`` of ``lock_vma_under_rcu`` is dropped, so nothing stops munmap from
freeing the VMA while MADV_DONTNEED still uses it.
"""

from vmacheck.kernel.include.linux.mm import mas_walk
from vmacheck.kernel.mm.madvise import MADVISE_MMAP_READ_LOCK, MadviseBehavior
from vmacheck.kernel.mm.mmap_lock import mmap_read_lock
from vmacheck.kernel.mm.userfaultfd import userfaultfd_armed
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock
from vmacheck.kernel.variants import variant


@variant("try_vma_read_lock", "no-vma-start-read")
async def try_vma_read_lock_no_vma_start_read(madv: MadviseBehavior, start: int,
                                              end: int) -> bool:
    """``try_vma_read_lock`` (mm/madvise.c) looking the VMA up with ``mas_walk`` under RCU
    and using it without ``vma_start_read``."""
    await rcu_read_lock()
    vma = await mas_walk(madv.mm, start)
    await rcu_read_unlock()
    if vma is not None:
        vm_end = await vma.vm_end.load()
        if end <= vm_end and not await userfaultfd_armed(vma):
            madv.vma = vma
            return True
    await mmap_read_lock(madv.mm)
    madv.lock_mode = MADVISE_MMAP_READ_LOCK
    return False
