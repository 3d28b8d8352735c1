"""mmap, munmap, stack expansion and exit (``mm/mmap.c``, ``mm/vma.c``).

``mmap_region`` and ``expand_downwards`` are versioned; the historic versions with a fix
removed are registered here: ``mmap_region@pre-33313a747e81`` (the new VMA is inserted before
it is write-locked) and ``expand_downwards@pre-c137381f71ae`` (the stack VMA's bounds change
without ``vma_start_write``).
"""

from __future__ import annotations

from vmacheck.kernel.fs.file_table import fput
from vmacheck.kernel.include.linux.atomic import load_all, locked_update, store_all
from vmacheck.kernel.include.linux.mm import find_vma_range, vma_iter_store
from vmacheck.kernel.include.linux.mm_types import (
    EFAULT,
    EINTR,
    ENOMEM,
    PAGE_SHIFT,
    VM_GROWSDOWN,
    VM_SOFTDIRTY,
    File,
    MmStruct,
    VmAreaStruct,
    vm_get_page_prot,
    vma_page_prot,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_assert_write_locked,
    mmap_read_lock,
    mmap_read_unlock,
    mmap_write_lock,
    mmap_write_lock_killable,
    mmap_write_unlock,
    vma_assert_write_locked,
    vma_mark_attached,
)
from vmacheck.kernel.mm.memory import __anon_vma_prepare, tlb_finish_mmu, unmap_page_range
from vmacheck.kernel.mm.mmap_lock import vma_mark_detached, vma_start_write
from vmacheck.kernel.mm.vma import (
    do_vmi_munmap,
    remove_vma,
    vm_area_alloc,
    vm_area_free,
    vma_close,
    vma_set_range,
    vms_clear_ptes,
    vms_gather_munmap_vmas,
)
from vmacheck.kernel.variants import kfunc

# --------------------------------------------------------------------------- flags helpers


async def vm_flags_set(vma: VmAreaStruct, flags: int) -> None:
    """``vm_flags_set`` (include/linux/mm.h): ``vma_start_write`` then set bits."""
    await vma_start_write(vma)
    await vma.vm_flags.update(lambda f: f | flags)


async def vm_flags_reset(vma: VmAreaStruct, flags: int) -> None:
    """``vm_flags_reset`` (include/linux/mm.h): the VMA must already be write-locked."""
    vma_assert_write_locked(vma)
    await vma.vm_flags.store(flags)


async def vma_set_page_prot(vma: VmAreaStruct) -> None:
    """``vma_set_page_prot`` (mm/mmap.c): recompute ``vm_page_prot`` from ``vm_flags``,
    write-protecting shared mappings that want write notification."""
    flags, vm_ops = await load_all([vma.vm_flags, vma.vm_ops], "vma_set_page_prot")
    await vma.vm_page_prot.store(vma_page_prot(flags, vm_ops))


# --------------------------------------------------------------------------- mmap


async def __mmap_new_vma(mm: MmStruct, file: File | None, addr: int,
                         end: int, vm_flags: int, pgoff: int) -> VmAreaStruct | int:
    """``__mmap_new_vma`` up to the insertion (mm/vma.c): allocate, set range, flags and
    ``vm_page_prot``, call the driver's ``mmap`` hook (``mmap_file``) while the VMA is still
    private to this thread; if the hook fails, ``fput(vma->vm_file)`` and ``vm_area_free``."""
    vma = await vm_area_alloc(mm)
    if vma is None:
        return -ENOMEM
    await vma_set_range(vma, addr, end, pgoff)
    if file is None:
        await store_all([(vma.vm_flags, vm_flags),
                         (vma.vm_page_prot, vm_get_page_prot(vm_flags)), (vma.vm_file, None)],
                        "vm_flags_init; vm_page_prot = map->page_prot")
    else:  # the same step also takes vma->vm_file's reference (get_file(map->file))
        await locked_update([file.f_count], [vma.vm_flags, vma.vm_page_prot, vma.vm_file,
                                             file.f_count],
                            lambda v: [vm_flags, vm_get_page_prot(vm_flags), file, v[0] + 1],
                            "vm_flags_init; vm_page_prot = map->page_prot; "
                            "vm_file = get_file(map->file)")
    if file is not None and file.f_op.mmap is not None:
        err = await file.f_op.mmap(file, vma)
        if err:  # the driver failed: drop vm_file's reference and free the VMA
            await fput(file)
            await vm_area_free(vma)
            return err
    return vma


async def __mmap_setup(mm: MmStruct, addr: int, end: int) -> list[VmAreaStruct] | int:
    """``__mmap_setup`` (mm/vma.c): MAP_FIXED over existing mappings: gather and detach them,
    then ``vms_clean_up_area``: zap their PTEs and call ``vm_ops->close`` now."""
    entry = await find_vma_range(mm, addr)
    if entry is None or entry[0] >= end:
        return []
    old = await vms_gather_munmap_vmas(mm, entry[2], addr, end)
    if isinstance(old, int):
        return old
    await vms_clear_ptes(mm, old)
    for vma in old:
        await vma_close(vma)
    return old


async def __mmap_complete(mm: MmStruct, vma: VmAreaStruct,
                          old: list[VmAreaStruct]) -> None:
    """``__mmap_complete`` (mm/vma.c): free the replaced VMAs, mark soft-dirty
    (``vm_flags_set``) and ``vma_set_page_prot`` - modifications after the insertion."""
    for gone in old:
        await remove_vma(gone)
    await vm_flags_set(vma, VM_SOFTDIRTY)
    await vma_set_page_prot(vma)


@kfunc("mainline")
async def mmap_region(mm: MmStruct, file: File | None, addr: int, length: int,
                      vm_flags: int, pgoff: int) -> int:
    """``mmap_region``/``__mmap_region`` (mm/vma.c).  Caller holds the mmap
    write lock.  The driver hook runs before insertion; the new VMA is write-locked before it
    is inserted (33313a747e81), so no reader can lock it until ``mmap_write_unlock``."""
    mmap_assert_write_locked(mm)
    end = addr + length
    old = await __mmap_setup(mm, addr, end)
    if isinstance(old, int):
        return old
    vma = await __mmap_new_vma(mm, file, addr, end, vm_flags, pgoff)
    if isinstance(vma, int):
        return vma
    await vma_start_write(vma)
    await vma_mark_attached(vma)
    await vma_iter_store(mm, addr, end, vma)
    await __mmap_complete(mm, vma, old)
    return addr


@mmap_region.variant("pre-33313a747e81")
async def mmap_region_insert_unlocked(mm: MmStruct, file: File | None, addr: int, length: int,
                                      vm_flags: int, pgoff: int) -> int:
    """``mmap_region`` (mm/mmap.c) before 33313a747e81 "mm: lock newly mapped VMA which can
    be modified after it becomes visible": the VMA is inserted without ``vma_start_write`` and
    modified afterwards (soft-dirty, ``vma_set_page_prot``)."""
    mmap_assert_write_locked(mm)
    end = addr + length
    old = await __mmap_setup(mm, addr, end)
    if isinstance(old, int):
        return old
    vma = await __mmap_new_vma(mm, file, addr, end, vm_flags, pgoff)
    if isinstance(vma, int):
        return vma
    await vm_area_attach_unlocked(vma)
    await vma_iter_store(mm, addr, end, vma)
    await __mmap_complete(mm, vma, old)
    return addr


async def vm_area_attach_unlocked(vma: VmAreaStruct) -> None:
    """``vma_link`` (mm/mmap.c) before 33313a747e81, its attach: publish the VMA as attached with
    no write lock taken (``vm_refcnt = 1``; the 6.15 encoding of "attached")."""
    await vma.vm_refcnt.store(1)


async def vm_mmap_pgoff(mm: MmStruct, file: File | None, addr: int, length: int,
                        vm_flags: int, pgoff: int = 0) -> int:
    """``vm_mmap_pgoff`` (mm/util.c) → ``do_mmap`` → ``mmap_region`` under
    ``mmap_write_lock_killable``."""
    if await mmap_write_lock_killable(mm):
        return -EINTR
    ret: int = await mmap_region(mm, file, addr, length, vm_flags, pgoff)
    await mmap_write_unlock(mm)
    return ret


# --------------------------------------------------------------------------- munmap


async def __vm_munmap(mm: MmStruct, start: int, length: int, unlock: bool) -> int:
    """``__vm_munmap`` (mm/mmap.c): ``mmap_write_lock_killable``, ``do_vmi_munmap``; with
    ``unlock`` (the munmap syscall) the lock is downgraded and dropped inside."""
    if await mmap_write_lock_killable(mm):
        return -EINTR
    ret = await do_vmi_munmap(mm, start, length, unlock)
    if ret or not unlock:
        await mmap_write_unlock(mm)
    return ret


async def vm_munmap(mm: MmStruct, start: int, length: int) -> int:
    """``vm_munmap`` (mm/mmap.c): ``__vm_munmap(start, len, false)``."""
    return await __vm_munmap(mm, start, length, False)


async def sys_munmap(mm: MmStruct, addr: int, length: int) -> int:
    """``SYSCALL_DEFINE2(munmap)`` (mm/mmap.c): ``__vm_munmap(addr, len, true)``."""
    return await __vm_munmap(mm, addr, length, True)


# --------------------------------------------------------------------------- stack


@kfunc("mainline")
async def expand_downwards(vma: VmAreaStruct, address: int) -> int:
    """``expand_downwards`` (mm/mmap.c): grow a VM_GROWSDOWN VMA down to ``address`` under the
    mmap write lock, write-locking it first (c137381f71ae)."""
    mm = vma.vm_mm
    assert mm is not None
    mmap_assert_write_locked(mm)
    flags = await vma.vm_flags.load()
    if not flags & VM_GROWSDOWN:
        return -EFAULT
    await __anon_vma_prepare(vma)
    await vma_start_write(vma)
    return await _expand_downwards_locked(mm, vma, address)


@expand_downwards.variant("pre-c137381f71ae")
async def expand_downwards_unlocked(vma: VmAreaStruct, address: int) -> int:
    """``expand_downwards`` (mm/mmap.c) before c137381f71ae "mm: lock a vma before stack
    expansion": the bounds change without ``vma_start_write``."""
    mm = vma.vm_mm
    assert mm is not None
    mmap_assert_write_locked(mm)
    flags = await vma.vm_flags.load()
    if not flags & VM_GROWSDOWN:
        return -EFAULT
    await __anon_vma_prepare(vma)
    return await _expand_downwards_locked(mm, vma, address)


async def _expand_downwards_locked(mm: MmStruct, vma: VmAreaStruct, address: int) -> int:
    """The tail of ``expand_downwards`` (mm/mmap.c) under ``anon_vma_lock_write``: new
    ``vm_start``, ``vm_pgoff -= grow``, ``vma_iter_store``."""
    start, end, pgoff = await load_all([vma.vm_start, vma.vm_end, vma.vm_pgoff],
                                       "expand_downwards")
    if address < start:
        grow = (start - address) >> PAGE_SHIFT
        await vma_set_range(vma, address, end, pgoff - grow)
        await vma_iter_store(mm, address, end, vma)
    return 0


async def expand_stack_locked(vma: VmAreaStruct, address: int) -> int:
    """``expand_stack_locked`` (mm/mmap.c): ``expand_downwards`` (no VM_GROWSUP here)."""
    ret: int = await expand_downwards(vma, address)
    return ret


# --------------------------------------------------------------------------- exit


async def exit_mmap(mm: MmStruct) -> None:
    """``exit_mmap`` (mm/mmap.c): unmap everything under the read lock, then
    under the write lock detach, unlink and free every VMA.  (The model clears the tree
    before freeing, where the kernel destroys it after; nobody can look it up by then.)"""
    await mmap_read_lock(mm)
    tree = await mm.mm_mt.load()
    pages = []
    for start, end, _ in tree:
        pages += await unmap_page_range(mm, start, end)
    await tlb_finish_mmu(pages)
    await mmap_read_unlock(mm)
    await mmap_write_lock(mm)
    tree = await mm.mm_mt.load()
    await mm.mm_mt.store(())
    for _, _, vma in tree:
        await vma_start_write(vma)
        await vma_mark_detached(vma)
        await remove_vma(vma)
    await mmap_write_unlock(mm)
