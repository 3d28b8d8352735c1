"""The user page-fault path (``arch/x86/mm/fault.c``, ``mm/mmap_lock.c``).

``do_user_addr_fault`` tries the per-VMA lock first (``lock_vma_under_rcu``) and falls back to
the mmap lock (``lock_mm_and_find_vma``), growing a stack VMA if needed.  Fatal signals and
the kernel-mode exception-table check are parameters: ``user_mode`` and ``has_fixup``
(a kernel-mode access to user memory from ``copy_*_user`` has a fixup).  ``user_gate`` selects
the older x86 behaviour of trying the VMA lock only for user-mode faults (``do_user_addr_fault``
before 6.7 took the per-VMA lock only when ``user_mode(regs)``).
"""

from __future__ import annotations

from vmacheck.kernel.include.linux.mm import find_vma_range
from vmacheck.kernel.include.linux.mm_types import VM_GROWSDOWN, VM_READ, VM_WRITE, MmStruct
from vmacheck.kernel.include.linux.mm_types import VmAreaStruct as Vma
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_lock_killable,
    mmap_read_trylock,
    mmap_read_unlock,
    mmap_write_downgrade,
    mmap_write_lock_killable,
    mmap_write_unlock,
    vma_end_read,
)
from vmacheck.kernel.mm.memory import (
    FAULT_FLAG_DEFAULT,
    FAULT_FLAG_TRIED,
    FAULT_FLAG_USER,
    FAULT_FLAG_VMA_LOCK,
    FAULT_FLAG_WRITE,
    VM_FAULT_COMPLETED,
    VM_FAULT_MAJOR,
    VM_FAULT_RETRY,
    VM_FAULT_SIGSEGV,
    handle_mm_fault,
)
from vmacheck.kernel.mm.mmap import expand_stack_locked
from vmacheck.kernel.mm.mmap_lock import (
    VMA_LOCK_RETRY,
    VMA_LOCK_SUCCESS,
    count_vm_vma_lock_event,
    lock_vma_under_rcu,
)


async def get_mmap_lock_carefully(mm: MmStruct, user_mode: bool, has_fixup: bool) -> bool:
    """``get_mmap_lock_carefully`` (mm/mmap_lock.c): trylock; a kernel-mode fault without an
    exception-table entry must not sleep on the lock; else ``mmap_read_lock_killable``."""
    if await mmap_read_trylock(mm):
        return True
    if not user_mode and not has_fixup:
        return False
    return not await mmap_read_lock_killable(mm)


async def upgrade_mmap_lock_carefully(mm: MmStruct, user_mode: bool, has_fixup: bool) -> bool:
    """``upgrade_mmap_lock_carefully`` (mm/mmap_lock.c): drop the read lock, take the write
    lock (same exception-table rule)."""
    await mmap_read_unlock(mm)
    if not user_mode and not has_fixup:
        return False
    return not await mmap_write_lock_killable(mm)


async def lock_mm_and_find_vma(mm: MmStruct, addr: int, user_mode: bool = True,
                               has_fixup: bool = True) -> Vma | None:
    """``lock_mm_and_find_vma`` (mm/mmap_lock.c): return the VMA covering
    ``addr`` with the mmap read lock held, growing a VM_GROWSDOWN stack under the write lock
    (then downgrading); NULL with no lock held on failure."""
    if not await get_mmap_lock_carefully(mm, user_mode, has_fixup):
        return None
    entry = await find_vma_range(mm, addr)
    if entry is not None and entry[0] <= addr:
        return entry[2]
    if entry is None or not await entry[2].vm_flags.load() & VM_GROWSDOWN:
        await mmap_read_unlock(mm)
        return None
    if not await upgrade_mmap_lock_carefully(mm, user_mode, has_fixup):
        return None
    entry = await find_vma_range(mm, addr)
    if entry is None:
        await mmap_write_unlock(mm)
        return None
    vma = entry[2]
    if entry[0] <= addr:
        await mmap_write_downgrade(mm)
        return vma
    if not await vma.vm_flags.load() & VM_GROWSDOWN or await expand_stack_locked(vma, addr):
        await mmap_write_unlock(mm)
        return None
    await mmap_write_downgrade(mm)
    return vma


async def access_error(write: bool, vma: Vma) -> bool:
    """``access_error`` (arch/x86/mm/fault.c): a write needs VM_WRITE, a read VM_READ."""
    flags = await vma.vm_flags.load()
    if write:
        return not flags & VM_WRITE
    return not flags & VM_READ


async def do_user_addr_fault(mm: MmStruct, address: int, write: bool = False,
                             user_mode: bool = True, has_fixup: bool = True,
                             user_gate: bool = False) -> int:
    """``do_user_addr_fault`` (arch/x86/mm/fault.c, linux-mm 2026): the per-VMA
    lock first, then the mmap lock with VM_FAULT_RETRY loops.  Returns the ``VM_FAULT_*``
    result (VM_FAULT_SIGSEGV for a bad area)."""
    flags = FAULT_FLAG_DEFAULT
    if user_mode:
        flags |= FAULT_FLAG_USER
    if write:
        flags |= FAULT_FLAG_WRITE
    if not (user_gate and not user_mode):
        vma = await lock_vma_under_rcu(mm, address)
        if vma is not None:
            if await access_error(write, vma):
                await vma_end_read(vma)
                count_vm_vma_lock_event(VMA_LOCK_SUCCESS)
                return VM_FAULT_SIGSEGV
            fault = await handle_mm_fault(vma, address, flags | FAULT_FLAG_VMA_LOCK)
            if not fault & (VM_FAULT_RETRY | VM_FAULT_COMPLETED):
                await vma_end_read(vma)
            if not fault & VM_FAULT_RETRY:
                count_vm_vma_lock_event(VMA_LOCK_SUCCESS)
                return fault
            count_vm_vma_lock_event(VMA_LOCK_RETRY)
            if fault & VM_FAULT_MAJOR:
                flags |= FAULT_FLAG_TRIED
    while True:  # retry:
        vma = await lock_mm_and_find_vma(mm, address, user_mode, has_fixup)
        if vma is None:
            return VM_FAULT_SIGSEGV  # bad_area_nosemaphore
        if await access_error(write, vma):
            await mmap_read_unlock(mm)
            return VM_FAULT_SIGSEGV  # bad_area_access_error
        fault = await handle_mm_fault(vma, address, flags)
        if fault & VM_FAULT_COMPLETED:
            return fault
        if fault & VM_FAULT_RETRY:
            flags |= FAULT_FLAG_TRIED
            continue
        await mmap_read_unlock(mm)
        return fault
