"""``/proc/pid/maps`` and the ``PROCMAP_QUERY`` ioctl (``fs/proc/task_mmu.c``, 6.17+).

With per-VMA locks, the maps reader walks the tree under RCU and read-locks one VMA at a time
(``lock_vma_range``, ``get_next_vma`` → ``lock_next_vma``), falling back to the mmap read lock
for the rest of the read when the VMA lock overflows (``fallback_to_mmap_lock``).
``PROCMAP_QUERY`` locks the one VMA it reports the same way (``query_vma_find_by_addr``).
Without per-VMA locks both take the mmap read lock.  Known simplifications: one ``read()``
prints the whole file (no seq_file restarts), no ``mmget_not_zero``/``mmput`` of the target
mm, a line is the VMA's range, flags and offset; ``PROCMAP_QUERY`` asks for the covering VMA.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm import find_vma
from vmacheck.kernel.include.linux.mm_types import EAGAIN, EINTR, MmStruct, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_lock,
    mmap_read_lock_killable,
    mmap_read_unlock,
    per_vma_lock,
    vma_end_read,
)
from vmacheck.kernel.mm.mmap_lock_iter import (
    VmaIterator,
    lock_next_vma,
    vma_iter_set,
    vma_next,
)
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock

ENOENT = 2
MapsLine = tuple[int, int, int, int]


@dataclass(slots=True)
class ProcMapsLockingCtx:
    """``struct proc_maps_locking_ctx`` (fs/proc/internal.h)."""

    mm: MmStruct
    locked_vma: VmAreaStruct | None = None
    mmap_locked: bool = False


async def unlock_ctx_vma(ctx: ProcMapsLockingCtx) -> None:
    """``unlock_ctx_vma`` (fs/proc/task_mmu.c): ``vma_end_read`` the VMA locked last."""
    if ctx.locked_vma is not None:
        await vma_end_read(ctx.locked_vma)
        ctx.locked_vma = None


async def lock_vma_range(ctx: ProcMapsLockingCtx) -> bool:
    """``lock_vma_range`` (fs/proc/task_mmu.c) for ``/proc/pid/maps``: an RCU read section
    (per-VMA locks), else the mmap read lock (killable)."""
    if not per_vma_lock():
        if await mmap_read_lock_killable(ctx.mm):
            return False
        ctx.mmap_locked = True
        return True
    await rcu_read_lock()
    ctx.locked_vma = None
    ctx.mmap_locked = False
    return True


async def unlock_vma_range(ctx: ProcMapsLockingCtx) -> None:
    """``unlock_vma_range`` (fs/proc/task_mmu.c)."""
    if ctx.mmap_locked:
        await mmap_read_unlock(ctx.mm)
    else:
        await unlock_ctx_vma(ctx)
        await rcu_read_unlock()


async def get_next_vma(ctx: ProcMapsLockingCtx, vmi: VmaIterator,
                       last_pos: int) -> VmAreaStruct | int | None:
    """``get_next_vma`` (fs/proc/task_mmu.c): ``vma_next`` under the mmap lock, else unlock
    the previous VMA and ``lock_next_vma``."""
    if ctx.mmap_locked:
        return await vma_next(vmi)
    await unlock_ctx_vma(ctx)
    vma: VmAreaStruct | int | None = await lock_next_vma(ctx.mm, vmi, last_pos)
    if isinstance(vma, VmAreaStruct):
        ctx.locked_vma = vma
    return vma


async def fallback_to_mmap_lock(ctx: ProcMapsLockingCtx, vmi: VmaIterator, pos: int) -> bool:
    """``fallback_to_mmap_lock`` (fs/proc/task_mmu.c): leave RCU and finish the read under
    the mmap read lock."""
    if ctx.mmap_locked:
        return False
    await rcu_read_unlock()
    await mmap_read_lock(ctx.mm)
    vma_iter_set(vmi, pos)
    ctx.mmap_locked = True
    return True


async def show_map_vma(vma: VmAreaStruct) -> MapsLine:
    """``show_map_vma`` (fs/proc/task_mmu.c): the line's range, flags and offset."""
    start, end, flags, pgoff = await load_all(
        [vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff], f"show_map_vma {vma.name}")
    return start, end, flags, pgoff


async def proc_pid_maps_read(mm: MmStruct) -> list[MapsLine] | int:
    """``m_start``/``proc_get_vma``/``show_map``/``m_next``/``m_stop`` (fs/proc/task_mmu.c)
    for one read of ``/proc/pid/maps``: the lines, or ``-errno``."""
    ctx = ProcMapsLockingCtx(mm)
    if not await lock_vma_range(ctx):
        return -EINTR
    vmi = VmaIterator(mm, 0)
    lines: list[MapsLine] = []
    pos = 0
    while True:
        vma = await get_next_vma(ctx, vmi, pos)
        if vma == -EAGAIN and await fallback_to_mmap_lock(ctx, vmi, pos):
            vma = await get_next_vma(ctx, vmi, pos)
        if not isinstance(vma, VmAreaStruct):
            break
        line = await show_map_vma(vma)
        lines.append(line)
        pos = line[1]
    await unlock_vma_range(ctx)
    return lines


async def query_vma_find_by_addr(ctx: ProcMapsLockingCtx,
                                 addr: int) -> VmAreaStruct | int | None:
    """``query_vma_find_by_addr`` (fs/proc/task_mmu.c): ``find_vma`` once the mmap lock is
    held; else unlock the previous VMA and ``lock_next_vma`` in an RCU section, falling back
    to the mmap read lock on -EAGAIN."""
    mm = ctx.mm
    if ctx.mmap_locked:
        return await find_vma(mm, addr)
    await unlock_ctx_vma(ctx)
    await rcu_read_lock()
    vmi = VmaIterator(mm, addr)
    vma: VmAreaStruct | int | None = await lock_next_vma(mm, vmi, addr)
    await rcu_read_unlock()
    if vma is None:
        return None
    if isinstance(vma, VmAreaStruct):
        ctx.locked_vma = vma
        return vma
    if vma == -EAGAIN:
        await mmap_read_lock(mm)
        found = await find_vma(mm, addr)
        ctx.mmap_locked = True
        return found
    return vma


async def query_vma_teardown(ctx: ProcMapsLockingCtx) -> None:
    """``query_vma_teardown`` (fs/proc/task_mmu.c)."""
    if ctx.mmap_locked:
        await mmap_read_unlock(ctx.mm)
    else:
        await unlock_ctx_vma(ctx)


async def do_procmap_query(mm: MmStruct, addr: int) -> MapsLine | int:
    """``do_procmap_query`` (fs/proc/task_mmu.c) for the VMA covering ``addr``:
    ``query_vma_setup`` (the mmap read lock without per-VMA locks),
    ``query_matching_vma``, read the fields, ``query_vma_teardown``."""
    ctx = ProcMapsLockingCtx(mm)
    if not per_vma_lock():
        if await mmap_read_lock_killable(mm):
            return -EINTR
        ctx.mmap_locked = True
    vma = await query_vma_find_by_addr(ctx, addr)
    ret: MapsLine | int
    if not isinstance(vma, VmAreaStruct):
        ret = vma if isinstance(vma, int) else -ENOENT
    else:
        line = await show_map_vma(vma)
        ret = line if line[0] <= addr else -ENOENT
    await query_vma_teardown(ctx)
    return ret
