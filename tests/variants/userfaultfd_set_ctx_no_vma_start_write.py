"""``userfaultfd_set_ctx`` without ``vma_start_write``.

Load with ``--variant-file`` and select ``userfaultfd_set_ctx@no-vma-start-write``: the
registration changes ``vm_flags`` while a fault may hold the VMA's read lock.
"""

from vmacheck.kernel.include.linux.mm_types import VmAreaStruct
from vmacheck.kernel.mm.mmap import vm_flags_reset
from vmacheck.kernel.mm.userfaultfd import __VM_UFFD_FLAGS
from vmacheck.kernel.variants import variant


@variant("userfaultfd_set_ctx", "no-vma-start-write")
async def userfaultfd_set_ctx_no_vma_start_write(vma: VmAreaStruct, flags: int) -> None:
    """``userfaultfd_set_ctx`` (mm/userfaultfd.c) with ``vma_start_write`` dropped."""
    old = await vma.vm_flags.load()
    await vm_flags_reset(vma, (old & ~__VM_UFFD_FLAGS) | flags)
