"""``uffd_lock_vma`` whose mmap-lock fallback forgets ``vma_start_read_locked``.

Load with ``--variant-file`` and select ``uffd_lock_vma@no-vma-start-read-locked``: the VMA
found under the mmap read lock is returned unlocked once that lock is dropped, so munmap can
free it while UFFDIO_COPY fills it.
"""

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm_types import VM_SHARED, MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_read_lock, mmap_read_unlock, vma_end_read
from vmacheck.kernel.mm.mmap_lock import lock_vma_under_rcu
from vmacheck.kernel.mm.userfaultfd import find_vma_and_prepare_anon
from vmacheck.kernel.variants import variant


@variant("uffd_lock_vma", "no-vma-start-read-locked")
async def uffd_lock_vma_no_vma_start_read_locked(mm: MmStruct,
                                                 address: int) -> VmAreaStruct | int:
    """``uffd_lock_vma`` (mm/userfaultfd.c) without the fallback's ``vma_start_read_locked``."""
    vma = await lock_vma_under_rcu(mm, address)
    if vma is not None:
        flags, anon = await load_all([vma.vm_flags, vma.anon_vma], "uffd_lock_vma: anon check")
        if not flags & VM_SHARED and anon is None:
            await vma_end_read(vma)
        else:
            return vma
    await mmap_read_lock(mm)
    found = await find_vma_and_prepare_anon(mm, address)
    await mmap_read_unlock(mm)
    return found
