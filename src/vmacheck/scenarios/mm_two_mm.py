"""mm scenarios: two processes sharing the VMA slab, and the VMA free regime.

Since 6.15 ``vm_area_cachep`` is SLAB_TYPESAFE_BY_RCU (commit 3104138517fc): a VMA that one
process unmaps is freed at once and its object may be reused at once by another process, while
an RCU reader of the first process still holds a pointer to it.  ``vma_start_read``
(mm/mmap_lock.c) detects the reuse through ``vm_mm`` after taking a ``vm_refcnt`` reference and
drops that reference with the other mm pinned (``mmgrab``, commit 9bbffee67ffd), because
``vma_refcount_put`` wakes that mm's ``vma_writer_wait``.  Before 6.15 (6.4 - 6.14 with
per-VMA locks) the free went through ``call_rcu``: select it with ``--config VMA_FREE_RCU=y``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label, outcome
from vmacheck.kernel.include.linux.mm import mas_walk
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    boot,
    kernel_state,
    lock_vma_under_rcu,
    mmput,
    rcu_read_lock,
    rcu_read_unlock,
    setup_vma,
    sys_munmap,
    vm_mmap_pgoff,
    vma_end_read,
)
from vmacheck.kernel.mm.mmap_lock import MODEL_VMA_REUSED
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
B = 0x3000


def vma_reused_by_other_mm() -> Iterable[Any]:
    """Process 1 has VMA A; its thread ``reader`` runs ``lock_vma_under_rcu(mm1, A)`` while its
    thread ``munmap A`` unmaps A.  Process 2 maps a page (``vm_mmap_pgoff``), which may take
    A's slab object the moment munmap freed it, then exits (``mmput``: ``exit_mmap``
    write-locks and detaches the VMA, waiting for transient readers, then the last ``mmdrop``
    frees mm2).  The reader may take a ``vm_refcnt`` reference on process 2's VMA; it must
    notice the other ``vm_mm``, never return that VMA, and drop the reference without touching
    a freed mm2.  The outcome records whether the reuse was seen."""
    boot(vmas=2, generations=2, pages=2, threads=5)
    mm1 = MmStruct("mm1")
    mm2 = MmStruct("mm2")
    setup_vma(mm1, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    state = kernel_state()

    async def reader() -> None:
        vma = await lock_vma_under_rcu(mm1, A)
        label("reader: locked A" if vma is not None else "reader: NULL")
        if vma is not None:
            await vma_end_read(vma)

    async def unmap() -> None:
        await sys_munmap(mm1, A, 0x1000)

    async def process2() -> None:
        await vm_mmap_pgoff(mm2, None, B, 0x1000, VM_READ | VM_WRITE)
        await mmput(mm2)

    outcome(lambda: "reuse seen" if MODEL_VMA_REUSED in state.vma_lock_events
            else "no reuse seen")
    return [("reader", reader()), ("munmap A", unmap()), ("process 2", process2())]


register(Scenario(
    name="mm-vma-reused-by-other-mm",
    summary="an RCU reader's VMA is freed and reused by another process, which then exits",
    build=vma_reused_by_other_mm, doc=vma_reused_by_other_mm.__doc__ or "",
    functions=("vma_start_read", "vma_refcount_put"), max_steps=1_500))


def prelock_read_vs_munmap() -> Iterable[Any]:
    """A reader walks the VMA tree under ``rcu_read_lock`` and reads ``vma->anon_vma`` before
    it holds any VMA lock, as ``lock_vma_under_rcu`` did in 6.4 - 6.14 (``!vma->anon_vma``
    check before ``vma_start_read``); another thread munmaps the VMA.  With the 6.4 - 6.14 free
    regime (``--config VMA_FREE_RCU=y``) the VMA is freed by ``call_rcu`` after the reader's
    section, so the read is legal: clean.  With the 6.15+ regime (the default) the VMA is freed
    at once: the read is a use-after-free (the expected finding of this scenario)."""
    boot(vmas=2, generations=2, pages=1, threads=4)
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        await rcu_read_lock()
        vma = await mas_walk(mm, A)
        if vma is not None:
            anon_vma = await vma.anon_vma.load()
            label("reader: anon_vma set" if anon_vma is not None else "reader: no anon_vma")
        await rcu_read_unlock()

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)

    return [("reader", reader()), ("munmap A", unmap())]


register(Scenario(
    name="mm-rcu-prelock-read-vs-munmap",
    summary="a lockless read of vma->anon_vma under RCU races munmap (legal only with "
            "VMA_FREE_RCU=y)",
    build=prelock_read_vs_munmap, doc=prelock_read_vs_munmap.__doc__ or "",
    functions=("vm_area_free",), max_steps=600))
