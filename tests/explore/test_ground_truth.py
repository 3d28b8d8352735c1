"""Ground truth: on small generated programs, DPOR reaches exactly the outcomes and findings
that naive enumeration of every interleaving reaches, and runs one execution per
Mazurkiewicz trace.

The naive enumerator below drives :class:`~vmacheck.explore.core.Execution` directly through
every schedule (a depth-first search over the runnable threads at every step, one execution
per maximal schedule).  Traces are counted by a canonical form computed from an event log the
*model itself* keeps (not from the engine's footprints): events are ``(thread, index in
thread)``; two events are dependent when they belong to one thread, or touch one variable and
at least one writes (a failed CAS reads, a successful one writes), or touch one mutex.  Two
executions are the same trace exactly when they have the same events and order every
dependent pair the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import factorial
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmacheck as vc
from vmacheck.explore.core import Execution

# --------------------------------------------------------------------------- programs
# An access is ("load", v) | ("store", v, value) | ("inc", v) | ("cas", v, expected, new);
# "inc" stores the thread's last loaded value plus one.  A locked section is
# ("locked", m, [items]) where items are accesses or one nested locked section.

NVARS = 2
NMUTEXES = 2

var_ix = st.integers(0, NVARS - 1)
small = st.integers(0, 2)
access = st.one_of(
    st.tuples(st.just("load"), var_ix),
    st.tuples(st.just("store"), var_ix, st.integers(1, 2)),
    st.tuples(st.just("inc"), var_ix),
    st.tuples(st.just("cas"), var_ix, small, small),
)


@st.composite
def section(draw: st.DrawFn, depth: int = 0) -> tuple[Any, ...]:
    m = draw(st.integers(0, NMUTEXES - 1))
    items: list[Any] = draw(st.lists(access, max_size=1))
    if depth == 0 and draw(st.booleans()):
        inner = draw(section(depth=1))
        if inner[1] != m:
            items.append(inner)
    return ("locked", m, items)


@st.composite
def try_section(draw: st.DrawFn) -> tuple[Any, ...]:
    """``if trylock(m): items; unlock(m)`` (a failed trylock reads the mutex)."""
    return ("trylocked", draw(st.integers(0, NMUTEXES - 1)), draw(st.lists(access, max_size=1)))


def steps_of(item: tuple[Any, ...]) -> int:
    if item[0] in ("locked", "trylocked"):
        return 2 + sum(steps_of(i) for i in item[2])
    return 1


def interleavings(program: list[list[tuple[Any, ...]]]) -> int:
    lengths = [sum(steps_of(i) for i in thread) for thread in program]
    out = factorial(sum(lengths))
    for n in lengths:
        out //= factorial(n)
    return out


MAX_INTERLEAVINGS = 1_500


@st.composite
def programs(draw: st.DrawFn, trylocks: bool = False) -> list[list[tuple[Any, ...]]]:
    nthreads = draw(st.integers(2, 4))
    budget = {2: 5, 3: 4, 4: 3}[nthreads]  # steps per thread at most
    items = st.one_of(access, access, section(), *([try_section()] if trylocks else []))
    program: list[list[tuple[Any, ...]]] = []
    for _ in range(nthreads):
        thread: list[tuple[Any, ...]] = []
        used = 0
        for item in draw(st.lists(items, min_size=1, max_size=3)):
            if used + steps_of(item) <= budget:
                thread.append(item)
                used += steps_of(item)
        if not thread:
            thread.append(("load", 0))
        program.append(thread)
    # keep naive enumeration cheap: drop trailing items of the longest thread
    while interleavings(program) > MAX_INTERLEAVINGS:
        longest = max(program, key=lambda t: sum(steps_of(i) for i in t))
        longest.pop()
        if not longest:
            longest.append(("load", 0))
    return program


@dataclass
class Log:
    """The model's own record of the events of one execution, in execution order."""

    events: list[tuple[int, int, str, bool]] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, tid: int, obj: str, write: bool) -> None:
        k = self.counts.get(tid, 0)
        self.counts[tid] = k + 1
        self.events.append((tid, k, obj, write))


class Token:
    """A model object standing for a number (``boxed`` programs): made anew by every
    execution, so equal only to itself, as pointers to a model's objects are."""

    __slots__ = ("k",)

    def __init__(self, k: int) -> None:
        self.k = k

    def __add__(self, other: int) -> int:
        return self.k + other

    def __repr__(self) -> str:
        return str(self.k)


def build(program: list[list[tuple[Any, ...]]], logs: list[Log],
          boxed: bool = False) -> Callable[[], list[Any]]:
    """The program as a model; each run appends a fresh :class:`Log` to ``logs``.  With
    ``boxed``, the variables hold :class:`Token` objects of the execution instead of ints (a
    CAS compares identities, like a pointer compare-and-swap)."""

    def model() -> list[Any]:
        log = Log()
        logs.append(log)
        tokens = [Token(k) for k in range(16)]

        def val(k: int) -> Any:
            return tokens[k] if boxed else k

        xs = [vc.Var(f"x{v}", val(0)) for v in range(NVARS)]
        ms = [vc.Mutex(f"m{m}") for m in range(NMUTEXES)]
        seen: list[list[object]] = [[] for _ in program]

        async def run(tid: int, items: list[tuple[Any, ...]], reg: list[int]) -> None:
            for item in items:
                kind = item[0]
                if kind == "trylocked":
                    ok = await ms[item[1]].trylock()
                    log.add(tid, f"m{item[1]}", bool(ok))
                    seen[tid].append(ok)
                    if ok:
                        await run(tid, item[2], reg)
                        await ms[item[1]].unlock()
                        log.add(tid, f"m{item[1]}", True)
                    continue
                if kind == "locked":
                    await ms[item[1]].lock()
                    log.add(tid, f"m{item[1]}", True)
                    await run(tid, item[2], reg)
                    await ms[item[1]].unlock()
                    log.add(tid, f"m{item[1]}", True)
                    continue
                x = xs[item[1]]
                if kind == "load":
                    reg[0] = await x.load()
                    log.add(tid, x.name, False)
                    seen[tid].append(reg[0])
                elif kind == "store":
                    await x.store(val(item[2]))
                    log.add(tid, x.name, True)
                elif kind == "inc":
                    await x.store(val(reg[0] + 1))
                    log.add(tid, x.name, True)
                else:
                    ok = await x.cas(val(item[2]), val(item[3]))
                    log.add(tid, x.name, bool(ok))
                    seen[tid].append(ok)

        async def thread(tid: int) -> None:
            await run(tid, program[tid], [0])

        vc.outcome(lambda: " ".join(f"{x.name}={x.peek()}" for x in xs) + " | "
                   + " ".join(f"t{t}:{s}" for t, s in enumerate(seen)))
        return [(f"t{tid}", thread(tid)) for tid in range(len(program))]

    return model


def canonical(log: Log) -> tuple[frozenset[Any], frozenset[Any]]:
    """The Mazurkiewicz trace of one execution: its events and the order of dependent pairs."""
    evs = log.events
    order = set()
    for i, (t1, k1, o1, w1) in enumerate(evs):
        for t2, k2, o2, w2 in evs[i + 1:]:
            if t1 == t2 or (o1 == o2 and (w1 or w2)):
                order.add(((t1, k1), (t2, k2)))
    return frozenset(evs), frozenset(order)


def finding_keys(findings: Any) -> set[tuple[str, str]]:
    return {(f.kind, f.thread) for f in findings if f.kind != "lock-order"}


@dataclass
class Naive:
    executions: int
    traces: set[Any]
    outcomes: set[str]
    findings: set[tuple[str, str]]


def naive(program: list[list[tuple[Any, ...]]], boxed: bool = False) -> Naive:
    """Every maximal schedule, by depth-first search; one execution per leaf."""
    logs: list[Log] = []
    model = build(program, logs, boxed)
    out = Naive(0, set(), set(), set())
    stack: list[tuple[list[int], int]] = []  # runnable threads at each depth, index chosen
    while True:
        ex = Execution(model, max_steps=1_000)
        depth = 0
        while True:
            en = ex.enabled()
            if len(en) < len(ex.live()):
                ex.check_deadlock()
            if not en:
                break
            if depth == len(stack):
                stack.append((en, 0))
            choices, i = stack[depth]
            assert choices == en, "the model is not deterministic"
            ex.step(choices[i])
            depth += 1
        assert depth == len(stack)
        ex.finish()
        out.executions += 1
        out.traces.add(canonical(logs[-1]))
        out.outcomes.add(ex.outcome())
        out.findings |= finding_keys(ex.findings)
        while stack and stack[-1][1] + 1 >= len(stack[-1][0]):
            stack.pop()
        if not stack:
            return out
        en, i = stack.pop()
        stack.append((en, i + 1))


def check(program: list[list[tuple[Any, ...]]], boxed: bool = False) -> tuple[int, int]:
    truth = naive(program, boxed)
    logs: list[Log] = []
    r = vc.explore(build(program, logs, boxed), minimise=False, max_steps=1_000)
    assert r.complete and r.stop_reason == "exhausted"
    assert r.blocked == 0, program
    assert set(r.outcome_labels()) == truth.outcomes, program
    assert finding_keys(r.findings) == truth.findings, program
    dpor_traces = {canonical(log) for log in logs}
    assert len(dpor_traces) == r.executions, ("two executions of one trace", program)
    assert r.executions == len(truth.traces), (program, r.executions, len(truth.traces))
    assert dpor_traces == truth.traces
    return truth.executions, r.executions


@settings(max_examples=500, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_dpor_matches_naive_enumeration(program: list[list[tuple[Any, ...]]]) -> None:
    check(program)


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_dpor_matches_naive_enumeration_on_object_values(
        program: list[list[tuple[Any, ...]]]) -> None:
    """The same with values that are objects of each execution: a replayed prefix's
    snapshots come from an earlier execution, so a CAS's outcome predicted from them must
    not rest on object identity (``cas_may_succeed``)."""
    check(program, boxed=True)


def test_cas_prediction_compares_plain_values_exactly_and_objects_conservatively() -> None:
    from vmacheck.explore.primitives import cas_may_succeed

    a, b = Token(1), Token(1)  # "the same" object as two executions made it
    assert cas_may_succeed(a, b)  # unknown: predicted to write
    assert cas_may_succeed(a, a)
    assert not cas_may_succeed(a, None) and not cas_may_succeed(None, a)
    assert not cas_may_succeed(1, 2) and cas_may_succeed((1, "x"), (1, "x"))
    assert not cas_may_succeed((1, None), (2, None))


# --------------------------------------------------------------------------- fixed cases


def test_naive_enumerator_counts_interleavings() -> None:
    # two threads of two independent steps each: 6 interleavings, 1 trace
    prog = [[("load", 0), ("load", 1)], [("load", 0), ("load", 1)]]
    truth = naive(prog)
    assert truth.executions == 6
    assert len(truth.traces) == 1
    # store/load race on one variable: 6 interleavings, 3 traces (load before, between,
    # after the two stores of thread 0 is determined by the order with each store)
    prog = [[("store", 0, 1), ("store", 0, 2)], [("load", 0)]]
    truth = naive(prog)
    assert truth.executions == 3 and len(truth.traces) == 3
    assert truth.outcomes == {"x0=2 x1=0 | t0:[] t1:[0]", "x0=2 x1=0 | t0:[] t1:[1]",
                              "x0=2 x1=0 | t0:[] t1:[2]"}


def test_fixed_programs_with_locks_and_cas() -> None:
    cases = [
        # AB/BA: one deadlocking trace among them
        [[("locked", 0, [("locked", 1, [])])], [("locked", 1, [("locked", 0, [])])]],
        # failed CASes are reads: independent of each other
        [[("cas", 0, 1, 2)], [("cas", 0, 1, 2)], [("cas", 0, 2, 1)]],
        [[("cas", 0, 0, 1)], [("cas", 0, 0, 2)], [("load", 0), ("inc", 0)]],
        [[("locked", 0, [("inc", 0)])], [("locked", 0, [("load", 0)])], [("store", 0, 2)]],
        [[("load", 0), ("locked", 1, [("store", 1, 1)])], [("locked", 1, [("load", 1)])],
         [("store", 0, 1)], [("load", 1)]],
    ]
    for prog in cases:
        check(prog)
    truth = naive(cases[0])
    assert ("deadlock", "t0") in truth.findings or ("deadlock", "t1") in truth.findings
