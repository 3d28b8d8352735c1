"""``uffd_move_lock`` that looks the source VMA up without read-locking it.

Load with ``--variant-file`` and select ``uffd_move_lock@src-unlocked``: the source comes
from ``vma_lookup`` under RCU instead of ``lock_vma_under_rcu``, so munmap can free it while
UFFDIO_MOVE moves its page.
"""

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm import vma_lookup
from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.mm.userfaultfd import ENOENT, uffd_lock_vma
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock
from vmacheck.kernel.variants import variant


@variant("uffd_move_lock", "src-unlocked")
async def uffd_move_lock_src_unlocked(mm: MmStruct, dst_start: int,
                                      src_start: int) -> tuple[VmAreaStruct, VmAreaStruct] | int:
    """``uffd_move_lock`` (mm/userfaultfd.c) with the source's ``vma_start_read`` dropped."""
    dst = await uffd_lock_vma(mm, dst_start)
    if isinstance(dst, int):
        return dst
    start, end = await load_all([dst.vm_start, dst.vm_end], "uffd_move_lock: src in dst?")
    if start <= src_start < end:
        return dst, dst
    await rcu_read_lock()
    src = await vma_lookup(mm, src_start)
    await rcu_read_unlock()
    if src is None:
        return -ENOENT
    return dst, src
