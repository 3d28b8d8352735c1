"""The mmap_lock wrappers and the inline per-VMA lock helpers (``include/linux/mmap_lock.h``).

The configuration switches: ``SERIES_APPLIED`` (Dave Hansen's "mm: Unconditional
per-VMA locks and cleanups": per-VMA locks always built) and ``PER_VMA_LOCK`` (before the
series: ``CONFIG_PER_VMA_LOCK``).  Without the series and with ``PER_VMA_LOCK`` off, the VMA
lock functions are the header's stubs: ``lock_vma_under_rcu`` returns NULL, ``vma_end_read``,
``vma_start_write`` and attach/detach do nothing, and ``vma_start_read_locked`` does not exist.
When neither switch is given the series is applied.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import WARN_ON, Op, Var, choice, current
from vmacheck.explore.core import Execution, Footprint
from vmacheck.kernel.checks import (
    holds_vma_read,
    note_vma_read_locked,
    note_vma_read_unlocked,
)
from vmacheck.kernel.include.linux.atomic import locked_update
from vmacheck.kernel.include.linux.mm_types import (
    EINTR,
    VM_REFCNT_EXCLUDE_READERS_FLAG,
    VM_REFCNT_LIMIT,
    MmStruct,
    VmAreaStruct,
)
from vmacheck.kernel.variants import active, config


class KernelConfigError(NotImplementedError):
    """A function that the selected kernel configuration does not build was called."""


def per_vma_lock() -> bool:
    """Model helper: whether per-VMA locks are built (mm/Kconfig ``PER_VMA_LOCK``): after the
    series always, before it iff ``CONFIG_PER_VMA_LOCK``."""
    cfg = active().config
    series = cfg.get("SERIES_APPLIED", "PER_VMA_LOCK" not in cfg)
    return bool(series or cfg.get("PER_VMA_LOCK", True))


# --------------------------------------------------------------------------- mmap_lock


async def mmap_read_lock(mm: MmStruct) -> None:
    """``mmap_read_lock`` (include/linux/mmap_lock.h): ``down_read(&mm->mmap_lock)``; sleeps
    behind a queued writer."""
    await mm.mmap_lock.down_read()


FATAL_SIGNALS = "FATAL_SIGNALS"
"""Configuration switch (``--config FATAL_SIGNALS=y``): a task sleeping in a ``*_killable``
lock may receive a fatal signal (an explored choice) and get -EINTR.  Off by default."""


async def fatal_signal_pending(what: str) -> bool:
    """``fatal_signal_pending(current)`` (include/linux/sched/signal.h) for a task about to
    sleep in ``what``: with ``FATAL_SIGNALS`` a choice the explorer makes both ways (a SIGKILL
    arrives or not); otherwise never (no step)."""
    if not config(FATAL_SIGNALS):
        return False
    return bool(await choice(2, f"{what}: fatal signal?") == 1)


async def mmap_read_lock_killable(mm: MmStruct) -> int:
    """``mmap_read_lock_killable`` (include/linux/mmap_lock.h) → ``down_read_killable``: the
    fast path takes the lock; a task that would sleep returns -EINTR if a fatal signal arrives
    (``FATAL_SIGNALS``), else waits like :func:`mmap_read_lock`."""
    if config(FATAL_SIGNALS):
        if await mm.mmap_lock.down_read_trylock():
            return 0
        if await fatal_signal_pending("down_read_killable"):
            return -EINTR
    await mm.mmap_lock.down_read()
    return 0


async def mmap_read_trylock(mm: MmStruct) -> bool:
    """``mmap_read_trylock`` (include/linux/mmap_lock.h): fails if a writer holds the lock or
    anyone is queued."""
    return bool(await mm.mmap_lock.down_read_trylock())


async def mmap_read_unlock(mm: MmStruct) -> None:
    """``mmap_read_unlock`` (include/linux/mmap_lock.h): ``up_read``."""
    await mm.mmap_lock.up_read()


async def mmap_write_lock(mm: MmStruct) -> None:
    """``mmap_write_lock`` (include/linux/mmap_lock.h): ``down_write`` then
    ``mm_lock_seqcount_begin`` (seq odd), one step in the engine's rwsem."""
    await mm.mmap_lock.down_write()


async def mmap_write_lock_killable(mm: MmStruct) -> int:
    """``mmap_write_lock_killable`` (include/linux/mmap_lock.h) → ``down_write_killable``:
    as :func:`mmap_write_lock`, except that a task that would sleep returns -EINTR when a fatal
    signal arrives (``FATAL_SIGNALS``)."""
    if config(FATAL_SIGNALS):
        if await mm.mmap_lock.down_write_trylock():
            return 0
        if await fatal_signal_pending("down_write_killable"):
            return -EINTR
    await mm.mmap_lock.down_write()
    return 0


async def mmap_write_lock_nested(mm: MmStruct, subclass: int) -> None:
    """``mmap_write_lock_nested`` (include/linux/mmap_lock.h): a write lock with a lockdep
    subclass (fork's child mm)."""
    await mm.mmap_lock.down_write()


async def mmap_write_unlock(mm: MmStruct) -> None:
    """``mmap_write_unlock`` (include/linux/mmap_lock.h): ``vma_end_write_all`` (seq even: every
    VMA write lock of this write period ends) then ``up_write``; the engine's rwsem bumps the
    seq in the same step."""
    await mm.mmap_lock.up_write()


async def mmap_write_downgrade(mm: MmStruct) -> None:
    """``mmap_write_downgrade`` (include/linux/mmap_lock.h): ``vma_end_write_all`` then
    ``downgrade_write``."""
    await mm.mmap_lock.downgrade_write()


class _RwsemIsContended(Op):
    __slots__ = ("mm",)

    def __init__(self, mm: MmStruct) -> None:
        self.mm = mm

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return self.mm.mmap_lock.fp(False)

    def execute(self, ex: Execution, tid: int) -> bool:
        return bool(self.mm.mmap_lock.queue)

    def describe(self) -> str:
        return f"rwsem_is_contended {self.mm.mmap_lock.name}"


async def mmap_lock_is_contended(mm: MmStruct) -> bool:
    """``mmap_lock_is_contended`` (include/linux/mmap_lock.h): ``rwsem_is_contended`` (someone
    is queued)."""
    return bool(await _RwsemIsContended(mm))


def _holds_mmap(mm: MmStruct, mode: str | None) -> bool:
    ex = current()
    tid = ex.current_tid
    if tid is None:
        return False
    modes = ("R", "W") if mode is None else (mode,)
    return any(ex.holds(tid, (mm.mmap_lock, m)) for m in modes)


def mmap_assert_locked(mm: MmStruct) -> None:
    """``mmap_assert_locked`` (include/linux/mmap_lock.h): the caller holds the mmap lock in
    either mode."""
    WARN_ON(not _holds_mmap(mm, None), f"mmap_assert_locked({mm.name})")


def mmap_assert_write_locked(mm: MmStruct) -> None:
    """``mmap_assert_write_locked`` (include/linux/mmap_lock.h): the caller holds the mmap write
    lock."""
    WARN_ON(not _holds_mmap(mm, "W"), f"mmap_assert_write_locked({mm.name})")


# --------------------------------------------------------------------------- per-VMA locks


def _is_write_locked_now(vma: VmAreaStruct) -> bool:
    mm = vma.vm_mm
    assert mm is not None
    seq = mm.mm_lock_seq._value
    return bool(vma.slot.vm_lock_seq._value == seq and _holds_mmap(mm, "W"))


async def vma_start_read_locked_nested(vma: VmAreaStruct, subclass: int) -> bool:
    """``vma_start_read_locked_nested`` (include/linux/mmap_lock.h): take a VMA read reference
    while holding the mmap lock (no writer can exist); fails only if the VMA is detached or the
    count would pass ``VM_REFCNT_LIMIT``.  Never blocks."""
    mm = vma.vm_mm
    if not per_vma_lock():
        raise KernelConfigError("vma_start_read_locked needs CONFIG_PER_VMA_LOCK")
    assert mm is not None
    mmap_assert_locked(mm)
    view = vma.lock_view()

    def inc(values: list[Any]) -> list[Any] | None:
        return [values[0] + 1] if 0 < values[0] < VM_REFCNT_LIMIT else None

    old = (await locked_update([vma.vm_refcnt, *view], [vma.vm_refcnt], inc,
                               f"__refcount_inc_not_zero_limited_acquire {vma.name}"))[0]
    if not 0 < old < VM_REFCNT_LIMIT:
        return False
    note_vma_read_locked(vma)
    return True


async def vma_start_read_locked(vma: VmAreaStruct) -> bool:
    """``vma_start_read_locked`` (include/linux/mmap_lock.h):
    ``vma_start_read_locked_nested(vma, 0)``."""
    return await vma_start_read_locked_nested(vma, 0)


def is_vma_writer_only(refcnt: int) -> bool:
    """``is_vma_writer_only`` (include/linux/mmap_lock.h): a writer excludes readers and at
    most its own (attach) reference is left."""
    return bool(refcnt & VM_REFCNT_EXCLUDE_READERS_FLAG
                and refcnt <= VM_REFCNT_EXCLUDE_READERS_FLAG + 1)


async def rcuwait_wake_up(w: Var) -> None:
    """``rcuwait_wake_up`` (kernel/exit.c): wake the task sleeping on ``w`` (a read of the
    ``struct rcuwait``; the sleeper's wait condition is what lets it run in the model)."""
    await w.load()


async def vma_refcount_put(vma: VmAreaStruct) -> None:
    """``vma_refcount_put`` (include/linux/mmap_lock.h): read ``vma->vm_mm`` (a copy, in
    case the VMA is freed once the reference is gone), drop a reader reference
    (``__refcount_dec_and_test``) and, if only a writer's share is left
    (``is_vma_writer_only``), ``rcuwait_wake_up(&mm->vma_writer_wait)``: that touches the mm,
    which must still be alive (commit 9bbffee67ffd pins a foreign mm with ``mmgrab`` first)."""
    held = holds_vma_read(vma)
    life = vma.slot.current or vma
    values = await locked_update([vma.vm_refcnt, vma.slot.vm_mm, *life.lock_view()],
                                 [vma.vm_refcnt], lambda v: [v[0] - 1],
                                 f"vma_refcount_put {vma.name}")
    if held:  # rwsem_release(&vma->vmlock_dep_map), recorded in the step of the decrement
        note_vma_read_unlocked(vma)
    old, mm = values[0], values[1]
    WARN_ON(old % VM_REFCNT_EXCLUDE_READERS_FLAG == 0, f"vm_refcnt underflow on {vma.name}")
    if old - 1 != 0 and is_vma_writer_only(old - 1) and mm is not None:
        await rcuwait_wake_up(mm.vma_writer_wait)


async def vma_end_read(vma: VmAreaStruct) -> None:
    """``vma_end_read`` (include/linux/mmap_lock.h): release a VMA read lock
    (``vma_refcount_put``).  Stub (no-op) without per-VMA locks.  An unlock without a read lock
    held is ``bad-unlock``."""
    if not per_vma_lock():
        return
    if not holds_vma_read(vma):
        note_vma_read_unlocked(vma)  # reports the bad unlock
        return
    await vma_refcount_put(vma)


async def vma_mark_attached(vma: VmAreaStruct) -> None:
    """``vma_mark_attached`` (include/linux/mmap_lock.h): write-locked and detached →
    ``vm_refcnt = 1``."""
    if not per_vma_lock():
        return
    vma_assert_write_locked(vma)
    vma_assert_detached(vma)
    await vma.vm_refcnt.store(1, mode="release")  # refcount_set_release


def vma_assert_write_locked(vma: VmAreaStruct) -> None:
    """``vma_assert_write_locked`` (include/linux/mmap_lock.h): stamp == ``mm_lock_seq`` and the
    mmap write lock held (without per-VMA locks: ``mmap_assert_write_locked``)."""
    mm = vma.vm_mm
    assert mm is not None
    if not per_vma_lock():
        mmap_assert_write_locked(mm)
        return
    WARN_ON(not _is_write_locked_now(vma), f"vma_assert_write_locked({vma.name})")


def vma_assert_locked(vma: VmAreaStruct) -> None:
    """``vma_assert_locked`` (include/linux/mmap_lock.h): read-locked by the caller or
    write-locked."""
    mm = vma.vm_mm
    assert mm is not None
    if not per_vma_lock():
        mmap_assert_locked(mm)
        return
    WARN_ON(not (holds_vma_read(vma) or _is_write_locked_now(vma)),
            f"vma_assert_locked({vma.name})")


def vma_assert_stabilised(vma: VmAreaStruct) -> None:
    """``vma_assert_stabilised`` (include/linux/mmap_lock.h): the caller holds the mmap lock or
    a VMA lock on it."""
    mm = vma.vm_mm
    assert mm is not None
    WARN_ON(not (_holds_mmap(mm, None) or holds_vma_read(vma)),
            f"vma_assert_stabilised({vma.name})")


def vma_assert_attached(vma: VmAreaStruct) -> None:
    """``vma_assert_attached`` (include/linux/mmap_lock.h): ``vm_refcnt`` is not zero."""
    if per_vma_lock():
        WARN_ON(vma.slot.vm_refcnt._value == 0, f"vma_assert_attached({vma.name})")


def vma_assert_detached(vma: VmAreaStruct) -> None:
    """``vma_assert_detached`` (include/linux/mmap_lock.h): ``vm_refcnt`` is zero."""
    if per_vma_lock():
        WARN_ON(vma.slot.vm_refcnt._value != 0, f"vma_assert_detached({vma.name})")
