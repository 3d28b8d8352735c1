"""``mprotect`` (``mm/mprotect.c``): change a range's flags, splitting the VMA
under its write lock.  PTE protection changes (``change_protection``) are not modelled."""

from __future__ import annotations

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm import find_vma_range
from vmacheck.kernel.include.linux.mm_types import EINTR, ENOMEM, MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_write_lock_killable, mmap_write_unlock
from vmacheck.kernel.mm.mmap import vm_flags_reset, vma_set_page_prot
from vmacheck.kernel.mm.mmap_lock import vma_start_write
from vmacheck.kernel.mm.vma import __split_vma


async def mprotect_fixup(mm: MmStruct, vma: VmAreaStruct, start: int, end: int,
                         newflags: int) -> int:
    """``mprotect_fixup`` (mm/mprotect.c): ``vma_modify_flags`` splits ``vma`` so that it
    covers exactly ``[start, end)`` (each split write-locks), then ``vma_start_write``,
    ``vm_flags_reset_once`` and ``vma_set_page_prot``."""
    oldflags, vm_start, vm_end = await load_all([vma.vm_flags, vma.vm_start, vma.vm_end],
                                                "mprotect_fixup")
    if newflags == oldflags:
        return 0
    if start > vm_start and await __split_vma(mm, vma, start, True):
        return -ENOMEM
    if end < vm_end and await __split_vma(mm, vma, end, False):
        return -ENOMEM
    await vma_start_write(vma)
    await vm_flags_reset(vma, newflags)
    await vma_set_page_prot(vma)
    return 0


async def do_mprotect_pkey(mm: MmStruct, start: int, length: int, newflags: int) -> int:
    """``do_mprotect_pkey`` (mm/mprotect.c) for a range inside one VMA: under
    ``mmap_write_lock_killable``, ``mprotect_fixup``.  ``newflags`` are the VMA's new
    ``vm_flags`` (the model skips the PROT_* translation)."""
    if await mmap_write_lock_killable(mm):
        return -EINTR
    entry = await find_vma_range(mm, start)
    if entry is None or entry[0] > start:
        await mmap_write_unlock(mm)
        return -ENOMEM
    err = await mprotect_fixup(mm, entry[2], start, start + length, newflags)
    await mmap_write_unlock(mm)
    return err
