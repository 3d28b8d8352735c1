"""The weak memory model against an independent brute-force enumeration of its semantics.

For hypothesis-generated small programs mixing loads, stores and read-modify-writes in every
access mode, dependencies and fences, the set of final states (registers and the last value of
each variable in modification order) the explorer reaches under ``memory_model="weak"`` equals
the set a naive enumeration reaches: every interleaving, every message each load may read,
every place in modification order each store may take, written here from the rules in
``vmacheck.explore.memory``'s docstring with its own data structures (views map a variable to
a message object; positions are list indices).  Under ``sc`` the explorer's final states
equal a naive enumeration of sequentially consistent interleavings (today's semantics).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmacheck as vc

NVARS = 2
Item = tuple[Any, ...]
item = st.one_of(
    st.tuples(st.just("load"), st.integers(0, NVARS - 1),
              st.sampled_from(["once", "acquire"]), st.sampled_from([None, 0, 1])),
    st.tuples(st.just("store"), st.integers(0, NVARS - 1), st.sampled_from(["once", "release"])),
    st.tuples(st.just("rmw"), st.integers(0, NVARS - 1),
              st.sampled_from(["relaxed", "acquire", "release", "mb"])),
    st.tuples(st.just("fence"), st.sampled_from(["mb", "rmb", "wmb"])),
)
programs = st.lists(st.lists(item, min_size=1, max_size=3), min_size=2, max_size=3).filter(
    lambda p: sum(len(t) for t in p) <= 6)


def _value(tid: int, k: int) -> int:
    return 10 * (tid + 1) + k


# --------------------------------------------------------------------------- the explorer


def build(program: list[list[Item]]) -> Callable[[], list[Any]]:
    def model() -> list[Any]:
        xs = [vc.Var(f"x{i}", 0) for i in range(NVARS)]
        regs: dict[tuple[int, int], int] = {}

        def thread(tid: int, items: list[Item]) -> Any:
            async def run() -> None:
                for k, it in enumerate(items):
                    if it[0] == "load":
                        dep = xs[it[3]] if it[3] is not None else None
                        regs[(tid, k)] = await xs[it[1]].load(mode=it[2], dep=dep)
                    elif it[0] == "store":
                        await xs[it[1]].store(_value(tid, k), mode=it[2])
                    elif it[0] == "rmw":
                        regs[(tid, k)] = await xs[it[1]].fetch_add(1, mode=it[2])
                    else:
                        await _fence(it[1])
            return run()

        vc.outcome(lambda: _label(regs, [x.peek() for x in xs]))
        return [(f"t{i}", thread(i, items)) for i, items in enumerate(program)]

    return model


def _fence(kind: str) -> Any:
    return {"mb": vc.smp_mb, "rmb": vc.smp_rmb, "wmb": vc.smp_wmb}[kind]()


def _label(regs: dict[tuple[int, int], int], finals: list[Any]) -> str:
    return f"{sorted(regs.items())} {finals}"


# --------------------------------------------------------------------------- brute force


class Msg:
    def __init__(self, value: int, view: dict[int, Msg]) -> None:
        self.value = value
        self.view = view
        self.taken = False


class Mem:
    """Modification orders (lists of messages) and per-thread views (variable -> message)."""

    def __init__(self, nthreads: int) -> None:
        self.mo: list[list[Msg]] = [[Msg(0, {})] for _ in range(NVARS)]
        self.cur: list[dict[int, Msg]] = [{} for _ in range(nthreads)]
        self.acq: list[dict[int, Msg]] = [{} for _ in range(nthreads)]
        self.rel: list[dict[int, Msg]] = [{} for _ in range(nthreads)]
        self.dep: list[dict[int, dict[int, Msg]]] = [{} for _ in range(nthreads)]
        self.sc: dict[int, Msg] = {}

    def pos(self, v: int, view: dict[int, Msg]) -> int:
        m = view.get(v)
        return 0 if m is None else self.mo[v].index(m)

    def merge(self, a: dict[int, Msg], b: dict[int, Msg]) -> dict[int, Msg]:
        out = dict(a)
        for v, m in b.items():
            if self.pos(v, out) < self.mo[v].index(m):
                out[v] = m
        return out

    def fence(self, t: int, kind: str) -> None:
        if kind in ("rmb", "mb"):
            self.cur[t] = self.merge(self.cur[t], self.acq[t])
        if kind == "mb":
            self.cur[t] = self.merge(self.cur[t], self.sc)
            self.acq[t] = self.merge(self.acq[t], self.cur[t])
            self.sc = dict(self.cur[t])
        if kind in ("wmb", "mb"):
            self.rel[t] = dict(self.cur[t])

    def read(self, t: int, v: int, m: Msg, acquire: bool, extra: dict[int, Msg]) -> None:
        own = {v: m}
        self.cur[t] = self.merge(self.cur[t], own)
        self.acq[t] = self.merge(self.merge(self.acq[t], own), m.view)
        self.dep[t][v] = self.merge(self.merge(m.view, own), extra)
        if acquire:
            self.cur[t] = self.merge(self.cur[t], m.view)
            self.acq[t] = self.merge(self.acq[t], m.view)

    def write(self, t: int, v: int, at: int, value: int, release: bool,
              carry: dict[int, Msg]) -> None:
        m = Msg(value, {})
        self.mo[v].insert(at + 1, m)
        self.cur[t] = self.merge(self.cur[t], {v: m})
        self.acq[t] = self.merge(self.acq[t], {v: m})
        base = self.cur[t] if release else self.rel[t]
        m.view = self.merge(self.merge(base, {v: m}), carry)


def successors(mem: Mem, t: int, it: Item, k: int) -> list[tuple[Mem, int | None]]:
    """Every state one step of thread ``t`` (item ``it``, its ``k``-th) may lead to."""
    out: list[tuple[Mem, int | None]] = []
    if it[0] == "fence":
        m2 = copy.deepcopy(mem)
        m2.fence(t, it[1])
        return [(m2, None)]
    v = it[1]
    if it[0] == "load":
        extra = mem.dep[t].get(it[3], {}) if it[3] is not None else {}
        low = max(mem.pos(v, mem.cur[t]), mem.pos(v, extra))
        for i in range(low, len(mem.mo[v])):
            m2 = copy.deepcopy(mem)
            msg = m2.mo[v][i]
            ex2 = m2.dep[t].get(it[3], {}) if it[3] is not None else {}
            m2.read(t, v, msg, it[2] == "acquire", ex2)
            out.append((m2, msg.value))
        return out
    low = mem.pos(v, mem.cur[t])
    for i in range(low, len(mem.mo[v])):
        if mem.mo[v][i].taken:
            continue
        m2 = copy.deepcopy(mem)
        if it[0] == "store":
            m2.write(t, v, i, _value(t, k), it[2] == "release", {})
            out.append((m2, None))
            continue
        mode = it[2]
        if mode == "mb":
            m2.fence(t, "mb")
        if i < m2.pos(v, m2.cur[t]):  # the fence may have moved the view past it
            continue
        msg = m2.mo[v][i]
        m2.read(t, v, msg, mode in ("acquire", "mb"), {})
        msg.taken = True
        m2.write(t, v, i, msg.value + 1, mode in ("release", "mb"), msg.view)
        if mode == "mb":
            m2.fence(t, "mb")
        out.append((m2, msg.value))
    return out


def brute_force_weak(program: list[list[Item]]) -> set[str]:
    finals: set[str] = set()

    def go(mem: Mem, pcs: tuple[int, ...], regs: dict[tuple[int, int], int]) -> None:
        done = True
        for t, items in enumerate(program):
            k = pcs[t]
            if k == len(items):
                continue
            done = False
            for m2, val in successors(mem, t, items[k], k):
                r2 = dict(regs)
                if val is not None:
                    r2[(t, k)] = val
                go(m2, (*pcs[:t], k + 1, *pcs[t + 1:]), r2)
        if done:
            finals.add(_label(regs, [mem.mo[v][-1].value for v in range(NVARS)]))

    go(Mem(len(program)), tuple(0 for _ in program), {})
    return finals


def brute_force_sc(program: list[list[Item]]) -> set[str]:
    finals: set[str] = set()

    def go(mem: list[int], pcs: tuple[int, ...], regs: dict[tuple[int, int], int]) -> None:
        done = True
        for t, items in enumerate(program):
            k = pcs[t]
            if k == len(items):
                continue
            done = False
            it = items[k]
            m2, r2 = list(mem), dict(regs)
            if it[0] == "load":
                r2[(t, k)] = m2[it[1]]
            elif it[0] == "store":
                m2[it[1]] = _value(t, k)
            elif it[0] == "rmw":
                r2[(t, k)] = m2[it[1]]
                m2[it[1]] += 1
            go(m2, (*pcs[:t], k + 1, *pcs[t + 1:]), r2)
        if done:
            finals.add(_label(regs, list(mem)))

    go([0] * NVARS, tuple(0 for _ in program), {})
    return finals


# --------------------------------------------------------------------------- the tests


# the classic shapes, always checked (random programs hit them rarely)
CLASSIC = [
    [[("store", 0, "once"), ("store", 1, "release")],
     [("load", 1, "acquire", None), ("load", 0, "once", None)]],
    [[("store", 0, "once"), ("fence", "wmb"), ("store", 1, "once")],
     [("load", 1, "once", None), ("fence", "rmb"), ("load", 0, "once", None)]],
    [[("store", 0, "once"), ("fence", "wmb"), ("store", 1, "once")],
     [("load", 1, "once", None), ("load", 0, "once", 1)]],
    [[("store", 0, "once"), ("fence", "mb"), ("load", 1, "once", None)],
     [("store", 1, "once"), ("fence", "mb"), ("load", 0, "once", None)]],
    [[("store", 0, "once"), ("store", 1, "release")],
     [("rmw", 1, "relaxed")], [("load", 1, "acquire", None), ("load", 0, "once", None)]],
    [[("store", 0, "once"), ("store", 1, "once")],
     [("store", 1, "once"), ("store", 0, "once")]],
    [[("store", 0, "once"), ("rmw", 1, "mb"), ("load", 0, "once", None)],
     [("rmw", 1, "mb"), ("load", 0, "once", None)]],
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_weak_final_states_equal_brute_force(program: list[list[Item]]) -> None:
    check_weak(program)


@pytest.mark.parametrize("program", CLASSIC)
def test_weak_classic_shapes_equal_brute_force(program: list[list[Item]]) -> None:
    check_weak(program)


def check_weak(program: list[list[Item]]) -> None:
    result = vc.explore(build(program), memory_model="weak", minimise=False)
    assert result.complete
    assert set(result.outcome_labels()) == brute_force_weak(program)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_sc_final_states_equal_brute_force(program: list[list[Item]]) -> None:
    result = vc.explore(build(program), memory_model="sc", minimise=False)
    assert result.complete
    assert set(result.outcome_labels()) == brute_force_sc(program)


SB = [[("store", 0, "once"), ("load", 1, "once", None)],
      [("store", 1, "once"), ("load", 0, "once", None)]]


@pytest.mark.parametrize(("program", "weak_only"), [
    (SB, "[((0, 1), 0), ((1, 1), 0)] [10, 20]"),
    ([[("store", 0, "once"), ("store", 1, "once")],
      [("load", 1, "once", None), ("load", 0, "once", 1)]],
     "[((1, 0), 11), ((1, 1), 0)] [10, 11]"),
])
def test_weak_outcomes_beyond_sc(program: list[list[Item]], weak_only: str) -> None:
    """Store buffering and message passing without ordering: the weak model reaches the
    outcome SC forbids (the generated programs above may not contain these shapes)."""
    weak = set(vc.explore(build(program), memory_model="weak").outcome_labels())
    sc = set(vc.explore(build(program)).outcome_labels())
    assert weak_only in weak - sc
    assert sc <= weak
    assert weak == brute_force_weak(program)


def test_unknown_memory_model_and_mode_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown memory model"):
        vc.explore(build(SB), memory_model="tso")

    def model() -> list[Any]:
        x = vc.Var("x", 0)

        async def t() -> None:
            await x.load(mode="release")
        return [t()]

    result = vc.explore(model)
    assert [f.kind for f in result.findings] == ["exception"]
    assert "access mode 'release'" in result.findings[0].message


@pytest.mark.parametrize("program", CLASSIC[:4])
def test_weak_schedules_replay_exactly(program: list[list[Item]]) -> None:
    """Every explored schedule, with its reads-from choices, replays to the same final state."""
    result = vc.explore(build(program), memory_model="weak", keep_log=True)
    replayed: dict[str, int] = {}
    for schedule in result.execution_log:
        rep = vc.replay(build(program), schedule, memory_model="weak")
        replayed[rep.outcome] = replayed.get(rep.outcome, 0) + 1
    assert replayed == {o.label: o.count for o in result.outcomes}
    assert any(":" in s for s in result.execution_log)  # some schedule carries a choice
