"""Weak-memory execution of variable accesses, and the fence and synchronisation ops.

:func:`weak_execute` runs a :class:`~vmacheck.explore.Var` access under the weak model of
:mod:`vmacheck.explore.memory`: a load chooses the message it reads (``ex.choose``, newest
first), a store chooses its place in modification order (last first), an RMW chooses the
message it reads and is placed right after it.  Under ``sc`` none of this runs: fences are
no-ops touching nothing, and variable accesses take their usual path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vmacheck.explore.memory import ZERO, WeakMemory
from vmacheck.explore.ops import Footprint, Op, Shared

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution

FENCES = ("mb", "rmb", "wmb")


def weak_execute(op: Any, mem: WeakMemory, ex: Execution, tid: int) -> Any:
    """Run a variable access ``op`` (a ``_VarOp``) under the weak model."""
    var = op.var
    oid = var.oid
    k = op.kind
    mode = op.mode
    if mode == "plain" and k not in ("load", "store"):
        mode = "mb"  # a read-modify-write's default: fully ordered
    h = mem.location(var)
    if k == "load":
        cands = mem.load_candidates(tid, oid, op.deps)
        i = ex.choose(tid, len(cands), f"{var.name} reads from") if len(cands) > 1 else 0
        return mem.read(tid, oid, cands[i], mode == "acquire", op.deps)
    if k == "store":
        slots = mem.store_slots(tid, oid)
        i = ex.choose(tid, len(slots), f"{var.name} order") if len(slots) > 1 else 0
        mem.write(tid, oid, slots[i], op.a, mode in ("release", "rcu"))
        var._value = h[-1].value
        return None
    # read-modify-write: a failed cas only reads, so it may read any visible message
    if mode == "mb":
        mem.fence(tid, "mb")
    opts: list[tuple[int, bool]] = []  # (message index, writes?)
    low = mem.views(tid).cur
    for i in range(len(h) - 1, -1, -1):
        m = h[i]
        if m.ts < low.get(oid, ZERO):
            break
        writes = op.new_value(m.value)[0]
        if not (writes and m.taken):
            opts.append((i, writes))
    j = ex.choose(tid, len(opts), f"{var.name} RMW reads from") if len(opts) > 1 else 0
    index, writes = opts[j]
    m = h[index]
    acquire = mode in ("acquire", "mb")
    mem.read(tid, oid, m, acquire)
    _, new, result = op.new_value(m.value)
    if writes:
        mem.write(tid, oid, index, new, mode in ("release", "mb"), carry=m.view, rmw=True)
        var._value = h[-1].value
    if mode == "mb":
        mem.fence(tid, "mb")
    return result


class FenceOp(Op):
    """``smp_mb`` (SC fence), ``smp_rmb`` (acquire fence) or ``smp_wmb`` (release fence).
    Under the weak model an ``mb`` reads and writes one global fence object, so the explorer
    orders full fences; under ``sc`` a fence touches nothing and does nothing."""

    __slots__ = ("kind",)
    weak_aware = True

    def __init__(self, kind: str) -> None:
        if kind not in FENCES:
            raise ValueError(f"unknown fence {kind!r}; choose one of {', '.join(FENCES)}")
        self.kind = kind

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if ex.memory is None or self.kind != "mb":
            return ()
        return ((_fence_object(ex).oid, True),)

    def execute(self, ex: Execution, tid: int) -> None:
        if ex.memory is not None:
            ex.memory.fence(tid, self.kind)

    def describe(self) -> str:
        return f"smp_{self.kind}"


def fence_footprint(ex: Execution) -> Footprint:
    """What a full fence touches: nothing under ``sc``, the global fence object under the
    weak model (for ops that include a full barrier, e.g. ``synchronize_rcu``)."""
    if ex.memory is None:
        return ()
    return ((_fence_object(ex).oid, True),)


def _fence_object(ex: Execution) -> Shared:
    mem = ex.memory
    assert mem is not None
    if mem.fence_obj is None:
        mem.fence_obj = Shared("smp_mb")
    obj: Shared = mem.fence_obj
    return obj


def smp_mb() -> Op:
    """``smp_mb``: a full (SC) fence."""
    return FenceOp("mb")


def smp_rmb() -> Op:
    """``smp_rmb``: modelled as an acquire fence (it also orders earlier loads before later
    stores, which the kernel's read barrier does not promise)."""
    return FenceOp("rmb")


def smp_wmb() -> Op:
    """``smp_wmb``: modelled as a release fence (it also orders earlier loads before later
    stores, which the kernel's write barrier does not promise)."""
    return FenceOp("wmb")


def smp_mb__before_atomic() -> Op:
    """``smp_mb__before_atomic``: a full fence before a relaxed atomic."""
    return FenceOp("mb")


def smp_mb__after_atomic() -> Op:
    """``smp_mb__after_atomic``: a full fence after a relaxed atomic."""
    return FenceOp("mb")


class SyncOp(Op):
    """Ordering through a synchronisation object ``obj`` (a grace period, a wait queue):
    ``acquire`` joins the view last released to it, ``release`` publishes the thread's view
    to it, ``mb`` adds a full fence before (release) or after (acquire).  It writes ``obj``
    (so DPOR orders the syncs on one object) under the weak model and touches nothing under
    ``sc``."""

    __slots__ = ("full", "kind", "obj")
    weak_aware = True

    def __init__(self, obj: Shared, kind: str, full: bool = False) -> None:
        self.obj = obj
        self.kind = kind
        self.full = full

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if ex.memory is None:
            return ()
        if self.full:
            return (*self.obj.fp(True), (_fence_object(ex).oid, True))
        return self.obj.fp(True)

    def execute(self, ex: Execution, tid: int) -> None:
        mem = ex.memory
        if mem is None:
            return
        if self.kind == "release":
            if self.full:
                mem.fence(tid, "mb")
            mem.release_to(tid, self.obj.oid)
        else:
            mem.acquire_from(tid, self.obj.oid)
            if self.full:
                mem.fence(tid, "mb")

    def describe(self) -> str:
        return f"{self.kind} {self.obj.name}"
