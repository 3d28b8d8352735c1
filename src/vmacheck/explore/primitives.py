"""Shared-state primitives for models: variables, mutexes and spinlocks.

Every method that touches shared state returns an :class:`~vmacheck.explore.ops.Op` that the
model must ``await``; the engine sees it before it runs.  The fair rwsem lives in
:mod:`vmacheck.explore.rwsem`, the calls model code makes about itself (threads, wait loops,
``BUG_ON``, labels, atomic context) in :mod:`vmacheck.explore.context`; both are re-exported
here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from mypy_extensions import mypyc_attr

from vmacheck.explore import ops as _ops
from vmacheck.explore.core import Execution
from vmacheck.explore.memory import LOAD_MODES, RMW_MODES, STORE_MODES
from vmacheck.explore.ops import Footprint, Op, Shared, _fill, current
from vmacheck.explore.weak_ops import weak_execute

# --------------------------------------------------------------------------- variables


@mypyc_attr(allow_interpreted_subclasses=True)
class Var(Shared):
    """A shared variable.  ``peek`` is for invariants and outcome functions only.

    Accesses take the kernel's ordering as ``mode`` (it matters only under the weak memory
    model, :mod:`vmacheck.explore.memory`): loads ``"plain"``/``"once"`` (``READ_ONCE``),
    ``"acquire"`` (``smp_load_acquire``), ``"rcu"`` (``rcu_dereference``); stores
    ``"plain"``/``"once"`` (``WRITE_ONCE``), ``"release"`` (``smp_store_release``), ``"rcu"``
    (``rcu_assign_pointer``); read-modify-writes ``"relaxed"``, ``"acquire"``, ``"release"``
    or ``"mb"`` (fully ordered, the default, as the kernel's value-returning atomics).  A
    load's ``dep`` names the variables whose loaded value its address depends on.
    """

    __slots__ = ("_value",)

    def __init__(self, name: str, value: Any = None, alloc: Any = None, *,
                 ghost: bool = False, oid: int | None = None) -> None:
        # Shared.__init__, inlined: models build hundreds of variables per execution
        self.name = name
        self.alloc = alloc
        self.version = 0
        self.ghost = ghost or name.endswith("(ghost)")
        ex = _ops._CURRENT
        if ex is None:
            current()  # raises: no running execution
        objects = ex.objects  # type: ignore[union-attr]
        if oid is None:
            self.oid = len(objects)
            objects.append(self)
        else:  # an id reserved earlier (Execution.reserve)
            _fill(objects, oid, self)
        self._value = value

    def snapshot(self) -> object:
        return (self._value, self.version)

    def forget(self) -> None:
        self._value = None

    def peek(self) -> Any:
        """Read without a step: allowed in invariants, outcomes and model set-up only.  Under
        the weak model: the last value in modification order."""
        ex = current()
        if ex.current_tid is not None:
            raise RuntimeError(f"peek() of {self.name} from a running thread: use await .load()")
        return self._value

    def load(self, mode: str = "plain", dep: Var | Sequence[Var] | None = None) -> Op:
        if mode == "plain" and dep is None:
            return _VarOp(self, "load", None, None)
        return _ModeVarOp(self, "load", None, None, _mode(mode, LOAD_MODES), _deps(dep))

    def store(self, value: Any, mode: str = "plain") -> Op:
        if mode == "plain":
            return _VarOp(self, "store", value, None)
        return _ModeVarOp(self, "store", value, None, _mode(mode, STORE_MODES))

    def cas(self, expected: Any, new: Any, mode: str = "mb") -> Op:
        """Compare-and-swap; returns True on success.  A failed CAS is a read."""
        return _rmw(self, "cas", expected, new, mode)

    def fetch_add(self, delta: int, mode: str = "mb") -> Op:
        return _rmw(self, "fetch_add", delta, None, mode)

    def xchg(self, value: Any, mode: str = "mb") -> Op:
        return _rmw(self, "xchg", value, None, mode)

    def update(self, fn: Callable[[Any], Any], mode: str = "mb") -> Op:
        """Atomic read-modify-write with a pure function; returns the old value."""
        return _rmw(self, "update", fn, None, mode)


_PLAIN = (type(None), bool, int, float, complex, str, bytes)


def _plain(value: object) -> bool:
    """Whether ``value`` is plain data (None, numbers, strings, and tuples and frozensets of
    them), which compares the same in every execution."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_plain(v) for v in value)
    return False


def cas_may_succeed(seen: object, expected: object) -> bool:
    """Whether a compare-and-swap expecting ``expected`` would succeed on the value ``seen``
    from a snapshot (``Op.footprint_on``).  The snapshot may come from an earlier execution
    that ran the same step (a replayed prefix takes none), whose model objects are not this
    one's: two objects that are not plain data are taken as possibly equal, so the CAS is
    predicted to write (ordered against more steps, never fewer).  Plain values compare
    exactly."""
    if seen == expected:
        return True
    return not _plain(seen) and not _plain(expected)


def _rmw(var: Var, kind: str, a: Any, b: Any, mode: str) -> Op:
    if mode == "mb":
        return _VarOp(var, kind, a, b)
    return _ModeVarOp(var, kind, a, b, _mode(mode, RMW_MODES))


def _mode(mode: str, allowed: frozenset[str]) -> str:
    if mode not in allowed:
        raise ValueError(f"access mode {mode!r}: choose one of {', '.join(sorted(allowed))}")
    return mode


def _deps(dep: Var | Sequence[Var] | None) -> tuple[int, ...]:
    if dep is None:
        return ()
    if isinstance(dep, Var):
        return (dep.oid,)
    return tuple(v.oid for v in dep)


@mypyc_attr(allow_interpreted_subclasses=True)
class _VarOp(Op):
    """An access with the default ordering: a plain load or store, a fully ordered RMW."""

    __slots__ = ("a", "b", "kind", "var")
    weak_aware = True
    mode = "plain"
    deps: tuple[int, ...] = ()

    def __init__(self, var: Var, kind: str, a: Any, b: Any) -> None:
        self.var = var
        self.kind = kind
        self.a = a
        self.b = b

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if self.kind == "load":
            return self.var.fp(False)
        if self.kind == "cas" and ex.memory is None:
            return self.var.fp(self.var._value == self.a)
        return self.var.fp(True)

    @property
    def footprint_varies(self) -> bool:  # type: ignore[override]
        return self.kind == "cas"

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        snap = snaps.get(self.var.oid)
        if self.kind != "cas" or not isinstance(snap, tuple) or current().memory is not None:
            return fp
        return self.var.fp(cas_may_succeed(snap[0], self.a))

    def execute(self, ex: Execution, tid: int) -> Any:
        if ex.memory is not None:
            return weak_execute(self, ex.memory, ex, tid)
        v = self.var
        old = v._value
        k = self.kind
        if k == "load":
            return old
        if k == "store":
            v._value = self.a
            return None
        if k == "cas":
            if old == self.a:
                v._value = self.b
                return True
            return False
        if k == "fetch_add":
            v._value = old + self.a
            return old
        if k == "xchg":
            v._value = self.a
            return old
        v._value = self.a(old)
        return old

    def new_value(self, old: Any) -> tuple[bool, Any, Any]:
        """For an RMW reading ``old``: (writes?, new value, result)."""
        k = self.kind
        if k == "cas":
            return (True, self.b, True) if old == self.a else (False, old, False)
        if k == "fetch_add":
            return True, old + self.a, old
        if k == "xchg":
            return True, self.a, old
        return True, self.a(old), old

    def describe(self) -> str:
        mode = "" if self.mode in ("plain", "mb") else f" ({self.mode})"
        if self.kind not in ("load", "store") and self.mode == "plain":
            mode = ""
        if self.kind == "load":
            return f"load {self.var.name}{mode}"
        if self.kind == "cas":
            return f"cas {self.var.name} {self.a!r}->{self.b!r}{mode}"
        if self.kind == "update":
            return f"update {self.var.name}{mode}"
        return f"{self.kind} {self.var.name} {self.a!r}{mode}"

    def target(self) -> Shared:
        return self.var


@mypyc_attr(allow_interpreted_subclasses=True)
class _ModeVarOp(_VarOp):
    """An access with an explicit ordering (``mode``) or address dependency (``deps``)."""

    __slots__ = ("deps", "mode")

    def __init__(self, var: Var, kind: str, a: Any, b: Any, mode: str,
                 deps: tuple[int, ...] = ()) -> None:
        super().__init__(var, kind, a, b)
        self.mode = mode
        self.deps = deps


# --------------------------------------------------------------------------- mutex, spinlock


@mypyc_attr(allow_interpreted_subclasses=True)
class Mutex(Shared):
    """A sleeping mutex (``mutex_lock``): blocking lock, trylock, unlock by the owner only."""

    __slots__ = ("lock_class", "owner")
    sleeping: ClassVar[bool] = True

    def __init__(self, name: str, lock_class: str | None = None, alloc: Any = None) -> None:
        super().__init__(name, alloc)
        self.owner: int | None = None
        self.lock_class = lock_class or name

    def snapshot(self) -> object:
        return self.owner

    def lock(self) -> Op:
        return _LockOp(self, "lock")

    def trylock(self) -> Op:
        return _LockOp(self, "trylock")

    def unlock(self) -> Op:
        return _LockOp(self, "unlock")

    def statistics(self) -> dict[str, Any]:
        return {"owner": self.owner}


@mypyc_attr(allow_interpreted_subclasses=True)
class SpinLock(Mutex):
    """A spinlock: waiting is not sleeping, and holding it is atomic context."""

    __slots__ = ()
    sleeping: ClassVar[bool] = False


class _LockOp(Op):
    __slots__ = ("blocks", "kind", "lk")

    def __init__(self, lk: Mutex, kind: str) -> None:
        self.lk = lk
        self.kind = kind
        self.blocks = kind == "lock"  # asked before every step the op is pending

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.blocks

    @property
    def sleeps(self) -> bool:  # type: ignore[override]
        return self.kind == "lock" and self.lk.sleeping

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if self.kind == "trylock":
            return self.lk.fp(self.lk.owner is None)
        return self.lk.fp(True)

    @property
    def footprint_varies(self) -> bool:  # type: ignore[override]
        return self.kind == "trylock"

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        if self.kind != "trylock" or self.lk.oid not in snaps:
            return fp
        return self.lk.fp(snaps[self.lk.oid] is None)

    def enabled(self, ex: Execution, tid: int) -> bool:
        return self.kind != "lock" or self.lk.owner is None

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        if oid == self.lk.oid:
            return self.kind != "lock" or snap is None
        return True

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        return frozenset() if self.lk.owner is None else frozenset({self.lk.owner})

    weak_aware = True

    def execute(self, ex: Execution, tid: int) -> Any:
        lk = self.lk
        spin = not lk.sleeping
        if self.kind == "unlock":
            if lk.owner != tid:
                who = "nobody" if lk.owner is None else ex.threads[lk.owner].name
                ex.report("bad-unlock", f"unlock of {lk.name} held by {who}", tid)
                return None
            if ex.memory is not None:  # unlock is a release
                ex.memory.release_to(tid, lk.oid)
            lk.owner = None
            ex.unhold(tid, lk)
            if spin:
                atomic_exit(f"spinlock {lk.name}", ex, tid)
            return None
        if self.kind == "trylock" and lk.owner is not None:
            return False
        if lk.owner == tid:
            ex.report("deadlock", f"recursive lock of {lk.name}", tid,
                      extra={"cycle": [ex.threads[tid].name]})
        lk.owner = tid
        if ex.memory is not None:  # lock is an acquire
            ex.memory.acquire_from(tid, lk.oid)
        ex.hold(tid, lk, lk.name, lk.lock_class, trylock=self.kind == "trylock")
        if spin:
            ex.threads[tid].atomic.append(f"spinlock {lk.name}")
        return True if self.kind == "trylock" else None

    def describe(self) -> str:
        verb = {"lock": "lock", "trylock": "trylock", "unlock": "unlock"}[self.kind]
        prefix = "spin_" if not self.lk.sleeping else "mutex_"
        return f"{prefix}{verb} {self.lk.name}"

    def target(self) -> Shared:
        return self.lk


from vmacheck.explore.context import (  # noqa: E402  (re-exported; they import Var)
    BUG_ON,
    WARN_ON,
    at_close,
    atomic_enter,
    atomic_exit,
    choice,
    hold,
    in_atomic,
    invariant,
    join,
    label,
    loop_begin,
    outcome,
    report,
    retry,
    spawn,
    thread_id,
    unhold,
)
from vmacheck.explore.rwsem import RwSem  # noqa: E402

__all__ = [
    "BUG_ON",
    "WARN_ON",
    "Mutex",
    "RwSem",
    "SpinLock",
    "Var",
    "at_close",
    "atomic_enter",
    "atomic_exit",
    "choice",
    "hold",
    "in_atomic",
    "invariant",
    "join",
    "label",
    "loop_begin",
    "outcome",
    "report",
    "retry",
    "spawn",
    "thread_id",
    "unhold",
]
