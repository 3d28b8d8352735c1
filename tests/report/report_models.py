"""Small models, one per finding kind, that the report tests render.

They use only the public primitives, so they do not depend on the kernel models.  Each is a
zero-argument callable returning named threads, as :func:`vmacheck.explore` wants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import vmacheck as vc

Model = Callable[[], Iterable[Any]]

MAX_STEPS = 200
"""Step budget of the explorations in these tests (the livelock model hits it)."""


def abba_deadlock() -> list[tuple[str, Any]]:
    """Two tasks take mmap_lock and i_mmap_rwsem in opposite orders."""
    mmap_lock = vc.RwSem("mmap_lock")
    i_mmap = vc.Mutex("i_mmap_rwsem")

    async def shrinker() -> None:
        await mmap_lock.down_read()
        await i_mmap.lock()
        await i_mmap.unlock()
        await mmap_lock.up_read()

    async def truncate() -> None:
        await i_mmap.lock()
        await mmap_lock.down_write()
        await mmap_lock.up_write()
        await i_mmap.unlock()

    return [("shrinker/1", shrinker()), ("truncate/2", truncate())]


def use_after_free() -> list[tuple[str, Any]]:
    """munmap frees the VMA while a page-fault still reads vm_flags without the lock."""
    mmap_lock = vc.RwSem("mmap_lock")
    vma = vc.Allocation("vma")
    vm_flags = vc.Var("vma->vm_flags", 0x73, alloc=vma)

    async def zap_vma_range() -> None:
        await vm_flags.load()

    async def page_fault() -> None:
        await zap_vma_range()

    async def do_munmap() -> None:
        await mmap_lock.down_write()
        await vma.free()
        await mmap_lock.up_write()

    return [("fault/1", page_fault()), ("munmap/2", do_munmap())]


def bug_on() -> list[tuple[str, Any]]:
    """A racy read-modify-write of map_count trips a BUG_ON."""
    map_count = vc.Var("mm->map_count", 0)
    mmap_lock = vc.RwSem("mmap_lock")

    async def insert_vma() -> None:
        await mmap_lock.down_read()
        n = await map_count.load()
        await map_count.store(n + 1)
        await mmap_lock.up_read()

    async def checker() -> None:
        await insert_vma()
        await insert_vma()

    async def validate_mm() -> None:
        await mmap_lock.down_write()
        n = await map_count.load()
        vc.BUG_ON(n == 1, "mm->map_count == 1")
        await mmap_lock.up_write()

    return [("mmap/1", checker()), ("validate/2", validate_mm())]


def warn_on() -> list[tuple[str, Any]]:
    """A WARN_ON fires; the thread carries on."""
    seq = vc.Var("mm_lock_seq", 0)

    async def vma_start_write() -> None:
        await seq.fetch_add(1)

    async def vma_end_write_all() -> None:
        v = await seq.load()
        vc.WARN_ON(v == 0, "mm_lock_seq not incremented")

    return [("writer/1", vma_start_write()), ("checker/2", vma_end_write_all())]


def exception() -> list[tuple[str, Any]]:
    """A model thread raises a plain exception."""
    pages = vc.Var("nr_pages", 1)

    async def split() -> None:
        n = await pages.load()
        if n == 0:
            raise ZeroDivisionError("division by zero in split_huge_pmd")
        await pages.store(2 // n)

    async def zap() -> None:
        await pages.store(0)

    return [("split/1", split()), ("zap/2", zap())]


def null_deref() -> list[tuple[str, Any]]:
    """vma->anon_vma is cleared under a reader that dereferences it."""
    anon = vc.Var("vma->anon_vma", "anon_vma#1")

    async def rmap_walk() -> None:
        av = await anon.load()
        av.upper()

    async def unlink_anon_vmas() -> None:
        await anon.store(None)

    return [("kswapd/1", rmap_walk()), ("exit_mmap/2", unlink_anon_vmas())]


def double_free() -> list[tuple[str, Any]]:
    """Two paths both free the same anon_vma."""
    av = vc.Allocation("anon_vma")
    refs = vc.Var("anon_vma->refcount", 2)

    async def put_anon_vma() -> None:
        n = await refs.load()
        await refs.store(n - 1)
        if n - 1 <= 1:
            await av.free()

    return [("put/1", put_anon_vma()), ("put/2", put_anon_vma())]


def resource_leak() -> list[tuple[str, Any]]:
    """An error path returns with mmap_lock still held for read."""
    mmap_lock = vc.RwSem("mmap_lock")
    flag = vc.Var("vma->detached", False)

    async def lock_vma_under_rcu() -> None:
        await mmap_lock.down_read()
        if await flag.load():
            return  # forgot mmap_read_unlock()
        await mmap_lock.up_read()

    async def detach() -> None:
        await flag.store(True)

    return [("fault/1", lock_vma_under_rcu()), ("detach/2", detach())]


def bad_unlock() -> list[tuple[str, Any]]:
    """up_read on a lock this thread took for write."""
    mmap_lock = vc.RwSem("mmap_lock")

    async def mmap_write_downgrade() -> None:
        await mmap_lock.down_write()
        await mmap_lock.up_read()

    return [("madvise/1", mmap_write_downgrade())]


def sleep_in_atomic() -> list[tuple[str, Any]]:
    """mmap_read_lock() under a spinlock."""
    ptl = vc.SpinLock("ptl")
    mmap_lock = vc.RwSem("mmap_lock")

    async def follow_page() -> None:
        await ptl.lock()
        await mmap_lock.down_read()
        await mmap_lock.up_read()
        await ptl.unlock()

    return [("gup/1", follow_page())]


def step_limit() -> list[tuple[str, Any]]:
    """Two tasks keep undoing each other's work: a livelock."""
    x = vc.Var("vma->vm_lock_seq", 0)

    async def spin(mine: int) -> None:
        while True:
            vc.loop_begin()
            v = await x.load()
            if v == mine:
                return
            await x.store(mine + 2)
            await x.store(1 - mine)

    return [("a/1", spin(0)), ("b/2", spin(1))]


def soft_lockup() -> list[tuple[str, Any]]:
    """A task spins on a local copy of a flag, never awaiting again: a soft lockup."""
    flag = vc.Var("mm->mmap_lock.count", 0)

    async def wait_for_unlock() -> None:
        seen = await flag.load()
        while seen == 0:  # spins on a stale copy: never awaits
            seen = seen * 1

    async def holder() -> None:
        await flag.store(1)

    return [("khugepaged/1", wait_for_unlock()), ("munmap/2", holder())]


def invariant() -> list[tuple[str, Any]]:
    """map_count and the VMA tree disagree between two stores."""
    count = vc.Var("mm->map_count", 0)
    tree = vc.Var("mm->mm_mt", 0)
    vc.invariant("map_count matches the maple tree", lambda: count.peek() == tree.peek(),
                 at_end=True)

    async def insert(delta: int) -> None:
        n = await count.load()
        await count.store(n + delta)
        t = await tree.load()
        await tree.store(t + delta)

    return [("mmap/1", insert(1)), ("mmap/2", insert(1))]


def lock_order() -> list[tuple[str, Any]]:
    """AB/BA order over two executions that never deadlock: only lockdep sees it."""
    a = vc.Mutex("mapping->i_mmap_rwsem")
    b = vc.Mutex("anon_vma->rwsem")
    gate = vc.Var("gate", 0)

    async def one() -> None:
        await a.lock()
        await b.lock()
        await b.unlock()
        await a.unlock()
        await gate.store(1)

    async def two() -> None:
        vc.loop_begin()
        while await gate.load() != 1:
            await vc.retry()
            vc.loop_begin()
        await b.lock()
        await a.lock()
        await a.unlock()
        await b.unlock()

    return [("rmap/1", one()), ("migrate/2", two())]


MODELS: dict[str, Model] = {
    "assertion": bug_on,
    "exception": exception,
    "null-deref": null_deref,
    "use-after-free": use_after_free,
    "double-free": double_free,
    "deadlock": abba_deadlock,
    "resource-leak": resource_leak,
    "bad-unlock": bad_unlock,
    "sleep-in-atomic": sleep_in_atomic,
    "step-limit": step_limit,
    "soft-lockup": soft_lockup,
    "invariant": invariant,
    "lock-order": lock_order,
}
"""One model per finding kind (``warn_on`` is an extra ``assertion`` model)."""


def lost_update() -> list[tuple[str, Any]]:
    """Two unlocked increments of mm->map_count: the outcome table shows the lost update."""
    count = vc.Var("mm->map_count", 0)
    vc.outcome(lambda: f"map_count={count.peek()}")

    async def inc() -> None:
        n = await count.load()
        await count.store(n + 1)

    return [("mmap/1", inc()), ("mmap/2", inc())]


def violating_step(f: vc.Finding) -> Any:
    """The step a report must mark: the reporting thread's last step for findings a thread
    raises itself; the last step for deadlocks, livelocks and invariants; for lock-order the
    reporting thread's last acquisition made while holding a lock."""
    if f.kind in ("deadlock", "step-limit", "invariant") or not f.thread:
        return f.trace[-1]
    if f.kind == "lock-order":
        return next(s for s in reversed(f.trace) if s.thread == f.thread and s.held
                    and s.op.startswith(("mutex_lock ", "down_", "spin_lock ")))
    return next(s for s in reversed(f.trace) if s.thread == f.thread)
