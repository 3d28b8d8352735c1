"""A user's variant of ``vma_mark_detached`` that does not wait for transient readers, and a
scenario of its own.

``vma_mark_detached`` was never versioned by vmacheck: every model function is replaceable.
Load this file with ``--variant-file`` and select ``--variant vma_mark_detached@no-wait``;
the file also registers the scenario ``user-munmap-vs-reader`` (a thread read-locks VMA A
under RCU while another munmaps it), which ``vmacheck list`` then shows and ``vmacheck check
user-munmap-vs-reader`` runs.
"""

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    VmAreaStruct,
    boot,
    lock_vma_under_rcu,
    setup_vma,
    sys_munmap,
    vma_end_read,
)
from vmacheck.kernel.variants import variant
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000


@variant("vma_mark_detached", "no-wait")
async def vma_mark_detached_no_wait(vma: VmAreaStruct) -> None:
    """``vma_mark_detached`` (include/linux/mmap_lock.h) without
    ``__vma_exclude_readers_for_detach``: drop the attach reference and return, even while a
    reader that raced ``vma_start_read`` still holds a transient reference."""
    await vma.vm_refcnt.fetch_add(-1)


def munmap_vs_reader() -> Iterable[Any]:
    """A reader runs ``lock_vma_under_rcu`` on VMA A and reads its flags; another thread
    munmaps A.  munmap must free A only after the reader's reference is gone."""
    boot(vmas=2, generations=2, pages=1, threads=3)
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader(tag: str) -> None:
        vma = await lock_vma_under_rcu(mm, A)
        if vma is not None:
            await vma.vm_flags.load()
            await vma_end_read(vma)
        label(f"{tag}: {'locked' if vma is not None else 'NULL'}")

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)

    return [("reader", reader("reader")), ("munmap A", unmap())]


register(Scenario(
    name="user-munmap-vs-reader",
    summary="(from a variant file) munmap of a VMA an RCU reader tries to lock",
    build=munmap_vs_reader, doc=munmap_vs_reader.__doc__ or "",
    functions=("vma_mark_detached",), max_steps=600, group="user"))
