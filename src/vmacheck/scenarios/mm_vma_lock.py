"""mm scenarios: per-VMA lock readers against writers (mm/mmap_lock.c)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import Var, invariant, label, loop_begin, outcome, retry
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_user_addr_fault,
    kernel_state,
    lock_vma_under_rcu,
    mmap_write_lock,
    mmap_write_unlock,
    setup_vma,
    sys_munmap,
    vma_end_read,
    vma_start_write,
)
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
B = 0x4000


def write_locked_vma_reader() -> Iterable[Any]:
    """A writer holds the mmap write lock and write-locks VMA A, then keeps it locked until
    the reader has finished; the reader starts only once A is write-locked and calls
    ``lock_vma_under_rcu``.  It must return NULL in every interleaving without blocking
    (if it blocked, the writer - waiting for the reader - would deadlock with it)."""
    mm = MmStruct("mm")
    vma = setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    write_locked = Var("write_locked", False)
    reader_done = Var("reader_done", False)

    async def writer() -> None:
        await mmap_write_lock(mm)
        await vma_start_write(vma)
        await write_locked.store(True)
        while True:
            loop_begin()
            if await reader_done.load():
                break
            await retry()
        await mmap_write_unlock(mm)

    async def reader() -> None:
        while True:
            loop_begin()
            if await write_locked.load():
                break
            await retry()
        locked = await lock_vma_under_rcu(mm, A)
        label("lock_vma_under_rcu=NULL" if locked is None else "lock_vma_under_rcu=vma")
        if locked is not None:
            await vma_end_read(locked)
        await reader_done.store(True)

    return [("writer", writer()), ("reader", reader())]


register(Scenario(
    name="mm-lock-vma-under-rcu-write-locked",
    summary="lock_vma_under_rcu returns NULL without blocking on a write-locked VMA",
    build=write_locked_vma_reader, doc=write_locked_vma_reader.__doc__ or "",
    functions=("lock_vma_under_rcu", "vma_start_write"), max_steps=400))


def fault_vs_munmap_other() -> Iterable[Any]:
    """A page fault on VMA A runs while another thread munmaps VMA B.  The fault takes A's
    per-VMA lock and never waits for the munmap's mmap write lock; the outcome records
    whether the whole fault ran inside the munmap's mmap write section (``mm_lock_seq`` odd
and unchanged from before the fault to after it)."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    setup_vma(mm, B, B + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    state = kernel_state()

    async def fault() -> None:
        before = await mm.mm_lock_seq.load()
        ret = await do_user_addr_fault(mm, A, write=True)
        after = await mm.mm_lock_seq.load()
        label(f"fault={ret}")
        if before == after and before % 2:
            label("fault ran inside munmap's mmap write section")

    async def unmap() -> None:
        await sys_munmap(mm, B, 0x1000)

    outcome(lambda: "via " + ",".join(sorted(state.vma_lock_events)))
    return [("fault on A", fault()), ("munmap B", unmap())]


register(Scenario(
    name="mm-fault-vs-munmap-other-vma",
    summary="a fault on VMA A completes under the VMA lock while VMA B is munmapped",
    build=fault_vs_munmap_other, doc=fault_vs_munmap_other.__doc__ or "",
    functions=("lock_vma_under_rcu",), max_steps=600))


def munmap_waits_for_reader() -> Iterable[Any]:
    """A reader read-locks VMA A with ``lock_vma_under_rcu`` and reads its fields; another
    thread munmaps A.  ``vma_start_write`` in the munmap must wait for the reader, so the
    munmap completes only after ``vma_end_read`` (a model invariant), and the reader never
    touches a freed VMA."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    reading = Var("reader holds A", False)
    unmapped = Var("munmap done", False)
    invariant("munmap of A completes only after vma_end_read",
              lambda: not (unmapped.peek() and reading.peek()))

    async def reader() -> None:
        vma = await lock_vma_under_rcu(mm, A)
        if vma is None:
            label("reader: NULL")
            return
        await reading.store(True)
        await vma.vm_flags.load()
        await reading.store(False)
        await vma_end_read(vma)
        label("reader: locked A")

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)
        await unmapped.store(True)

    return [("reader", reader()), ("munmap A", unmap())]


register(Scenario(
    name="mm-munmap-waits-for-vma-reader",
    summary="munmap of a read-locked VMA waits in vma_start_write until vma_end_read",
    build=munmap_waits_for_reader, doc=munmap_waits_for_reader.__doc__ or "",
    functions=("vma_start_write", "lock_vma_under_rcu"), max_steps=600))
