"""mm scenarios: the blocking lookup helper of the Hansen series, patch 3 (mm/mmap_lock.c).

``vma_start_read_unlocked`` exists in two versions: ``posted`` (v2 3/5 as posted: the slow path
calls ``vma_start_read_locked`` on the NULL left by the failed fast path) and ``fixed`` (lookup
under ``mmap_read_lock``).  Any fast-path failure - here a concurrent mprotect write-locking the VMA
- reaches the slow path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_mprotect_pkey,
    lock_vma_under_rcu_wait,
    setup_vma,
    vma_end_read,
    vma_start_read_unlocked,
)
from vmacheck.scenarios.catalogue import Scenario, register, seed_versions

A = 0x1000

seed_versions("vma_start_read_unlocked", ("posted", "fixed"))


def start_read_unlocked_vs_mprotect() -> Iterable[Any]:
    """A thread calls ``vma_start_read_unlocked`` on VMA A (as TCP zerocopy and binder
    do after the series) while another thread mprotects A.  When the fast path fails because
    the mprotect holds A write-locked, ``posted`` dereferences NULL; ``fixed`` waits on the
    mmap lock and returns A read-locked."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        vma = await vma_start_read_unlocked(mm, A)
        label("vma" if vma is not None else "NULL")
        if vma is not None:
            await vma.vm_flags.load()
            await vma_end_read(vma)

    async def mprotect() -> None:
        await do_mprotect_pkey(mm, A, 0x1000, VM_READ)

    return [("vma_start_read_unlocked", reader()), ("mprotect", mprotect())]


register(Scenario(
    name="mm-start-read-unlocked-vs-mprotect",
    summary="vma_start_read_unlocked slow path under a concurrent mprotect",
    build=start_read_unlocked_vs_mprotect, doc=start_read_unlocked_vs_mprotect.__doc__ or "",
    functions=("vma_start_read_unlocked",), config={"SERIES_APPLIED": True}, max_steps=600))


def wait_helper_vs_mprotect() -> Iterable[Any]:
    """``lock_vma_under_rcu_wait`` (linux-mm 607a10f8) on VMA A while another thread
    mprotects A: it waits out the writer on the mmap lock and retries, returning A
    read-locked in every interleaving."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

    async def reader() -> None:
        vma = await lock_vma_under_rcu_wait(mm, A)
        label("vma" if vma is not None else "NULL")
        if vma is not None:
            await vma_end_read(vma)

    async def mprotect() -> None:
        await do_mprotect_pkey(mm, A, 0x1000, VM_READ)

    return [("lock_vma_under_rcu_wait", reader()), ("mprotect", mprotect())]


register(Scenario(
    name="mm-lock-vma-under-rcu-wait-vs-mprotect",
    summary="lock_vma_under_rcu_wait waits out an mprotect and returns the VMA",
    build=wait_helper_vs_mprotect, doc=wait_helper_vs_mprotect.__doc__ or "",
    config={"SERIES_APPLIED": True}, max_steps=600))
