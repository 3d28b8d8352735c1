"""``move_vma`` without ``vma_start_write`` of the source VMA.

Load with ``--variant-file`` and select ``move_vma@no-vma-start-write``.  A fault under the
source's VMA lock can then install a page after its PTE was moved; munmap of the old range
frees it, so a fault that succeeded loses its page.
"""

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm_types import ENOMEM, PAGE_SHIFT, MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_assert_write_locked
from vmacheck.kernel.mm.mremap import copy_vma, move_page_tables
from vmacheck.kernel.mm.vma import do_vmi_munmap
from vmacheck.kernel.variants import variant


@variant("move_vma", "no-vma-start-write")
async def move_vma_no_vma_start_write(mm: MmStruct, vma: VmAreaStruct, old_addr: int,
                                      old_len: int, new_addr: int) -> int:
    """``move_vma`` (mm/mremap.c) with the source's ``vma_start_write`` dropped."""
    mmap_assert_write_locked(mm)
    start, pgoff = await load_all([vma.vm_start, vma.vm_pgoff], "move_vma")
    new_pgoff = pgoff + ((old_addr - start) >> PAGE_SHIFT)
    new_vma, need_rmap_locks = await copy_vma(mm, vma, new_addr, old_len, new_pgoff)
    if new_vma is None:
        return -ENOMEM
    await move_page_tables(mm, vma, old_addr, new_vma, new_addr, old_len, need_rmap_locks)
    err = await do_vmi_munmap(mm, old_addr, old_len, False)
    return err if err else new_addr
