"""``uffd_move_lock`` that locks the source with ``uffd_lock_vma`` like the destination.

Load with ``--variant-file`` and select ``uffd_move_lock@src-uffd-lock-vma``: when the
source is write-locked, ``uffd_lock_vma`` waits for the mmap read lock while this thread
still holds the destination's VMA read lock; a writer holding the mmap write lock that
write-locks the source and then the destination waits for that read lock: deadlock (the
case the comment in ``uffd_move_lock`` explains).
"""

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import vma_end_read
from vmacheck.kernel.mm.userfaultfd import uffd_lock_vma
from vmacheck.kernel.variants import variant


@variant("uffd_move_lock", "src-uffd-lock-vma")
async def uffd_move_lock_src_uffd_lock_vma(
        mm: MmStruct, dst_start: int,
        src_start: int) -> tuple[VmAreaStruct, VmAreaStruct] | int:
    """``uffd_move_lock`` (mm/userfaultfd.c) taking the source with ``uffd_lock_vma``."""
    dst = await uffd_lock_vma(mm, dst_start)
    if isinstance(dst, int):
        return dst
    start, end = await load_all([dst.vm_start, dst.vm_end], "uffd_move_lock: src in dst?")
    if start <= src_start < end:
        return dst, dst
    src = await uffd_lock_vma(mm, src_start)
    if isinstance(src, int):
        await vma_end_read(dst)
        return src
    return dst, src
