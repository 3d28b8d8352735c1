"""Per-VMA locks: readers under RCU, writers, detach, and the wait helpers
(``mm/mmap_lock.c`` of the 2026 trees).

Every function follows the kernel's branch structure and is split into steps at each access
another CPU can observe (atomics, lock operations, shared loads and stores).
``lock_vma_under_rcu``, ``vma_start_write`` and ``vma_start_read_unlocked`` are versioned
(:func:`~vmacheck.kernel.variants.kfunc`) so that variants can replace them.
"""

from __future__ import annotations

from vmacheck.explore import WARN_ON, hold, loop_begin, retry, unhold
from vmacheck.kernel.checks import (
    VMA_LOCK_CLASS,
    note_vma_read_locked,
    vma_readers,
    vma_write_key,
)
from vmacheck.kernel.include.linux.atomic import (
    WaitEvent,
    atomic_cond_update,
    load_all,
    refcount_sub_and_test,
)
from vmacheck.kernel.include.linux.mm import mas_walk, vma_lookup
from vmacheck.kernel.include.linux.mm_types import (
    EAGAIN,
    EINTR,
    VM_REFCNT_EXCLUDE_READERS_FLAG,
    VM_REFCNT_LIMIT,
    MmStruct,
    VmAreaStruct,
    kernel_state,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    fatal_signal_pending,
    mmap_assert_write_locked,
    mmap_read_lock,
    mmap_read_unlock,
    per_vma_lock,
    vma_assert_attached,
    vma_assert_write_locked,
    vma_end_read,
    vma_refcount_put,
    vma_start_read_locked,
)
from vmacheck.kernel.include.linux.sched_mm import mmdrop, mmgrab
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock
from vmacheck.kernel.variants import kfunc

VMA_LOCK_SUCCESS = "VMA_LOCK_SUCCESS"
VMA_LOCK_ABORT = "VMA_LOCK_ABORT"
VMA_LOCK_RETRY = "VMA_LOCK_RETRY"
VMA_LOCK_MISS = "VMA_LOCK_MISS"
MODEL_VMA_REUSED = "model: vma reused by another mm"
"""A model-only event: ``vma_start_read`` found the object attached to another mm."""

TASK_UNINTERRUPTIBLE = 2
TASK_KILLABLE = 0x102


def count_vm_vma_lock_event(event: str) -> None:
    """``count_vm_vma_lock_event`` (include/linux/vmstat.h): the /proc/vmstat counters."""
    counters = kernel_state().vma_lock_events
    counters[event] = counters.get(event, 0) + 1


# --------------------------------------------------------------------------- writers


async def __vma_start_exclude_readers(vma: VmAreaStruct, detaching: bool,
                                      state: int = TASK_UNINTERRUPTIBLE
                                      ) -> tuple[bool, bool, int]:
    """``__vma_start_exclude_readers`` (mm/mmap_lock.c, 7.0 name of ``__vma_enter_locked``):
    add ``VM_REFCNT_EXCLUDE_READERS_FLAG`` unless the VMA is detached, then sleep on
    ``vma_writer_wait`` until only the writer's share is left (FLAG + 1, or FLAG when
    detaching).  Returns ``(detached, exclusive, err)``: with ``state == TASK_KILLABLE`` a fatal
    signal (``FATAL_SIGNALS``) ends the wait with -EINTR after ``__vma_end_exclude_readers``.
    ``__vma_lockdep_acquire_exclusive`` makes the wait a blocking lockdep acquisition of the
    VMA lock class (readers take it as trylocks)."""
    mm = vma.vm_mm
    assert mm is not None
    mmap_assert_write_locked(mm)
    target = VM_REFCNT_EXCLUDE_READERS_FLAG | (0 if detaching else 1)
    old = await atomic_cond_update(
        vma.vm_refcnt, lambda v: v + VM_REFCNT_EXCLUDE_READERS_FLAG if v != 0 else v,
        "refcount_add_not_zero(VM_REFCNT_EXCLUDE_READERS_FLAG)", mode="relaxed")
    if old == 0:
        return True, False, 0
    hold(vma_write_key(vma), f"{vma.name} (vma write lock)", VMA_LOCK_CLASS)
    if state == TASK_KILLABLE and old + VM_REFCNT_EXCLUDE_READERS_FLAG != target \
            and await fatal_signal_pending("rcuwait_wait_event(vma_writer_wait)"):
        detached = await __vma_end_exclude_readers(vma)
        return detached, False, -EINTR
    await WaitEvent(vma.vm_refcnt, lambda v: v == target,
                    lambda ex, tid: vma_readers(ex, vma),
                    f"rcuwait_wait_event(vma_writer_wait) until {vma.name} readers drain")
    return False, True, 0


async def __vma_end_exclude_readers(vma: VmAreaStruct) -> bool:
    """``__vma_end_exclude_readers`` (mm/mmap_lock.c, 7.0 name of ``__vma_exit_locked``):
    remove the flag (``__vma_lockdep_release_exclusive``); true if that detached the VMA."""
    old = await refcount_sub_and_test(vma.vm_refcnt, VM_REFCNT_EXCLUDE_READERS_FLAG)
    unhold(vma_write_key(vma))
    return bool(old - VM_REFCNT_EXCLUDE_READERS_FLAG == 0)


async def __vma_start_write(vma: VmAreaStruct,
                            state: int = TASK_UNINTERRUPTIBLE) -> int:
    """``__vma_start_write`` (mm/mmap_lock.c): exclude and drain readers, stamp
    ``vm_lock_seq = mm_lock_seq`` (``__vma_raw_mm_seqnum``), end the exclusion (readers now
    see the stamp and back off).  -EINTR, unstamped, if a killable wait was interrupted."""
    mm = vma.vm_mm
    assert mm is not None
    mm_lock_seq = await mm.mm_lock_seq.load()
    detached, exclusive, err = await __vma_start_exclude_readers(vma, False, state)
    if err:
        return err
    await vma.vm_lock_seq.store(mm_lock_seq, mode="once")
    if exclusive:
        detached = await __vma_end_exclude_readers(vma)
        WARN_ON(detached, f"__vma_start_write detached {vma.name}")
    return 0


async def __vma_exclude_readers_for_detach(vma: VmAreaStruct) -> None:
    """``__vma_exclude_readers_for_detach`` (mm/mmap_lock.c): the slow path of
    ``vma_mark_detached`` - wait until the transient readers are gone and the VMA is
    detached."""
    detached, exclusive, _ = await __vma_start_exclude_readers(vma, True)
    if exclusive:
        detached = await __vma_end_exclude_readers(vma)
    WARN_ON(not detached, f"vma_mark_detached left {vma.name} attached")


async def __is_vma_write_locked(vma: VmAreaStruct) -> bool:
    """``__is_vma_write_locked`` (include/linux/mmap_lock.h): the caller holds the mmap
    write lock; is the VMA stamped with the current ``mm_lock_seq``?"""
    mm = vma.vm_mm
    assert mm is not None
    mmap_assert_write_locked(mm)
    seq, stamp = await load_all([mm.mm_lock_seq, vma.vm_lock_seq], "__is_vma_write_locked")
    return bool(stamp == seq)


@kfunc("mainline")
async def vma_start_write(vma: VmAreaStruct) -> None:
    """``vma_start_write`` (include/linux/mmap_lock.h): write-lock a VMA under the mmap write
    lock, waiting for its readers; idempotent within one write period; released only by
    ``mmap_write_unlock``/``mmap_write_downgrade``.  Stub without per-VMA locks."""
    if not per_vma_lock():
        return
    if await __is_vma_write_locked(vma):
        return
    await __vma_start_write(vma, TASK_UNINTERRUPTIBLE)


async def vma_start_write_killable(vma: VmAreaStruct) -> int:
    """``vma_start_write_killable`` (include/linux/mmap_lock.h): as ``vma_start_write``, but
    waiting for readers is killable: -EINTR (the VMA not write-locked) if a fatal signal
    arrives (``FATAL_SIGNALS``)."""
    if not per_vma_lock():
        return 0
    if await __is_vma_write_locked(vma):
        return 0
    return await __vma_start_write(vma, TASK_KILLABLE)


async def vma_mark_detached(vma: VmAreaStruct) -> None:
    """``vma_mark_detached`` (include/linux/mmap_lock.h): drop the attach reference; if
    transient readers still hold references, ``__vma_exclude_readers_for_detach``."""
    if not per_vma_lock():
        return
    vma_assert_write_locked(vma)
    vma_assert_attached(vma)
    old = await refcount_sub_and_test(vma.vm_refcnt, 1, "refcount_dec_and_test")
    if old - 1 != 0:
        await __vma_exclude_readers_for_detach(vma)


# --------------------------------------------------------------------------- readers


async def vma_start_read(mm: MmStruct, vma: VmAreaStruct) -> VmAreaStruct | int | None:
    """``vma_start_read`` (mm/mmap_lock.c, 2026 form).  Caller is in an RCU read
    section.  Returns the VMA with a read reference (RCU still held), ``-EAGAIN`` if it was
    detached, or NULL; on failure the RCU read lock has been released.  Never blocks."""
    # 1. early, lockless stamp check
    stamp, seq = await load_all([vma.vm_lock_seq, mm.mm_lock_seq], "vma_start_read: seq check")
    if stamp == seq:
        await rcu_read_unlock()
        return None
    # 2. bounded increment
    old = await atomic_cond_update(vma.vm_refcnt,
                                   lambda v: v + 1 if 0 < v < VM_REFCNT_LIMIT else v,
                                   "__refcount_inc_not_zero_limited_acquire", mode="acquire")
    if not 0 < old < VM_REFCNT_LIMIT:
        await rcu_read_unlock()
        if old == 0:
            return -EAGAIN
        return None
    # 3. the slab object may have been reused by another mm (9bbffee67ffd)
    other_mm = await vma.slot.vm_mm.load(mode="once")
    if other_mm is not mm:
        count_vm_vma_lock_event(MODEL_VMA_REUSED)
        await rcu_read_unlock()
        await mmgrab(other_mm)
        await vma_refcount_put(vma)
        await mmdrop(other_mm)
        return None
    # 4. late stamp check: a writer stamped the VMA between 1 and 2.  Holding a reference to
    # an object of this mm, the pointer now designates the slot's current life (the object
    # may have been freed and reused within this mm; the caller's range check catches that).
    life = vma.slot.current or vma
    values = await load_all([mm.mm_lock_seq, *life.lock_view()], "vma_start_read: seq recheck")
    if values[1] == values[0]:
        await vma_refcount_put(vma)
        await rcu_read_unlock()
        return None
    note_vma_read_locked(life, mm)
    return life


@kfunc("mainline")
async def lock_vma_under_rcu(mm: MmStruct, address: int) -> VmAreaStruct | None:
    """``lock_vma_under_rcu`` (mm/mmap_lock.c): find and read-lock the VMA
    covering ``address`` without the mmap lock.  Never blocks: NULL on any failure; re-walks
    the tree when the found VMA was detached (-EAGAIN; the re-walk waits for the tree or the
    VMA to change so exhaustive search stays finite).  Stub returning NULL without per-VMA
    locks."""
    if not per_vma_lock():
        return None
    while True:
        loop_begin()
        await rcu_read_lock()
        vma = await mas_walk(mm, address)
        if vma is None:
            await rcu_read_unlock()
            count_vm_vma_lock_event(VMA_LOCK_ABORT)
            return None
        locked = await vma_start_read(mm, vma)
        if isinstance(locked, int):
            count_vm_vma_lock_event(VMA_LOCK_MISS)
            await retry()
            continue
        if locked is None:
            count_vm_vma_lock_event(VMA_LOCK_ABORT)
            return None
        await rcu_read_unlock()
        start, end = await load_all([locked.vm_start, locked.vm_end],
                                    "lock_vma_under_rcu: range check")
        if address < start or address >= end:
            await vma_end_read(locked)
            count_vm_vma_lock_event(VMA_LOCK_ABORT)
            return None
        return locked


# --------------------------------------------------------------------------- wait helpers


async def lock_vma_under_rcu_wait(mm: MmStruct, address: int) -> VmAreaStruct | None:
    """``lock_vma_under_rcu_wait`` (mm/mmap_lock.c, linux-mm 607a10f8): the
    fast path, else wait out the writer under ``mmap_read_lock`` and retry while a VMA
    exists.  Blocks.  A retry that would see nothing new parks until something changes."""
    while True:
        loop_begin()
        vma: VmAreaStruct | None = await lock_vma_under_rcu(mm, address)
        if vma is not None:
            return vma
        await mmap_read_lock(mm)
        vma = await vma_lookup(mm, address)
        await mmap_read_unlock(mm)
        if vma is None:
            return None
        await retry()


@kfunc("fixed")
async def vma_start_read_unlocked(mm: MmStruct, address: int) -> VmAreaStruct | None:
    """``vma_start_read_unlocked`` (mm/mmap_lock.c, Hansen series patch 3 as the review asked
    for it): fast path ``lock_vma_under_rcu``; slow path looks the VMA up under
    ``mmap_read_lock``, read-locks it with ``vma_start_read_locked`` and drops the mmap lock.
    Returns a read-locked VMA with no mmap lock held, or NULL.  Blocks on the slow path."""
    vma: VmAreaStruct | None = await lock_vma_under_rcu(mm, address)
    if vma is not None:
        return vma
    await mmap_read_lock(mm)
    vma = await vma_lookup(mm, address)
    if vma is None:
        await mmap_read_unlock(mm)
        return None
    if not await vma_start_read_locked(vma):
        await mmap_read_unlock(mm)
        return None
    await mmap_read_unlock(mm)
    return vma


@vma_start_read_unlocked.variant("posted")
async def vma_start_read_unlocked_posted(mm: MmStruct, address: int) -> VmAreaStruct | None:
    """``vma_start_read_unlocked`` (mm/mmap_lock.c) exactly as posted (Hansen series v2 3/5): the
    slow path takes the mmap read lock (``guard(rwsem_read)``) and calls
    ``vma_start_read_locked(vma)`` on the NULL left by the failed fast path."""
    vma: VmAreaStruct | None = await lock_vma_under_rcu(mm, address)
    if vma is not None:
        return vma
    await mmap_read_lock(mm)  # guard(rwsem_read)(&mm->mmap_lock)
    if not await vma_start_read_locked(vma):  # type: ignore[arg-type]  # the posted bug
        await mmap_read_unlock(mm)
        return None
    await mmap_read_unlock(mm)
    return vma
