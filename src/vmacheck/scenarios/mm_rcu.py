"""mm scenarios: RCU grace periods (LKMM litmus tests) and VMA pointers under RCU
(``vm_area_cachep`` is SLAB_TYPESAFE_BY_RCU since 6.15).

The litmus tests are ``tools/memory-model/litmus-tests/RCU+sync+read.litmus`` and
``RCU+sync+free.litmus`` written as models; their forbidden outcome is a model invariant
checked at the end of every execution.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import Allocation, Var, invariant, label
from vmacheck.kernel.include.linux.mm_types import boot
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    lock_vma_under_rcu,
    rcu_read_lock,
    rcu_read_unlock,
    setup_vma,
    synchronize_rcu,
    sys_munmap,
    vma_end_read,
    vma_lookup,
)
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000


def rcu_sync_read() -> Iterable[Any]:
    """LKMM RCU+sync+read: P0 reads x then y inside one RCU read-side section; P1 writes
    x = 1, ``synchronize_rcu``, y = 1.  Forbidden: r0 = 0 and r1 = 1 (the section would have
    started before the grace period and ended after it)."""
    boot(vmas=0, pages=0, threads=2)
    x = Var("x", 0)
    y = Var("y", 0)
    regs: dict[str, int] = {}

    async def p0() -> None:
        await rcu_read_lock()
        regs["r0"] = await x.load()
        regs["r1"] = await y.load()
        await rcu_read_unlock()
        label(f"r0={regs['r0']} r1={regs['r1']}")

    async def p1() -> None:
        await x.store(1)
        await synchronize_rcu()
        await y.store(1)

    invariant("RCU+sync+read: not (r0=0 and r1=1)",
              lambda: not (regs.get("r0") == 0 and regs.get("r1") == 1), at_end=True)
    return [("P0", p0()), ("P1", p1())]


register(Scenario(
    name="mm-rcu-sync-read", summary="LKMM RCU+sync+read never reaches its forbidden outcome",
    build=rcu_sync_read, doc=rcu_sync_read.__doc__ or "", max_steps=200))


def rcu_sync_free() -> Iterable[Any]:
    """LKMM RCU+sync+free: y points to x; P0 dereferences y and reads the target inside an
    RCU read-side section; P1 points y to z, ``synchronize_rcu``, then "frees" x by writing
    0 to it.  Forbidden: r0 = &x and r1 = 0.  Here x also lives in an allocation that P1
    frees after the write, so reading it after the free would be a use-after-free."""
    boot(vmas=0, pages=0, threads=2)
    x_mem = Allocation("x")
    x = Var("x", 1, alloc=x_mem)
    z = Var("z", 1)
    y = Var("y", x)
    regs: dict[str, Any] = {}

    async def p0() -> None:
        await rcu_read_lock()
        r0 = await y.load()
        regs["r0"] = r0
        regs["r1"] = await r0.load()
        await rcu_read_unlock()
        label(f"r0={r0.name} r1={regs['r1']}")

    async def p1() -> None:
        await y.store(z)
        await synchronize_rcu()
        await x.store(0)
        await x_mem.free()

    invariant("RCU+sync+free: not (r0=x and r1=0)",
              lambda: not (regs.get("r0") is x and regs.get("r1") == 0), at_end=True)
    return [("P0", p0()), ("P1", p1())]


register(Scenario(
    name="mm-rcu-sync-free", summary="LKMM RCU+sync+free never reaches its forbidden outcome",
    build=rcu_sync_free, doc=rcu_sync_free.__doc__ or "", max_steps=200))


def stale_vma_pointer() -> Iterable[Any]:
    """A thread looks VMA A up under ``rcu_read_lock`` only (no VMA lock), keeps the pointer
    past ``rcu_read_unlock`` and reads ``vm_flags``; another thread munmaps A.  VMAs are
    SLAB_TYPESAFE_BY_RCU and munmap frees them without a grace period: the read is a
    use-after-free whenever the munmap's ``vm_area_free`` ran first."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        await rcu_read_lock()
        vma = await vma_lookup(mm, A)
        await rcu_read_unlock()
        if vma is not None:
            await vma.vm_flags.load()

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)

    return [("stale reader", reader()), ("munmap A", unmap())]


register(Scenario(
    name="mm-rcu-stale-vma-pointer",
    summary="a VMA pointer used after rcu_read_unlock and munmap is a use-after-free",
    build=stale_vma_pointer, doc=stale_vma_pointer.__doc__ or "", max_steps=400))


def locked_vma_pointer() -> Iterable[Any]:
    """The correct counterpart of ``mm_rcu_stale_vma_pointer``: the reader read-locks A with
    ``lock_vma_under_rcu`` before using it and drops the lock after; munmap waits for it."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        vma = await lock_vma_under_rcu(mm, A)
        if vma is not None:
            await vma.vm_flags.load()
            await vma_end_read(vma)

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)

    return [("locked reader", reader()), ("munmap A", unmap())]


register(Scenario(
    name="mm-rcu-locked-vma-pointer",
    summary="a VMA used under its read lock survives a concurrent munmap",
    build=locked_vma_pointer, doc=locked_vma_pointer.__doc__ or "", max_steps=400))
