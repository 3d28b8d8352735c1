"""Running a litmus test: its processes as model threads, every final state, a verdict.

Each shared variable of the test is a :class:`vmacheck.Var`, each ``spinlock_t`` a
:class:`vmacheck.SpinLock`; registers are thread-local.  A load through a register (``*r0``)
carries an address dependency on the load that produced the register.  RCU: a read-side
section enters and leaves with the orderings of the memory model's synchronisation views
(``rcu_read_lock`` acquires what grace periods published at their start, ``rcu_read_unlock``
releases to the grace period's end), and ``synchronize_rcu`` is a full fence, then waits for
every reader inside a section when it started, then a full fence again.

The verdict is herd7's: ``Always``, ``Sometimes`` or ``Never`` for the ``exists`` clause over
the reachable final states (for ``~exists``, a state must not satisfy the condition).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import vmacheck as vc
from vmacheck.explore.core import Execution, Footprint, Op, Shared
from vmacheck.explore.weak_ops import FenceOp, fence_footprint
from vmacheck.litmus.parser import Litmus, LitmusError, Stmt


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one test under one memory model."""

    name: str
    memory_model: str
    verdict: str
    satisfying: int
    states: int
    executions: int
    witness: str
    witness_state: str
    condition: str
    findings: tuple[str, ...]


# --------------------------------------------------------------------------- RCU


class _Reader(Shared):
    __slots__ = ("depth", "sections")

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.depth = 0
        self.sections = 0

    def snapshot(self) -> object:
        return (self.depth, self.sections)


class _Rcu:
    def __init__(self, nthreads: int) -> None:
        self.readers = [_Reader(f"rcu reader {t}") for t in range(nthreads)]
        self.gp = Shared("rcu grace period start")
        self.done = Shared("rcu read-side ends")


class _RcuOp(Op):
    __slots__ = ("kind", "rcu", "waited")
    weak_aware = True

    def __init__(self, rcu: _Rcu, kind: str, waited: dict[int, int] | None = None) -> None:
        self.rcu = rcu
        self.kind = kind
        self.waited = waited or {}

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.kind == "wait"

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        r = self.rcu
        fence = fence_footprint(ex)
        if self.kind == "lock":
            return ((r.readers[tid].oid, True), (r.gp.oid, False))
        if self.kind == "unlock":
            return ((r.readers[tid].oid, True), (r.done.oid, True))
        if self.kind == "start":
            return (*((x.oid, False) for x in r.readers), (r.gp.oid, True), *fence)
        return (*((r.readers[t].oid, False) for t in self.waited), (r.done.oid, False), *fence)

    def _ended(self, t: int, snap: tuple[int, int]) -> bool:
        return snap[0] == 0 or snap[1] != self.waited[t]

    def enabled(self, ex: Execution, tid: int) -> bool:
        return all(self._ended(t, (self.rcu.readers[t].depth, self.rcu.readers[t].sections))
                   for t in self.waited)

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        for t in self.waited:
            r = self.rcu.readers[t]
            state = snap if r.oid == oid and isinstance(snap, tuple) else (r.depth, r.sections)
            if not self._ended(t, state):
                return False
        return True

    def execute(self, ex: Execution, tid: int) -> Any:
        r = self.rcu
        mem = ex.memory
        if self.kind == "lock":
            me = r.readers[tid]
            me.depth += 1
            if me.depth == 1:
                me.sections += 1
                if mem is not None:
                    mem.acquire_from(tid, r.gp.oid)
            return None
        if self.kind == "unlock":
            me = r.readers[tid]
            if me.depth == 0:
                ex.report("bad-unlock", "rcu_read_unlock outside a read-side section", tid)
                return None
            me.depth -= 1
            if me.depth == 0 and mem is not None:
                mem.release_to(tid, r.done.oid)
            return None
        if self.kind == "start":
            if mem is not None:
                mem.fence(tid, "mb")
                mem.release_to(tid, r.gp.oid)
            return {t: x.sections for t, x in enumerate(r.readers) if x.depth > 0 and t != tid}
        if mem is not None:
            mem.acquire_from(tid, r.done.oid)
            mem.fence(tid, "mb")
        return None

    def describe(self) -> str:
        return {"lock": "rcu_read_lock", "unlock": "rcu_read_unlock",
                "start": "synchronize_rcu (start)", "wait": "synchronize_rcu (end)"}[self.kind]


# --------------------------------------------------------------------------- the model


def build(test: Litmus, finals: list[dict[str, Any]]) -> Callable[[], list[Any]]:
    """The test as a model; each run appends its final state to ``finals`` at the end."""

    def model() -> list[Any]:
        variables = {n: vc.Var(n, test.init.get(n, 0)) for n in test.variables()}
        locks = {n: vc.SpinLock(n) for n in test.locks()}
        rcu = _Rcu(len(test.threads))
        regs: list[dict[str, Any]] = [{} for _ in test.threads]
        final: dict[str, Any] = {}

        def thread(index: int, body: tuple[Stmt, ...]) -> Any:
            async def run() -> None:
                mine = regs[index]
                source: dict[str, str] = {}  # register -> variable its value was loaded from
                for st in body:
                    await _run_stmt(st, mine, source, variables, locks, rcu)
            return run()

        def at_end() -> str:
            final.clear()
            for t, rs in enumerate(regs):
                for r, v in rs.items():
                    final[f"{t}:{r}"] = v
            for n, var in variables.items():
                final[n] = var.peek()
            finals.append(dict(final))
            return _show(final)

        vc.outcome(at_end)
        return [(f"P{t.index}", thread(t.index, t.body)) for t in test.threads]

    return model


def _value(expr: Any, regs: dict[str, Any], variables: dict[str, vc.Var]) -> Any:
    kind = expr[0]
    if kind == "int":
        return expr[1]
    if kind == "name":
        name = expr[1]
        if name in regs:
            return regs[name]
        if name in variables:
            return name  # a pointer to the variable
        raise LitmusError(f"unknown name {name!r}")
    base = regs.get(expr[1], 0)
    return base + expr[2]


def _loc(addr: tuple[str, str], regs: dict[str, Any], source: dict[str, str],
         variables: dict[str, vc.Var]) -> tuple[vc.Var, vc.Var | None]:
    """The variable an address names, and the variable it depends on (through a register)."""
    name = addr[1]
    if name in regs:
        target = regs[name]
        if target not in variables:
            raise LitmusError(f"dereference of {name}, which holds {target!r}, not a pointer")
        dep = source.get(name)
        return variables[target], variables[dep] if dep is not None else None
    if name not in variables:
        raise LitmusError(f"unknown variable {name!r}")
    return variables[name], None


_RMW_FN: dict[str, Callable[[Any, tuple[Any, ...]], tuple[Any, Any]]] = {
    # op -> (new value, returned value) from (old value, operands)
    "xchg": lambda old, a: (a[0], old),
    "add_return": lambda old, a: (old + a[0], old + a[0]),
    "sub_return": lambda old, a: (old - a[0], old - a[0]),
    "inc_return": lambda old, a: (old + 1, old + 1),
    "dec_return": lambda old, a: (old - 1, old - 1),
    "fetch_add": lambda old, a: (old + a[0], old),
    "fetch_sub": lambda old, a: (old - a[0], old),
    "fetch_inc": lambda old, a: (old + 1, old),
    "fetch_dec": lambda old, a: (old - 1, old),
    "add": lambda old, a: (old + a[0], old),
    "sub": lambda old, a: (old - a[0], old),
    "inc": lambda old, a: (old + 1, old),
    "dec": lambda old, a: (old - 1, old),
}


async def _run_stmt(st: Stmt, regs: dict[str, Any], source: dict[str, str],
                    variables: dict[str, vc.Var], locks: dict[str, vc.SpinLock],
                    rcu: _Rcu) -> None:
    kind = st[0]
    if kind == "decl":
        regs.setdefault(st[1], 0)
    elif kind == "assign":
        regs[st[1]] = _value(st[2], regs, variables)
        src = st[2][1] if st[2][0] in ("name", "add") else None
        if src in source:
            source[st[1]] = source[src]
    elif kind == "load":
        var, dep = _loc(st[3], regs, source, variables)
        regs[st[1]] = await var.load(mode=st[2], dep=dep)
        source[st[1]] = var.name
    elif kind == "store":
        var, _ = _loc(st[2], regs, source, variables)
        await var.store(_value(st[3], regs, variables), mode=st[1])
    elif kind == "fence":
        await FenceOp(st[1])
    elif kind == "spin":
        lock = locks[st[2]]
        await (lock.lock() if st[1] == "lock" else lock.unlock())
    elif kind == "rcu":
        if st[1] == "sync":
            waited = await _RcuOp(rcu, "start")
            await _RcuOp(rcu, "wait", waited)
        else:
            await _RcuOp(rcu, st[1])
    else:
        await _rmw(st, regs, source, variables)


async def _rmw(st: Stmt, regs: dict[str, Any], source: dict[str, str],
               variables: dict[str, vc.Var]) -> None:
    _, reg, op, mode, addr, operands = st
    var, _ = _loc(addr, regs, source, variables)
    args = tuple(_value(a, regs, variables) for a in operands)
    if op == "cmpxchg":
        box: list[Any] = []

        def cas(old: Any) -> Any:
            box.append(old)
            return args[1] if old == args[0] else old
        await var.update(cas, mode=mode)
        result = box[-1]
    else:
        fn = _RMW_FN[op]
        result = None
        outs: list[Any] = []

        def step(old: Any) -> Any:
            new, ret = fn(old, args)
            outs.append(ret)
            return new
        await var.update(step, mode=mode)
        result = outs[-1]
    if reg is not None:
        regs[reg] = result
        source[reg] = var.name


def _show(state: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(state.items()))


def holds(cond: Any, state: dict[str, Any]) -> bool:
    """Evaluate the final condition on a final state."""
    kind = cond[0]
    if kind == "and":
        return holds(cond[1], state) and holds(cond[2], state)
    if kind == "or":
        return holds(cond[1], state) or holds(cond[2], state)
    if kind == "not":
        return not holds(cond[1], state)
    _, thread, name, negate, value = cond
    key = f"{thread}:{name}" if thread is not None else name
    if key not in state:
        raise LitmusError(f"the condition names {key}, which the test does not have")
    return bool(state[key] != value) if negate else bool(state[key] == value)


def run(test: Litmus, memory_model: str = "weak", **options: Any) -> Verdict:
    """Explore every execution of ``test`` and answer its condition like herd7."""
    finals: list[dict[str, Any]] = []
    result = vc.explore(build(test, finals), memory_model=memory_model, minimise=False,
                        **options)
    states = {_show(f): f for f in finals}
    sat = {k for k, f in states.items() if holds(test.condition, f)}
    if test.quantifier == "forall":
        verdict = "Always" if len(sat) == len(states) else (
            "Sometimes" if sat else "Never")
    else:
        verdict = "Never" if not sat else ("Always" if len(sat) == len(states) else "Sometimes")
    witness, witness_state = "", ""
    for outcome in result.outcomes:
        if outcome.label in sat:
            witness, witness_state = outcome.schedule, outcome.label
            break
    findings = tuple(f"{f.kind}: {f.message}" for f in result.findings)
    return Verdict(test.name, memory_model, verdict, len(sat), len(states), result.executions,
                   witness, witness_state, test.condition_text, findings)
