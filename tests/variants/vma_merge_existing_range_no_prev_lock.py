"""``vma_merge_existing_range`` that write-locks only the VMA it removes.

Load with ``--variant-file`` and select ``vma_merge_existing_range@no-prev-lock``: ``prev``
grows over ``middle`` while a fault may hold ``prev``'s read lock.
"""

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_assert_write_locked
from vmacheck.kernel.mm.mmap_lock import vma_start_write
from vmacheck.kernel.mm.rmap import dup_anon_vma
from vmacheck.kernel.mm.vma_merge import can_vma_merge_after, commit_merge
from vmacheck.kernel.variants import variant


@variant("vma_merge_existing_range", "no-prev-lock")
async def vma_merge_existing_range_no_prev_lock(mm: MmStruct, prev: VmAreaStruct,
                                                middle: VmAreaStruct,
                                                vm_flags: int) -> VmAreaStruct | None:
    """``vma_merge_existing_range`` (mm/vma.c) with ``vma_start_write(prev)`` dropped."""
    mmap_assert_write_locked(mm)
    end, mid_anon, mid_pgoff = await load_all(
        [middle.vm_end, middle.anon_vma, middle.vm_pgoff], "vma_merge_existing_range")
    if not await can_vma_merge_after(prev, vm_flags, mid_anon, mid_pgoff):
        return None
    prev_start, prev_pgoff = await load_all([prev.vm_start, prev.vm_pgoff], "vmg->target = prev")
    await vma_start_write(middle)
    if await dup_anon_vma(prev, middle):
        return None
    await commit_merge(mm, prev, prev_start, end, prev_pgoff, middle)
    return prev
