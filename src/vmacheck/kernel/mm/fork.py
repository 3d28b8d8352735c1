"""fork's address-space copy and the ``mm_users`` teardown (``kernel/fork.c``; ``dup_mmap``
moved to ``mm/mmap.c`` in 6.15).

``dup_mmap`` is versioned; ``dup_mmap@pre-fb49c455323f`` is the version before "fork: lock
VMAs of the parent process when forking": the parent's VMAs are copied under the parent's mmap
write lock only, so a page fault on a parent VMA under the per-VMA lock can run during the copy.
"""

from __future__ import annotations

from vmacheck.kernel.fs.file_table import get_file
from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm import vma_iter_store
from vmacheck.kernel.include.linux.mm_types import (
    EINTR,
    ENOMEM,
    VM_DONTCOPY,
    MmStruct,
    VmAreaStruct,
    VmOperationsStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_write_lock_killable,
    mmap_write_lock_nested,
    mmap_write_unlock,
    vma_mark_attached,
)
from vmacheck.kernel.include.linux.sched_mm import mmdrop
from vmacheck.kernel.kernel.workqueue import queue_work
from vmacheck.kernel.mm.memory import copy_page_range
from vmacheck.kernel.mm.mmap import exit_mmap
from vmacheck.kernel.mm.mmap_lock import vma_start_write
from vmacheck.kernel.mm.vma import vm_area_dup
from vmacheck.kernel.variants import kfunc

SINGLE_DEPTH_NESTING = 1


async def dup_mmap_copy_vma(mm: MmStruct, mpnt: VmAreaStruct, start: int, end: int) -> int:
    """``dup_mmap`` (mm/mmap.c), the body of its loop after the parent VMA is (or, before
    fb49c455323f, is not) write-locked: skip VM_DONTCOPY, else ``vm_area_dup``,
    ``anon_vma_fork``, link into the child's tree (``vma_iter_bulk_store``), ``vm_ops->open``,
    ``copy_page_range``.

    While it copies, the model-only flag ``model_dup_mmap`` of the parent VMA is set (two
    instrumentation steps) for the fork invariant."""
    flags = await mpnt.vm_flags.load()
    if flags & VM_DONTCOPY:
        return 0
    await mpnt.slot.model_dup_mmap.store(True)
    tmp = await vm_area_dup(mpnt)
    if tmp is None:
        await mpnt.slot.model_dup_mmap.store(False)
        return -ENOMEM
    tmp.vm_mm = mm
    await tmp.slot.vm_mm.store(mm)
    vm_file = tmp.vm_file._value  # copied from mpnt, constant: no scheduling point
    if vm_file is not None:
        await get_file(vm_file)
    # vma_iter_bulk_store links the copy into the child's tree and attaches it; the child mm
    # is write-locked, and the model stamps the copy write-locked so that
    # vma_mark_attached's assertion holds (inferred: the kernel's copy is private until
    # the child runs)
    await vma_start_write(tmp)
    await vma_mark_attached(tmp)
    await vma_iter_store(mm, start, end, tmp)
    vm_ops: VmOperationsStruct | None = await tmp.vm_ops.load()
    if vm_ops is not None and vm_ops.open is not None:
        await vm_ops.open(tmp)
    ret = await copy_page_range(tmp, mpnt)
    await mpnt.slot.model_dup_mmap.store(False)
    return ret


@kfunc("mainline")
async def dup_mmap(mm: MmStruct, oldmm: MmStruct) -> int:
    """``dup_mmap`` (mm/mmap.c, kernel/fork.c before 6.15): with both mmap locks held for
    write, write-lock every parent VMA - VM_DONTCOPY ones included - then copy it
    (fb49c455323f).  Every parent VMA stays write-locked until the parent's unlock."""
    if await mmap_write_lock_killable(oldmm):
        return -EINTR
    await mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING)
    retval = 0
    for start, end, mpnt in await oldmm.mm_mt.load():
        await vma_start_write(mpnt)
        retval = await dup_mmap_copy_vma(mm, mpnt, start, end)
        if retval:
            break
    await mmap_write_unlock(mm)
    await mmap_write_unlock(oldmm)
    return retval


@dup_mmap.variant("pre-fb49c455323f")
async def dup_mmap_parent_unlocked(mm: MmStruct, oldmm: MmStruct) -> int:
    """``dup_mmap`` (kernel/fork.c) before fb49c455323f "fork: lock VMAs of the parent process
    when forking": the parent's VMAs are not write-locked."""
    if await mmap_write_lock_killable(oldmm):
        return -EINTR
    await mmap_write_lock_nested(mm, SINGLE_DEPTH_NESTING)
    retval = 0
    for start, end, mpnt in await oldmm.mm_mt.load():
        retval = await dup_mmap_copy_vma(mm, mpnt, start, end)
        if retval:
            break
    await mmap_write_unlock(mm)
    await mmap_write_unlock(oldmm)
    return retval


async def __mmput(mm: MmStruct) -> None:
    """``__mmput`` (kernel/fork.c): ``exit_mmap`` then ``mmdrop``."""
    await exit_mmap(mm)
    await mmdrop(mm)


async def mmput(mm: MmStruct) -> None:
    """``mmput`` (kernel/fork.c): drop an ``mm_users`` reference; the last one tears the
    address space down in the caller (sleeps)."""
    await might_sleep("mmput")
    old = await mm.mm_users.fetch_add(-1)
    if old == 1:
        await __mmput(mm)


async def mmput_async(mm: MmStruct) -> None:
    """``mmput_async`` (kernel/fork.c): like ``mmput`` but the teardown runs from a work item
    (a new thread), so it never sleeps in the caller."""
    old = await mm.mm_users.fetch_add(-1)
    if old == 1:
        await queue_work(f"mmput_async_fn {mm.name}", __mmput, mm)
