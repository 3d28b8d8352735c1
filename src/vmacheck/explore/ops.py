"""Shared objects and operations: what model threads await, and how new primitives are made.

Every touch of shared state is an :class:`Op` that a model thread awaits; the engine sees it
before it runs.  Shared objects register with the running execution for an id.
"""

from __future__ import annotations

import sys
from collections.abc import Coroutine, Generator
from types import CodeType
from typing import TYPE_CHECKING, Any, ClassVar

from mypy_extensions import mypyc_attr

from vmacheck.explore.state import _ENGINE_FILES, ThreadState, _is_engine, _line_at

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution

Footprint = tuple[tuple[int, bool], ...]
"""The shared objects an op touches: ``(object id, writes?)`` pairs."""

_CURRENT: Execution | None = None


def current() -> Execution:
    """The execution being run; primitives use it to register themselves and report."""
    ex = _CURRENT  # read once: compiled, each read of a module global is a dict look-up
    if ex is None:
        raise RuntimeError("vmacheck primitives can only be used inside a model run by the engine")
    return ex


@mypyc_attr(native_class=False)  # exceptions stay Python classes, compiled or not
class ModelError(Exception):
    """Base of exceptions the engine throws into model threads."""


class BugOn(ModelError):
    """Raised by ``BUG_ON``: the thread dies like a task that oopsed."""


class UseAfterFree(ModelError):
    """Raised when a thread touches an object whose allocation was freed."""


@mypyc_attr(native_class=False)
class SoftLockup(BaseException):
    """Thrown into a model thread by the watchdog when one step runs too long (a loop that
    never awaits).  A BaseException, so a model's ``except Exception`` cannot swallow it."""


@mypyc_attr(allow_interpreted_subclasses=True)  # models derive their objects from it
class Shared:
    """Base of every shared object.  Registers with the running execution for an id.

    ``ghost`` marks checker bookkeeping (state only invariants read); reports hide the
    steps on it.  A name ending in ``(ghost)`` makes an object a ghost too.
    """

    __slots__ = ("alloc", "ghost", "name", "oid", "version")

    def __init__(self, name: str, alloc: Allocation | None = None, *,
                 ghost: bool = False, oid: int | None = None) -> None:
        self.name = name
        self.alloc = alloc
        self.version = 0
        self.ghost = ghost or name.endswith("(ghost)")
        ex = _CURRENT
        if ex is None:
            current()  # raises: no running execution
        objects = ex.objects  # type: ignore[union-attr]  # Execution.register, inlined
        if oid is None:
            self.oid = len(objects)
            objects.append(self)
        else:  # an id reserved earlier (Execution.reserve)
            _fill(objects, oid, self)

    def fp(self, write: bool) -> Footprint:
        """Footprint of one access to this object (plus a read of its allocation)."""
        if self.alloc is None:
            return ((self.oid, write),)
        return ((self.oid, write), (self.alloc.oid, False))

    def snapshot(self) -> object:
        """An immutable picture of the state, used to decide whether a race is reversible."""
        return self.version

    def forget(self) -> None:
        """Drop references to model objects: the execution is closed (nothing reads it)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@mypyc_attr(allow_interpreted_subclasses=True)
class Allocation(Shared):
    """A heap allocation: objects created with ``alloc=`` die with it (use-after-free checks).

    When the execution records a trace (replays for reports), the allocation remembers
    where it was allocated and freed (task, step, model call stack), for the "Allocated
    by" and "Freed by" parts of a use-after-free report, as KASAN prints them.
    """

    __slots__ = ("allocated_by", "freed", "freed_by")

    def __init__(self, name: str, *, oid: int | None = None) -> None:
        super().__init__(name, oid=oid)
        self.freed = False
        ex = current()
        self.allocated_by = ex.site() if ex.record else None
        self.freed_by: dict[str, Any] | None = None

    def snapshot(self) -> object:
        return self.freed

    def free(self) -> Op:
        """Free the allocation (``kfree``); later touches of its objects are use-after-free."""
        return _Free(self)

    def sites(self) -> dict[str, Any]:
        """``allocated_by``/``freed_by`` entries for a finding's ``extra`` (when recorded)."""
        out: dict[str, Any] = {}
        if self.allocated_by is not None:
            out["allocated_by"] = self.allocated_by
        if self.freed_by is not None:
            out["freed_by"] = self.freed_by
        return out


def _fill(objects: list[Any], oid: int, obj: Shared) -> None:
    """Put ``obj`` at its reserved id ``oid`` (see ``Execution.reserve``).  Used by
    ``Shared.__init__`` and by ``Var.__init__``, which inlines the rest of it (models build
    hundreds of variables per execution: the call costs 6% of a model build)."""
    if not 0 <= oid < len(objects) or objects[oid] is not None:
        raise RuntimeError(f"object id {oid} of {obj.name} was not reserved, or is taken")
    objects[oid] = obj
    obj.oid = oid


@mypyc_attr(allow_interpreted_subclasses=True)  # models derive their ops from it
class Op:
    """An awaited operation on shared state.  Subclass it to define a new primitive.

    Contract: ``footprint`` says which objects the op touches if run now (exact for the current
    state); ``enabled`` says whether it may run now (only ops with ``blocking = True`` may be
    disabled, and their enabledness must depend only on the objects in their footprint);
    ``enabled_on`` answers the same question for one object in an earlier state (its
    ``snapshot()``), which lets the explorer tell reversible races from enabling ones;
    ``execute`` applies the effect and returns the value the awaiting thread receives.

    The flags ``blocking``, ``sleeps``, ``weak_aware`` and ``footprint_varies`` are class
    attributes (``ClassVar``): set them in the subclass's body, or define them as properties
    when they depend on the instance, never on an instance.
    """

    __slots__ = ("await_code", "await_lasti")
    _thread_op: ClassVar[bool] = False
    """True for the ops that start or join threads (the executor treats them apart)."""
    blocking: ClassVar[bool] = False
    sleeps: ClassVar[bool] = False
    weak_aware: ClassVar[bool] = False
    """True for ops that implement the weak memory model themselves; others act, under it,
    as SC read-modify-writes of the latest values of the variables they touch."""

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        raise NotImplementedError

    def enabled(self, ex: Execution, tid: int) -> bool:
        return True

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        """Whether this (blocking) op would be enabled with object ``oid`` in the state
        ``snap`` (its ``snapshot()``).  See :meth:`footprint_on` on where snapshots come from."""
        return self.enabled(ex, tid)

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        """The footprint this op would have with its objects in the states ``snaps`` (their
        ``snapshot()``s); ``fp`` is the footprint it had when it ran.  Ops whose footprint
        depends on state (a CAS writes only when it succeeds) override this, and set
        ``footprint_varies``: the explorer asks when it moves the op before a racing step.

        A snapshot of a step in a replayed prefix was taken by the earlier execution that ran
        that step (the replay takes none): the same values, but model objects in it are that
        execution's.  Compare such values by what they are (numbers, None, ids), not by the
        identity of model objects."""
        return fp

    footprint_varies: ClassVar[bool] = False

    def execute(self, ex: Execution, tid: int) -> Any:
        raise NotImplementedError

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        """Threads this (disabled) op waits for, for the wait-for graph of deadlocks."""
        return frozenset()

    def describe(self) -> str:
        return type(self).__name__

    def target(self) -> Shared | None:
        return None

    def __await__(self) -> Generator[Op, Any, Any]:
        # where the op is awaited (innermost model frame and line): a per-step check it
        # breaks is located there without walking the coroutine chain after every step
        # (only in executions that have per-step checks and do not note sites themselves)
        ex = _CURRENT
        noting = ex is not None and ex.note_awaits
        ex = None  # the suspended frame need not hold the execution (no cycle through it)
        if not noting:
            return (yield self)
        # compiled, this method runs in its caller's frame (it has none of its own): start
        # from the innermost frame either way, the loop skips the engine's
        f: Any = sys._getframe(0)
        engine = _ENGINE_FILES
        while f is not None:  # the innermost model frame
            code = f.f_code
            e = engine.get(code.co_filename)
            if e is None:
                e = _is_engine(code)
            if not e:
                break
            f = f.f_back
        if f is not None:  # the line is worked out only when asked (await_site)
            self.await_code = f.f_code
            self.await_lasti = f.f_lasti
        return (yield self)

    @property
    def await_site(self) -> tuple[CodeType, int] | None:
        """Where the op was awaited: the innermost model frame's code and line (None when
        not noted: the execution notes sites itself, or has no per-step checks)."""
        try:
            code = self.await_code
            lasti = self.await_lasti
        except AttributeError:
            return None
        return code, _line_at(code, lasti)


class _Free(Op):
    __slots__ = ("alloc",)

    def __init__(self, alloc: Allocation) -> None:
        self.alloc = alloc

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return ((self.alloc.oid, True),)

    def execute(self, ex: Execution, tid: int) -> None:
        if self.alloc.freed:
            ex.report("double-free", f"double free of {self.alloc.name}", tid,
                      extra=self.alloc.sites())
        self.alloc.freed = True
        ex.freed_allocations += 1
        if ex.record:
            self.alloc.freed_by = ex.site(tid)

    def describe(self) -> str:
        return f"free {self.alloc.name}"

    def target(self) -> Shared:
        return self.alloc



class SpawnOp(Op):
    """Create a thread; its first step happens after this one."""

    __slots__ = ("child", "coro", "name")
    _thread_op = True

    def __init__(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        self.name = name
        self.coro = coro
        self.child = -1

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return ()

    weak_aware = True

    def execute(self, ex: Execution, tid: int) -> int:
        self.child = len(ex.threads)
        ex.threads.append(ThreadState(self.child, self.name, self.coro))
        if ex.memory is not None:
            ex.memory.spawn(tid, self.child)
        return self.child

    def describe(self) -> str:
        return f"spawn {self.name}"


class ChoiceOp(Op):
    """A nondeterministic choice among ``n`` values; the explorer picks the value.

    It touches no shared object (it is independent of every other step), so exhaustive
    exploration simply branches on it: DPOR runs every value at every point it reaches the
    choice.  ``what`` names the choice in traces (``"kmalloc fails"``, ``"fatal signal"``).
    """

    __slots__ = ("n", "value", "what")

    def __init__(self, n: int, what: str) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"choice({n!r}, {what!r}): the number of values must be >= 1")
        self.n = n
        self.what = what
        self.value = -1

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return ()

    weak_aware = True

    def execute(self, ex: Execution, tid: int) -> int:
        self.value = ex.choose(tid, self.n, self.what)
        return self.value

    def describe(self) -> str:
        shown = "?" if self.value < 0 else str(self.value)
        return f"choose {self.what} = {shown} (of {self.n})"


class JoinOp(Op):
    """Wait until a thread has finished."""

    __slots__ = ("tid",)
    _thread_op = True
    blocking = True
    sleeps = True

    def __init__(self, tid: int) -> None:
        self.tid = tid

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return ()

    def enabled(self, ex: Execution, tid: int) -> bool:
        return not ex.threads[self.tid].live

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        return frozenset({self.tid})

    weak_aware = True

    def execute(self, ex: Execution, tid: int) -> Any:
        if ex.memory is not None:
            ex.memory.joined(tid, self.tid)
        return ex.threads[self.tid].result

    def describe(self) -> str:
        return f"join thread {self.tid}"
