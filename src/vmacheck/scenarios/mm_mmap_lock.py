"""mm scenarios: deadlocks through the mmap_lock queue and through VMA writers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_user_addr_fault,
    lock_vma_under_rcu,
    mmap_read_lock,
    mmap_read_unlock,
    mmap_write_lock,
    mmap_write_unlock,
    setup_vma,
    vma_end_read,
    vma_start_write,
)
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000


def recursive_read_fault() -> Iterable[Any]:
    """The classic recursive-read deadlock: a thread holding ``mmap_read_lock`` touches user memory
    of a fresh anonymous mapping (no anon_vma yet) from kernel mode (``copy_to_user``); a second
    thread queues for ``mmap_write_lock``.  The fault's VMA path needs the mmap lock for
    ``vmf_anon_prepare`` (trylock fails: a writer is queued) and returns VM_FAULT_RETRY; the
    fallback ``lock_mm_and_find_vma`` then sleeps in ``mmap_read_lock_killable`` behind the writer,
    which waits for the first reader: a deadlock in every configuration."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x2000, VM_READ | VM_WRITE)

    async def reader() -> None:
        await mmap_read_lock(mm)
        await do_user_addr_fault(mm, A, write=True, user_mode=False)
        await mmap_read_unlock(mm)

    async def writer() -> None:
        await mmap_write_lock(mm)
        await mmap_write_unlock(mm)

    return [("copy_to_user under mmap_read_lock", reader()), ("mmap_write_lock", writer())]


register(Scenario(
    name="mm-recursive-read-fault",
    summary="fault under mmap_read_lock with a queued writer deadlocks (recursive down_read)",
    build=recursive_read_fault, doc=recursive_read_fault.__doc__ or "",
    functions=("lock_vma_under_rcu",), max_steps=400))


def vma_reader_takes_mmap_lock() -> Iterable[Any]:
    """A thread holds a VMA read lock and then sleeps in ``mmap_read_lock`` (what
    ``lock_vma_under_rcu_wait`` must never do: it returns NULL rather than wait); a writer holding
    the mmap write lock write-locks that VMA and waits for its readers.  The reader waits behind the
    writer in the rwsem queue, the writer waits in ``vma_start_write`` for the reader: a deadlock
    whose wait-for cycle goes through the VMA writer wait."""
    mm = MmStruct("mm")
    vma = setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        locked = await lock_vma_under_rcu(mm, A)
        if locked is None:
            return
        await mmap_read_lock(mm)
        await mmap_read_unlock(mm)
        await vma_end_read(locked)

    async def writer() -> None:
        await mmap_write_lock(mm)
        await vma_start_write(vma)
        await mmap_write_unlock(mm)

    return [("vma reader", reader()), ("vma writer", writer())]


register(Scenario(
    name="mm-vma-reader-takes-mmap-lock",
    summary="VMA read lock held across mmap_read_lock deadlocks with vma_start_write",
    build=vma_reader_takes_mmap_lock, doc=vma_reader_takes_mmap_lock.__doc__ or "",
    functions=("vma_start_write", "lock_vma_under_rcu"), max_steps=400))
