"""RCU: read-side critical sections, grace periods and callbacks (``kernel/rcu/``).

Each thread has a read-side state ``rcu_read_lock_nesting[tid] = (depth, sections)``: the
nesting depth and how many outermost sections it has started.  A grace period
(:func:`synchronize_rcu`) first snapshots which threads are inside a section, then sleeps until
each of them has left *that* section (a custom blocking op whose wait-for set names the
readers).  Sections started after the snapshot do not delay it.  Read-side sections are atomic
context: a sleeping operation inside one is a ``sleep-in-atomic`` finding (non-preemptible
RCU, ``rcu_read_lock`` disables preemption).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from vmacheck.explore import Op, Var, atomic_enter, atomic_exit, thread_id
from vmacheck.explore.core import Execution, Footprint
from vmacheck.explore.primitives import _ModeVarOp
from vmacheck.explore.weak_ops import fence_footprint
from vmacheck.kernel.include.linux.mm_types import KernelState, kernel_state
from vmacheck.kernel.kernel.workqueue import model_kthread


def _reader_var_index(state: KernelState, tid: int) -> int:
    if tid >= len(state.rcu_readers):
        raise RuntimeError(f"thread {tid}: boot(threads=...) more RCU reader slots")
    return tid


class _ReaderUpdate(_ModeVarOp):
    """The update of a thread's read-side state.  Under the weak memory model an outermost
    ``rcu_read_lock`` sees everything ordered before the start of every grace period that did
    not wait for it, and an outermost ``rcu_read_unlock`` publishes the section to the grace
    period that waits for it (the kernel memory model's RCU guarantee); no fence otherwise."""

    __slots__ = ()

    def execute(self, ex: Execution, tid: int) -> Any:
        old = super().execute(ex, tid)
        mem = ex.memory
        if mem is not None:
            if self.b == "lock" and old[0] == 0:
                mem.acquire_from(tid, ("rcu grace period start",))
            elif self.b == "unlock" and old[0] == 1:
                mem.release_to(tid, ("rcu read-side end", tid))
        return old


async def rcu_read_lock() -> None:
    """``rcu_read_lock`` (include/linux/rcupdate.h): enter a read-side critical section."""
    state = kernel_state()
    var = state.rcu_readers[_reader_var_index(state, thread_id())]
    await _reader_update(var, lambda v: (v[0] + 1, v[1] + (1 if v[0] == 0 else 0)), "lock")
    atomic_enter("rcu_read_lock")


async def rcu_read_unlock() -> None:
    """``rcu_read_unlock`` (include/linux/rcupdate.h): leave the read-side critical section."""
    state = kernel_state()
    atomic_exit("rcu_read_lock")
    var = state.rcu_readers[_reader_var_index(state, thread_id())]
    await _reader_update(var, lambda v: (max(v[0] - 1, 0), v[1]), "unlock")


def _reader_update(var: Var, fn: Any, which: str) -> Op:
    return _ReaderUpdate(var, "update", fn, which, "relaxed")


class _GpStart(Op):
    """First half of ``synchronize_rcu``: note every thread inside a read-side section."""

    __slots__ = ("state",)
    sleeps = True
    weak_aware = True

    def __init__(self, state: KernelState) -> None:
        self.state = state

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return (*(fp for v in self.state.rcu_readers for fp in v.fp(False)),
                *fence_footprint(ex))

    def execute(self, ex: Execution, tid: int) -> dict[int, int]:
        readers = {t: v._value[1] for t, v in enumerate(self.state.rcu_readers)
                   if v._value[0] > 0 and t != tid}
        mem = ex.memory
        if mem is not None:  # synchronize_rcu starts with a full barrier
            mem.fence(tid, "mb")
            mem.release_to(tid, ("rcu grace period start",))
            if not readers:  # and ends, at once, with another
                mem.fence(tid, "mb")
        return readers

    def describe(self) -> str:
        return "synchronize_rcu (start grace period)"


def _section_ended(value: tuple[int, int], started: int) -> bool:
    return value[0] == 0 or value[1] != started


class _GpWait(Op):
    """Second half of ``synchronize_rcu``: sleep until the noted sections have all ended."""

    __slots__ = ("readers", "state")
    blocking = True
    sleeps = True

    def __init__(self, state: KernelState, readers: dict[int, int]) -> None:
        self.state = state
        self.readers = readers

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return (*(fp for t in self.readers for fp in self.state.rcu_readers[t].fp(False)),
                *fence_footprint(ex))

    def enabled(self, ex: Execution, tid: int) -> bool:
        rr = self.state.rcu_readers
        return all(_section_ended(rr[t]._value, n) for t, n in self.readers.items())

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        rr = self.state.rcu_readers
        for t, n in self.readers.items():
            value = rr[t]._value
            if rr[t].oid == oid and isinstance(snap, tuple):
                value = snap[0]
            if not _section_ended(value, n):
                return False
        return True

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        rr = self.state.rcu_readers
        return frozenset(t for t, n in self.readers.items()
                         if not _section_ended(rr[t]._value, n))

    weak_aware = True

    def execute(self, ex: Execution, tid: int) -> None:
        mem = ex.memory
        if mem is not None:  # the waited-for sections happen before; then a full barrier
            for t in self.readers:
                mem.acquire_from(tid, ("rcu read-side end", t))
            mem.fence(tid, "mb")
        return None

    def describe(self) -> str:
        return "synchronize_rcu (wait for readers)"


async def synchronize_rcu() -> None:
    """``synchronize_rcu`` (kernel/rcu/tree.c): wait until every read-side critical section
    that began before the call has ended.  Sleeps."""
    state = kernel_state()
    readers = await _GpStart(state)
    if readers:
        await _GpWait(state, readers)


async def _rcu_callback(func: Callable[..., Awaitable[Any]], args: tuple[Any, ...]) -> None:
    await synchronize_rcu()
    await func(*args)


async def call_rcu(func: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """``call_rcu`` (kernel/rcu/tree.c): run ``func(*args)`` after a grace period, from
    another context (modelled as a new thread that waits for the grace period)."""
    await model_kthread(f"rcu_callback {getattr(func, '__name__', 'func')}",
                        _rcu_callback(func, args))
