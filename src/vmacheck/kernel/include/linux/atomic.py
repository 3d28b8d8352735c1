"""Atomic building blocks the mm model is made of (``include/linux/atomic.h``, ``refcount.h``).

Each function returns one engine :class:`~vmacheck.explore.Op` (one model step).  They are the
model's counterparts of single atomic instructions (``atomic_inc_not_zero``,
``refcount_add_not_zero``), of short spinlock-protected sections that no other thread can
observe half-done (a PTE update under the page-table lock), and of a sleep on a wait queue whose
condition is one variable (``rcuwait_wait_event``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vmacheck.explore import Op, Var
from vmacheck.explore.core import Execution, Footprint
from vmacheck.explore.weak_ops import weak_execute


def _fp(var: Var, write: bool) -> Footprint:
    return var.fp(write)


class _CondUpdate(Op):
    """Read-modify-write that is a plain read when it changes nothing (a failed cmpxchg).

    With a ``mode`` (``relaxed``, ``acquire``, ``release``, ``mb``) it carries that ordering
    under the weak memory model (it may then read an older value, and always counts as a
    write for the explorer); without one it is a sequentially consistent step."""

    __slots__ = ("deps", "fn", "kind", "mode", "var", "what")

    def __init__(self, var: Var, fn: Callable[[Any], Any], what: str,
                 mode: str | None = None) -> None:
        self.var = var
        self.fn = fn
        self.what = what
        self.mode = mode
        self.kind = "cond_update"
        self.deps: tuple[int, ...] = ()

    @property
    def weak_aware(self) -> bool:  # type: ignore[override]
        return self.mode is not None

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if ex.memory is not None and self.mode is not None:
            return _fp(self.var, True)
        old = self.var._value
        return _fp(self.var, self.fn(old) != old)

    def new_value(self, old: Any) -> tuple[bool, Any, Any]:
        """For the weak model: (writes?, new value, result) when it reads ``old``."""
        new = self.fn(old)
        return new != old, new, old

    def execute(self, ex: Execution, tid: int) -> Any:
        if ex.memory is not None and self.mode is not None:
            return weak_execute(self, ex.memory, ex, tid)
        old = self.var._value
        self.var._value = self.fn(old)
        return old

    def describe(self) -> str:
        return f"{self.what} {self.var.name}"

    def target(self) -> Var:
        return self.var


def atomic_cond_update(var: Var, fn: Callable[[Any], Any], what: str = "update",
                       mode: str | None = None) -> Op:
    """Model helper: atomically replace the value ``v`` by ``fn(v)``; returns the old value.

    Used for the kernel's conditional atomics (``atomic_inc_not_zero``,
    ``__refcount_inc_not_zero_limited_acquire``, ``refcount_add_not_zero``): when ``fn``
    leaves the value unchanged the step only reads, as a failed cmpxchg does.  ``mode`` is the
    kernel operation's ordering under the weak memory model (None: sequentially consistent).
    """
    return _CondUpdate(var, fn, what, mode)


class _SubAndTest(Op):
    """``refcount_sub_and_test``: a release read-modify-write that subtracts ``delta``, then,
    when that left zero, ``smp_acquire__after_ctrl_dep`` (an acquire fence); one step.  Under
    sequential consistency a plain ``fetch_add``."""

    __slots__ = ("a", "deps", "kind", "mode", "var", "what")
    weak_aware = True

    def __init__(self, var: Var, delta: int, what: str) -> None:
        self.var = var
        self.a = -delta
        self.what = what
        self.kind = "fetch_add"
        self.mode = "release"
        self.deps: tuple[int, ...] = ()

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return _fp(self.var, True)

    def new_value(self, old: Any) -> tuple[bool, Any, Any]:
        """For the weak model: (writes?, new value, result) when it reads ``old``."""
        return True, old + self.a, old

    def execute(self, ex: Execution, tid: int) -> Any:
        mem = ex.memory
        if mem is None:
            old = self.var._value
            self.var._value = old + self.a
            return old
        old = weak_execute(self, mem, ex, tid)
        if old + self.a == 0:
            mem.fence(tid, "rmb")
        return old

    def describe(self) -> str:
        return f"{self.what} {self.var.name}"

    def target(self) -> Var:
        return self.var


def refcount_sub_and_test(var: Var, delta: int, what: str = "refcount_sub_and_test") -> Op:
    """Model helper: ``refcount_sub_and_test`` / ``refcount_dec_and_test``
    (include/linux/refcount.h, ``__refcount_sub_and_test``): subtract ``delta`` with release
    ordering and, if that reached zero, order the caller's later accesses after it (acquire);
    returns the old value."""
    return _SubAndTest(var, delta, what)


class _Multi(Op):
    """One step that reads ``reads`` and writes ``writes`` (a short locked section)."""

    __slots__ = ("fn", "reads", "what", "writes")

    def __init__(self, reads: Sequence[Var], writes: Sequence[Var],
                 fn: Callable[[list[Any]], Sequence[Any] | None], what: str) -> None:
        self.reads = tuple(reads)
        self.writes = tuple(writes)
        self.fn = fn
        self.what = what

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        out: list[tuple[int, bool]] = []
        seen: set[int] = set()
        for v in self.writes:
            if v.oid not in seen:
                seen.add(v.oid)
                out.extend(v.fp(True))
        for v in self.reads:
            if v.oid not in seen:
                seen.add(v.oid)
                out.extend(v.fp(False))
        return tuple(out)

    def execute(self, ex: Execution, tid: int) -> Any:
        values = [v._value for v in self.reads]
        new = self.fn(values)
        if new is not None:
            for var, value in zip(self.writes, new, strict=True):
                var._value = value
        return values

    def describe(self) -> str:
        return self.what

    def target(self) -> Var | None:
        return self.writes[0] if self.writes else (self.reads[0] if self.reads else None)


def load_all(variables: Sequence[Var], what: str = "load") -> Op:
    """Model helper: read several variables in one step; returns their values as a list."""
    return _Multi(variables, (), lambda values: None, what)


def store_all(pairs: Sequence[tuple[Var, Any]], what: str = "store") -> Op:
    """Model helper: write several variables in one step (initialising an object nobody else can see
    yet, or a section under a lock every reader of these fields also takes)."""
    values = [value for _, value in pairs]
    return _Multi((), [var for var, _ in pairs], lambda _: values, what)


def copy_vars(src: Sequence[Var], dst: Sequence[Var], what: str = "copy") -> Op:
    """Model helper: copy ``src[i]`` to ``dst[i]`` in one step (``*new = *orig`` of a private
    object)."""
    return _Multi(src, dst, lambda values: values, what)


def locked_update(reads: Sequence[Var], writes: Sequence[Var],
                  fn: Callable[[list[Any]], Sequence[Any] | None], what: str) -> Op:
    """Model helper: a critical section of a spinlock (e.g. the page-table lock) as one step: ``fn``
    gets the values of ``reads`` and returns the new values of ``writes`` (or None: no change)."""
    return _Multi(reads, writes, fn, what)


class WaitEvent(Op):
    """``wait_event``/``rcuwait_wait_event``: sleep until ``cond(var)`` holds.

    ``waiters_on`` names the threads the sleeper waits for (for the wait-for graph of deadlock
    reports): e.g. the threads holding a VMA read lock a VMA writer waits to drain.
    """

    __slots__ = ("cond", "var", "waiters_on", "what")
    blocking = True
    sleeps = True

    def __init__(self, var: Var, cond: Callable[[Any], bool],
                 waiters_on: Callable[[Execution, int], frozenset[int]], what: str) -> None:
        self.var = var
        self.cond = cond
        self.waiters_on = waiters_on
        self.what = what

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return self.var.fp(False)

    def enabled(self, ex: Execution, tid: int) -> bool:
        return bool(self.cond(self.var._value))

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        if oid == self.var.oid and isinstance(snap, tuple):
            return bool(self.cond(snap[0]))
        return self.enabled(ex, tid)

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        return self.waiters_on(ex, tid) - {tid}

    def execute(self, ex: Execution, tid: int) -> Any:
        return self.var._value

    def describe(self) -> str:
        return self.what

    def target(self) -> Var:
        return self.var
