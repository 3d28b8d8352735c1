"""``vma_expand`` without ``vma_start_write`` of the VMA it grows.

Load with ``--variant-file`` and select ``vma_expand@no-target-lock``.  A fault holding the
target's VMA read lock then sees its range change under it.
"""

from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_assert_write_locked
from vmacheck.kernel.mm.mmap_lock import vma_start_write
from vmacheck.kernel.mm.rmap import dup_anon_vma
from vmacheck.kernel.mm.vma_merge import commit_merge
from vmacheck.kernel.variants import variant


@variant("vma_expand", "no-target-lock")
async def vma_expand_no_target_lock(mm: MmStruct, target: VmAreaStruct, start: int, end: int,
                                    pgoff: int, remove: VmAreaStruct | None = None) -> int:
    """``vma_expand`` (mm/vma.c) with ``vma_start_write(target)`` dropped."""
    mmap_assert_write_locked(mm)
    if remove is not None:
        await vma_start_write(remove)
        err = await dup_anon_vma(target, remove)
        if err:
            return err
    await commit_merge(mm, target, start, end, pgoff, remove)
    return 0
