"""mm scenarios: VMA and mm_struct lifetime against concurrent users (``vm_area_free``,
``exit_mmap``, ``mmput``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label, outcome
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_mprotect_pkey,
    do_user_addr_fault,
    kernel_state,
    lock_vma_under_rcu,
    mmdrop,
    mmget_not_zero,
    mmput,
    mmput_async,
    setup_page,
    setup_vma,
    sys_munmap,
    vma_end_read,
)
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000


def fault_vs_munmap_same_vma() -> Iterable[Any]:
    """A fault on VMA A while another thread munmaps A.  The fault either completes under the
    VMA lock before the munmap write-locks A, fails to lock it and falls back to the mmap lock
    (then finds no VMA: SIGSEGV), or meets A detached but still in the tree (-EAGAIN,
    VMA_LOCK_MISS) and re-walks once the tree is cleared.  No freed VMA or page is touched and
    the munmap frees A only after it is detached and zapped."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    state = kernel_state()

    async def fault() -> None:
        ret = await do_user_addr_fault(mm, A, write=True)
        label(f"fault={ret:#x}")

    async def unmap() -> None:
        await sys_munmap(mm, A, 0x1000)

    def events() -> str:
        return "events=" + ",".join(sorted(state.vma_lock_events))

    outcome(events)
    return [("fault on A", fault()), ("munmap A", unmap())]


register(Scenario(
    name="mm-fault-vs-munmap-same-vma",
    summary="a fault racing the munmap of its own VMA (including the -EAGAIN re-walk)",
    build=fault_vs_munmap_same_vma, doc=fault_vs_munmap_same_vma.__doc__ or "",
    functions=("lock_vma_under_rcu", "vma_start_write"), max_steps=800))


def mprotect_split_vs_fault() -> Iterable[Any]:
    """mprotect of the upper half of VMA A (``__split_vma`` write-locks A and the new VMA
    before changing bounds) while another thread faults in the lower half under the per-VMA
    lock."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x2000, VM_READ | VM_WRITE, anon_vma=True)

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A, write=True):#x}")

    async def mprotect() -> None:
        label(f"mprotect={await do_mprotect_pkey(mm, A + 0x1000, 0x1000, VM_READ)}")

    return [("fault low half", fault()), ("mprotect high half", mprotect())]


register(Scenario(
    name="mm-mprotect-split-vs-fault",
    summary="mprotect splitting a VMA while a fault runs in the other half",
    build=mprotect_split_vs_fault, doc=mprotect_split_vs_fault.__doc__ or "",
    functions=("vma_start_write", "lock_vma_under_rcu"), max_steps=1000))


def remote_user_vs_exit() -> Iterable[Any]:
    """A remote user (binder/TCP style) holds an ``mmgrab`` reference, pins the address space
    with ``mmget_not_zero``, read-locks VMA A, touches its page, then ``mmput_async`` and
    ``mmdrop``; the owner exits (``mmput``).  The last ``mm_users`` reference runs
    ``exit_mmap`` (here or in the async worker); the ``mm_struct`` is freed by the last
    ``mmdrop``, never under a user."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
    page = setup_page(mm, A)
    mm.mm_count._value += 1  # the remote user's mmgrab, taken before the threads start

    async def remote() -> None:
        if await mmget_not_zero(mm):
            vma = await lock_vma_under_rcu(mm, A)
            if vma is not None:
                await page._refcount.load()
                await vma_end_read(vma)
                label("remote used A")
            await mmput_async(mm)
        else:
            label("remote: mm exiting")
        await mmdrop(mm)

    async def owner_exit() -> None:
        await mmput(mm)

    return [("remote user", remote()), ("exit", owner_exit())]


register(Scenario(
    name="mm-remote-user-vs-exit",
    summary="mmget_not_zero/mmput_async user against the owner's exit_mmap",
    build=remote_user_vs_exit, doc=remote_user_vs_exit.__doc__ or "",
    functions=("lock_vma_under_rcu",), max_steps=800))
