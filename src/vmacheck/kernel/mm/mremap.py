"""mremap: moving a VMA and its page tables (``mm/mremap.c``, ``copy_vma`` of ``mm/vma.c``).

``do_mremap`` → ``mremap_to`` → ``move_vma`` under the mmap write lock: the source VMA is
write-locked first ("We don't want racing faults"), ``copy_vma`` makes the destination VMA
(merging it into the previous VMA when it can: ``vma_merge_new_range``), ``move_page_tables``
moves the PTEs (``move_ptes`` under both page-table locks, and under the anon_vma write lock
when ``copy_vma`` asks for the rmap locks), and the old range is unmapped with
``do_vmi_munmap``.  Known simplifications: MREMAP_FIXED moves of a whole VMA only (no
shrink/expand in place, no MREMAP_DONTUNMAP), no accounting, no error recovery after the copy.
"""

from __future__ import annotations

from typing import Any

from vmacheck.kernel.fs.file_table import get_file
from vmacheck.kernel.include.linux.atomic import load_all, locked_update
from vmacheck.kernel.include.linux.mm import vma_lookup
from vmacheck.kernel.include.linux.mm_types import (
    EFAULT,
    EINTR,
    EINVAL,
    ENOMEM,
    PAGE_SHIFT,
    PAGE_SIZE,
    MmStruct,
    VmAreaStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_assert_write_locked,
    mmap_write_lock_killable,
    mmap_write_unlock,
)
from vmacheck.kernel.mm.mmap_lock import vma_start_write
from vmacheck.kernel.mm.rmap import (
    AnonVma,
    anon_vma_clone,
    anon_vma_lock_write,
    anon_vma_unlock_write,
)
from vmacheck.kernel.mm.vma import do_vmi_munmap, vm_area_dup, vma_set_range
from vmacheck.kernel.mm.vma_merge import vma_link, vma_merge_new_range
from vmacheck.kernel.variants import kfunc

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2


@kfunc("mainline")
async def copy_vma(mm: MmStruct, vma: VmAreaStruct, addr: int, length: int,
                   pgoff: int) -> tuple[VmAreaStruct | None, bool]:
    """``copy_vma`` (mm/vma.c): the destination VMA for ``[addr, addr + len)``: the previous
    VMA expanded over it (``vma_merge_new_range``) or a copy of ``vma`` (``vm_area_dup``,
    ``anon_vma_clone``, ``vm_ops->open``, ``vma_link``).  An anonymous VMA never faulted
    takes the new address as its offset.  Returns the VMA and ``need_rmap_locks`` (set when
    the merged VMA's offset is not above the source's, so rmap walkers could miss PTEs in
    flight)."""
    mmap_assert_write_locked(mm)
    flags, anon_vma, ops, file = await load_all(
        [vma.vm_flags, vma.anon_vma, vma.vm_ops, vma.vm_file], f"copy_vma {vma.name}")
    if ops is None and file is None and anon_vma is None:
        pgoff = addr >> PAGE_SHIFT
    new = await vma_merge_new_range(mm, addr, addr + length, flags, anon_vma, pgoff)
    if new is not None:
        new_pgoff, old_pgoff = await load_all([new.vm_pgoff, vma.vm_pgoff], "need_rmap_locks")
        return new, new_pgoff <= old_pgoff
    new = await vm_area_dup(vma)
    if new is None:
        return None, False
    await vma_set_range(new, addr, addr + length, pgoff)
    if await anon_vma_clone(new, vma):
        return None, False
    if file is not None:  # the copy's vm_file holds its own reference
        await get_file(file)
    if ops is not None and ops.open is not None:
        await ops.open(new)
    await vma_link(mm, new)
    return new, False


async def move_ptes(mm: MmStruct, old_addr: int, new_addr: int) -> None:
    """``move_ptes`` (mm/mremap.c) for one page: under the old and new page-table locks,
    ``ptep_get_and_clear`` the old PTE and ``set_pte_at`` the new one."""
    old_pte, new_pte = mm.pte[old_addr], mm.pte[new_addr]

    def move(values: list[Any]) -> list[Any]:
        return [None, values[0]]

    await locked_update([old_pte, new_pte], [old_pte, new_pte], move,
                        f"move_ptes {old_addr:#x} -> {new_addr:#x}")


async def move_page_tables(mm: MmStruct, vma: VmAreaStruct, old_addr: int,
                           new_vma: VmAreaStruct, new_addr: int, length: int,
                           need_rmap_locks: bool) -> int:
    """``move_page_tables`` (mm/mremap.c): move every PTE of the range, taking the source's
    anon_vma write lock around each move when ``need_rmap_locks`` (``take_rmap_locks``).
    Returns the length moved."""
    anon_vma = await vma.anon_vma.load() if need_rmap_locks else None
    for off in range(0, length, PAGE_SIZE):
        if isinstance(anon_vma, AnonVma):
            await anon_vma_lock_write(anon_vma)
        await move_ptes(mm, old_addr + off, new_addr + off)
        if isinstance(anon_vma, AnonVma):
            await anon_vma_unlock_write(anon_vma)
    return length


@kfunc("mainline")
async def move_vma(mm: MmStruct, vma: VmAreaStruct, old_addr: int, old_len: int,
                   new_addr: int) -> int:
    """``move_vma`` (mm/mremap.c): ``vma_start_write`` the source VMA (no fault may run on it
    under its VMA lock while its PTEs move), ``copy_vma_and_data`` (``copy_vma`` and
    ``move_page_tables``), then unmap the old range (``do_vmi_munmap``).  Caller holds the mmap
    write lock.  Returns the new address or ``-errno``."""
    mmap_assert_write_locked(mm)
    await vma_start_write(vma)
    start, pgoff = await load_all([vma.vm_start, vma.vm_pgoff], "move_vma")
    new_pgoff = pgoff + ((old_addr - start) >> PAGE_SHIFT)
    new_vma, need_rmap_locks = await copy_vma(mm, vma, new_addr, old_len, new_pgoff)
    if new_vma is None:
        return -ENOMEM
    await move_page_tables(mm, vma, old_addr, new_vma, new_addr, old_len, need_rmap_locks)
    err = await do_vmi_munmap(mm, old_addr, old_len, False)
    return err if err else new_addr


async def do_mremap(mm: MmStruct, addr: int, old_len: int, new_len: int, flags: int,
                    new_addr: int) -> int:
    """``SYSCALL_DEFINE5(mremap)`` → ``do_mremap`` (mm/mremap.c) for MREMAP_MAYMOVE |
    MREMAP_FIXED of a whole VMA: take the mmap write lock (killable), find the VMA
    (``vma_lookup``; -EFAULT), unmap the destination (``mremap_to``), ``move_vma``."""
    if flags != MREMAP_MAYMOVE | MREMAP_FIXED or old_len != new_len:
        return -EINVAL
    if await mmap_write_lock_killable(mm):
        return -EINTR
    vma = await vma_lookup(mm, addr)
    if vma is None:
        await mmap_write_unlock(mm)
        return -EFAULT
    start, end = await load_all([vma.vm_start, vma.vm_end], "vrm_set_vma")
    if start != addr or end != addr + old_len:
        await mmap_write_unlock(mm)
        return -EINVAL
    err = await do_vmi_munmap(mm, new_addr, new_len, False)
    ret = err if err else await move_vma(mm, vma, addr, old_len, new_addr)
    await mmap_write_unlock(mm)
    return int(ret)
