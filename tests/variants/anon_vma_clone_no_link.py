"""``anon_vma_clone`` that forgets to link the new VMA into the anon_vma's tree.

Load with ``--variant-file`` and select ``anon_vma_clone@no-link``: after a split the pages
of the new VMA cannot be found by an rmap walk of their anon_vma.
"""

from vmacheck.kernel.include.linux.mm_types import VmAreaStruct
from vmacheck.kernel.mm.rmap import AnonVma, anon_vma_lock_write, anon_vma_unlock_write
from vmacheck.kernel.variants import variant


@variant("anon_vma_clone", "no-link")
async def anon_vma_clone_no_link(dst: VmAreaStruct, src: VmAreaStruct) -> int:
    """``anon_vma_clone`` (mm/rmap.c) counting ``dst`` but not linking it (no
    ``anon_vma_chain_link``)."""
    anon_vma = await src.anon_vma.load()
    if not isinstance(anon_vma, AnonVma):
        return 0
    await anon_vma_lock_write(anon_vma)
    if await dst.anon_vma.load() is anon_vma:
        await anon_vma.num_active_vmas.fetch_add(1)
    await anon_vma_unlock_write(anon_vma)
    return 0
