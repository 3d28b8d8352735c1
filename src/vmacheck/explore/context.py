"""Calls model code makes about itself: threads, wait loops, assertions, labels, contexts.

``spawn``, ``join`` and ``retry`` return ops to await; the rest are plain calls that touch only
the calling thread's own state or the execution's bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from vmacheck.explore.core import Execution
from vmacheck.explore.ops import (
    BugOn,
    ChoiceOp,
    Footprint,
    JoinOp,
    Op,
    Shared,
    SpawnOp,
    current,
)
from vmacheck.explore.primitives import Var

# --------------------------------------------------------------------------- threads


def spawn(name: str, coro: Coroutine[Any, Any, Any]) -> Op:
    """Start a new thread; awaiting returns its handle (an int) for :func:`join`."""
    return SpawnOp(name, coro)


def join(handle: int) -> Op:
    """Wait for a spawned thread; returns its return value."""
    return JoinOp(handle)


def choice(n: int, what: str) -> Op:
    """A nondeterministic choice: awaiting returns an int in ``range(n)``.

    The explorer decides the value; exhaustive DPOR runs every value wherever the choice is
    reached, and schedules record the values taken (``"1:2"``: thread 1's step chose 2).  Use
    it for what the environment decides: an allocation that may fail, a fatal signal that
    may arrive, the store a weak-memory load reads.  ``what`` names it in traces.
    """
    return ChoiceOp(n, what)


# --------------------------------------------------------------------------- wait loops


def loop_begin() -> None:
    """Start (or restart) an iteration of a wait loop; see :func:`retry`."""
    ex = current()
    assert ex.current_tid is not None, "loop_begin() outside a model thread"
    ex.threads[ex.current_tid].loop_reads = {}


class _RetryOp(Op):
    __slots__ = ("reads",)
    blocking = True
    weak_aware = True

    def __init__(self, reads: dict[int, int]) -> None:
        self.reads = reads

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return tuple((oid, False) for oid in self.reads)

    def enabled(self, ex: Execution, tid: int) -> bool:
        objs = ex.objects
        for oid, v in self.reads.items():
            obj = objs[oid]
            if obj is None or obj.version != v:
                return True
        # under the weak model a loop that read an old value may read a newer one
        mem = ex.memory
        return mem is not None and any(mem.stale(tid, oid) for oid in self.reads)

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        for o, v in self.reads.items():
            if o == oid:
                if not (isinstance(ex.objects[o], Var) and isinstance(snap, tuple)):
                    return True
                ver = snap[1]
            else:
                obj = ex.objects[o]
                ver = -1 if obj is None else obj.version
            if ver != v:
                return True
        return False

    def execute(self, ex: Execution, tid: int) -> None:
        ex.threads[tid].loop_reads = None
        mem = ex.memory
        if mem is not None:  # the loop spins until it sees the latest store of what it read
            for oid in self.reads:
                mem.catch_up(tid, oid)

    def describe(self) -> str:
        return "retry (wait for a change)"


def retry() -> Op:
    """Block until something read since :func:`loop_begin` is written, then continue.

    A retry that observed nothing new would only repeat itself, so the engine parks the thread
    instead of letting it spin: wait loops stay finite under exhaustive search, and a loop that
    can never make progress shows up as a deadlock or, when writers keep changing what it
    reads, as a step-limit (livelock) finding.
    """
    ex = current()
    assert ex.current_tid is not None, "retry() outside a model thread"
    t = ex.threads[ex.current_tid]
    return _RetryOp(dict(t.loop_reads or {}))


# --------------------------------------------------------------------------- checks, labels


def BUG_ON(cond: object, message: str = "") -> None:
    """Kill the calling thread with an ``assertion`` finding when ``cond`` is true."""
    if cond:
        raise BugOn(f"BUG_ON({message})" if message else "BUG_ON")


def WARN_ON(cond: object, message: str = "") -> bool:
    """Report an ``assertion`` finding when ``cond`` is true; the thread goes on."""
    if cond:
        ex = current()
        ex.report("assertion", f"WARN_ON({message})" if message else "WARN_ON", ex.current_tid)
    return bool(cond)


def report(kind: str, message: str) -> None:
    """Report a finding of any kind from model code (e.g. ``bad-unlock`` from a model lock)."""
    ex = current()
    ex.report(kind, message, ex.current_tid)


def label(text: str) -> None:
    """Add a label to this execution's outcome."""
    current().labels.append(text)


def outcome(fn: Callable[[], object]) -> None:
    """Register a function, called at the end of every execution, that labels the outcome."""
    current().outcome_fns.append(fn)


def at_close(fn: Callable[[], None]) -> None:
    """Model set-up: call ``fn`` when the explorer is done with this execution, to unlink
    model objects that point at each other through plain attributes (shared variables are
    cleared by the engine).  Unlinked, an execution's objects are freed at once instead of by
    the cyclic garbage collector, whose passes also traverse every live object."""
    current().closers.append(fn)


def invariant(name: str, check: Callable[[], object], *, at_end: bool = False,
              reads: Iterable[Shared | int] | None = None,
              explain: Callable[[], object] | None = None,
              watch: Callable[[], Iterable[Shared]] | None = None,
              lock_classes: Iterable[str | None] | None = None) -> None:
    """Register a named check, run after every step (or only at the end with ``at_end``).

    The explorer runs one interleaving per Mazurkiewicz trace, so a check run after every
    step sees the intermediate states of those interleavings only.  Give ``reads`` (the
    shared objects the check looks at) to make every write to them visible: the explorer
    then orders those writes in every way and the check sees every state they can form.
    ``at_end`` checks need no ``reads``: the final state is the same for a whole trace.
    An object made on first use (``lazy_field``, the kernel model's page tables) can be given
    by its reserved id, without making it.

    When the check fails, ``explain()`` (if given) says with which values, e.g.
    ``lambda: f"refcount {page.peek()}, expected 2"``; without it the values of the ``reads``
    variables are shown.  Reports print it under the message (``values:``).

    ``watch`` (instead of ``reads``) only saves time: a function naming the objects whose
    writes can change the answer while the threads' held resources stay the same (e.g. the
    fields of the VMAs they hold locked); the check then runs after a step only when held
    resources changed or one of those objects was written.  ``lock_classes`` narrows "held
    resources" to the locks of those classes (the ``lock_class`` given to ``hold``; None for
    resources held without one): give it when neither the answer nor what ``watch`` names
    depends on other held resources or on atomic contexts (the check still runs when a
    thread starts, exits or dies).
    """
    current().add_invariant(name, check, at_end=at_end, reads=reads, explain=explain,
                            watch=watch, lock_classes=lock_classes)


def atomic_enter(reason: str) -> None:
    """Enter atomic context (sleeping forbidden) for ``reason``, e.g. ``"rcu_read_lock"``."""
    ex = current()
    assert ex.current_tid is not None, "atomic_enter() outside a model thread"
    ex.threads[ex.current_tid].atomic.append(reason)
    ex.bookkeeping += 1


def atomic_exit(reason: str, ex: Execution | None = None, tid: int | None = None) -> None:
    """Leave the innermost atomic context entered for ``reason``."""
    ex = ex or current()
    tid = ex.current_tid if tid is None else tid
    assert tid is not None
    stack = ex.threads[tid].atomic
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] == reason:
            del stack[i]
            ex.bookkeeping += 1
            return
    ex.report("bad-unlock", f"leaving {reason}, which was not entered", tid)


def in_atomic() -> bool:
    ex = current()
    return ex.current_tid is not None and bool(ex.threads[ex.current_tid].atomic)


def thread_id() -> int:
    """The id of the calling model thread."""
    ex = current()
    assert ex.current_tid is not None
    return ex.current_tid


def hold(key: object, desc: str, lock_class: str | None = None, trylock: bool = False) -> None:
    """Record that the calling thread now holds a resource (for leak checks and lockdep)."""
    ex = current()
    assert ex.current_tid is not None
    ex.hold(ex.current_tid, key, desc, lock_class, trylock)


def unhold(key: object) -> bool:
    """Record a release; returns False when the thread did not hold it."""
    ex = current()
    assert ex.current_tid is not None
    return ex.unhold(ex.current_tid, key)
