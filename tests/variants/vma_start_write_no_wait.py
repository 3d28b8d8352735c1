"""A user's variant of ``vma_start_write`` that does not wait for readers.

Select it with ``--variant vma_start_write@no-wait`` after loading this file.  It stamps the VMA
write-locked at once, so a reader already inside keeps its read lock while the writer goes on:
the reader/writer exclusion invariant must fire.
"""

from vmacheck.kernel.mm import VmAreaStruct
from vmacheck.kernel.variants import variant


@variant("vma_start_write", "no-wait")
async def vma_start_write_no_wait(vma: VmAreaStruct) -> None:
    """``vma_start_write`` (include/linux/mmap_lock.h) without
    ``__vma_start_exclude_readers``: stamp ``vm_lock_seq = mm_lock_seq`` and return, ignoring
    readers."""
    mm = vma.vm_mm
    assert mm is not None
    seq = await mm.mm_lock_seq.load()
    await vma.vm_lock_seq.store(seq)
