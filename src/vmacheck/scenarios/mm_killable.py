"""mm scenarios: killable waits.  With ``--config FATAL_SIGNALS=y`` a task that would sleep
in ``mmap_write_lock_killable``/``mmap_read_lock_killable`` (``down_*_killable``,
kernel/locking/rwsem.c) or in ``vma_start_write_killable``'s wait for readers
(``__vma_start_exclude_readers`` with TASK_KILLABLE, mm/mmap_lock.c) may receive a fatal signal
and get -EINTR: an explored branch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    boot,
    lock_vma_under_rcu,
    mmap_read_lock,
    mmap_read_unlock,
    mmap_write_lock_killable,
    mmap_write_unlock,
    setup_vma,
    vma_end_read,
    vma_start_write_killable,
)
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000


def killable_writer_vs_readers() -> Iterable[Any]:
    """A reader holds VMA A's read lock (``lock_vma_under_rcu``) and another holds the mmap
    read lock; a writer takes ``mmap_write_lock_killable`` then ``vma_start_write_killable(A)``
    and is killed while it waits in either (``FATAL_SIGNALS``).  On -EINTR it must hold
    nothing, A must not be write-locked and the readers must finish; ``vm_refcnt`` must lose
    the writer's exclusion flag again."""
    boot(vmas=1, generations=1, pages=1, threads=4)
    mm = MmStruct("mm")
    vma = setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def vma_reader() -> None:
        locked = await lock_vma_under_rcu(mm, A)
        if locked is not None:
            await locked.vm_flags.load()
            await vma_end_read(locked)

    async def mmap_reader() -> None:
        await mmap_read_lock(mm)
        await vma.vm_flags.load()
        await mmap_read_unlock(mm)

    async def writer() -> None:
        if await mmap_write_lock_killable(mm):
            label("writer: killed in mmap_write_lock_killable")
            return
        err = await vma_start_write_killable(vma)
        label("writer: killed in vma_start_write_killable" if err else "writer: write-locked A")
        await mmap_write_unlock(mm)

    return [("vma reader", vma_reader()), ("mmap reader", mmap_reader()), ("writer", writer())]


register(Scenario(
    name="mm-killable-writer-vs-readers",
    summary="a killable mmap/VMA writer receives a fatal signal while readers hold the locks",
    build=killable_writer_vs_readers, doc=killable_writer_vs_readers.__doc__ or "",
    functions=("vma_start_write",), config={"FATAL_SIGNALS": True}, max_steps=600))
