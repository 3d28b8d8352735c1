"""``lock_next_vma`` that returns the next VMA without ``vma_start_read``.

Load with ``--variant-file`` and select ``lock_next_vma@no-vma-start-read``: the maps
reader then uses a VMA it only found under RCU; munmap frees it at once (the VMA slab is
SLAB_TYPESAFE_BY_RCU, so RCU does not delay the free) and the reader's field loads are a
use-after-free.
"""

from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.mm.mmap_lock_iter import VmaIterator, vma_next
from vmacheck.kernel.variants import variant


@variant("lock_next_vma", "no-vma-start-read")
async def lock_next_vma_no_vma_start_read(mm: MmStruct, vmi: VmaIterator,
                                          from_addr: int) -> VmAreaStruct | int | None:
    """``lock_next_vma`` (mm/mmap_lock.c) with ``vma_start_read`` and its checks dropped."""
    return await vma_next(vmi)
