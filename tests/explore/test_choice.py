"""Nondeterministic choices (``vmacheck.choice``): every value explored, recorded in schedules,
replayed exactly, and minimised with the finding.

Ground truth: on generated programs mixing shared accesses and choices, DPOR reaches exactly
the final states that a naive enumeration of every schedule and every value reaches, and runs
one execution per (Mazurkiewicz trace, choice values) pair: a choice touches no shared object,
so it is ordered only by program order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmacheck as vc
from vmacheck.explore.runner import run_one
from vmacheck.explore.schedule import format_schedule, parse_schedule_choices

# An item is ("load", v) | ("store", v, value) | ("pick", v, n): choose c in range(n), then
# store c + 10 * (thread + 1) to v.
NVARS = 2
item = st.one_of(
    st.tuples(st.just("load"), st.integers(0, NVARS - 1)),
    st.tuples(st.just("store"), st.integers(0, NVARS - 1), st.integers(1, 2)),
    st.tuples(st.just("pick"), st.integers(0, NVARS - 1), st.integers(2, 3)),
)


def _steps(thread: list[tuple[Any, ...]]) -> int:
    return sum(2 if it[0] == "pick" else 1 for it in thread)


def _small(program: list[list[tuple[Any, ...]]]) -> bool:
    """At most 7 steps in all, so that naive enumeration stays cheap."""
    return sum(_steps(t) for t in program) <= 7


programs = st.lists(st.lists(item, min_size=1, max_size=3), min_size=2,
                    max_size=3).filter(_small)


def build(program: list[list[tuple[Any, ...]]],
          logs: list[list[tuple[int, int, str, bool, int]]]) -> Callable[[], list[Any]]:
    """The program as a model; each run appends its own event log (thread, index, variable,
    writes?, value chosen or -1) to ``logs``.  An event is logged right after its op returns,
    in the same step, so the log is in execution order."""

    def model() -> list[Any]:
        xs = [vc.Var(f"x{i}", 0) for i in range(NVARS)]
        log: list[tuple[int, int, str, bool, int]] = []
        logs.append(log)

        def thread(tid: int, items: list[tuple[Any, ...]]) -> Any:
            async def run() -> None:
                k = 0
                for it in items:
                    if it[0] == "load":
                        await xs[it[1]].load()
                        log.append((tid, k, f"x{it[1]}", False, -1))
                    elif it[0] == "store":
                        await xs[it[1]].store(it[2])
                        log.append((tid, k, f"x{it[1]}", True, -1))
                    else:
                        c = await vc.choice(it[2], f"pick {it[2]}")
                        log.append((tid, k, "", False, c))
                        k += 1
                        await xs[it[1]].store(c + 10 * (tid + 1))
                        log.append((tid, k, f"x{it[1]}", True, -1))
                    k += 1
            return run()

        vc.outcome(lambda: ",".join(str(x.peek()) for x in xs))
        return [(f"t{i}", thread(i, items)) for i, items in enumerate(program)]

    return model


def naive(model: Callable[[], list[Any]]) -> list[tuple[str, list[int]]]:
    """Every schedule and every choice value, depth first: (outcome, decision tape) each."""
    out: list[tuple[str, list[int]]] = []
    stack: list[list[int]] = [[]]  # decision prefixes still to run
    while stack:
        prefix = stack.pop()
        tape: list[int] = []

        def decide(options: int, prefix: list[int] = prefix, tape: list[int] = tape) -> int:
            k = len(tape)
            value = prefix[k] if k < len(prefix) else 0
            if k >= len(prefix):
                stack.extend([*tape, v] for v in range(1, options))
            tape.append(value)
            return value

        ex, _, _ = run_one(model, lambda ex, en, d: en[decide(len(en))], max_steps=1_000,
                           values=lambda ex, tid, n, step: decide(n))
        out.append((ex.outcome(), tape))
    return out


def canonical(log: list[tuple[int, int, str, bool, int]]) -> tuple[Any, ...]:
    """The trace of an event log: its events (with values) and the order of dependent pairs."""
    events = frozenset((t, k, v) for t, k, _, _, v in log)
    order = []
    for i, (t1, k1, o1, w1, _) in enumerate(log):
        for t2, k2, o2, w2, _ in log[i + 1:]:
            if t1 != t2 and o1 and o1 == o2 and (w1 or w2):
                order.append(((t1, k1), (t2, k2)))
    return (events, frozenset(order))


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_dpor_with_choices_matches_naive_enumeration(program: list[list[tuple[Any, ...]]]) -> None:
    logs: list[list[tuple[int, int, str, bool, int]]] = []
    model = build(program, logs)
    reference = naive(model)
    start = len(logs)
    result = vc.explore(model)
    dpor_logs = logs[start:]
    assert result.complete and result.blocked == 0
    assert set(result.outcome_labels()) == {o for o, _ in reference}
    traces = {canonical(log) for log in logs[:start]}
    assert result.executions == len(traces)
    assert len({canonical(log) for log in dpor_logs}) == result.executions


def test_every_value_is_explored_and_counted() -> None:
    def model() -> list[Any]:
        x = vc.Var("x", 0)

        async def pick() -> None:
            await x.store(await vc.choice(4, "which"))

        vc.outcome(lambda: f"x={x.peek()}")
        return [("picker", pick())]

    result = vc.explore(model)
    assert result.executions == 4
    assert result.outcome_labels() == {"x=0": 1, "x=1": 1, "x=2": 1, "x=3": 1}
    assert {o.schedule for o in result.outcomes} == {"0*2", "0:1,0", "0:2,0", "0:3,0"}


def bug_needs_value_2() -> list[Any]:
    """The invariant breaks only when the writer chooses 2 and the reader runs between the
    writer's two stores."""
    x = vc.Var("x", 0)
    seen = vc.Var("seen", -1)

    async def writer() -> None:
        c = await vc.choice(3, "kmalloc result")
        await x.store(c)
        await x.store(0)

    async def reader() -> None:
        await seen.store(await x.load())

    vc.invariant("reader never sees 2", lambda: seen.peek() != 2, at_end=True)
    return [("writer", writer()), ("reader", reader())]


def test_a_finding_that_needs_a_value_is_found_minimised_and_replayed() -> None:
    result = vc.explore(bug_needs_value_2)
    assert result.complete
    (finding,) = result.findings
    assert finding.kind == "invariant"
    tids, choices = parse_schedule_choices(finding.minimal_schedule)
    assert 2 in choices.values(), finding.minimal_schedule
    assert finding.minimal_schedule == "0:2,0,1*2,0"
    again = vc.replay(bug_needs_value_2, finding.minimal_schedule)
    assert [f.kind for f in again.findings] == ["invariant"]
    # the same thread order with the default value does not break it
    assert vc.replay(bug_needs_value_2, format_schedule(tids)).findings == ()


@pytest.mark.parametrize("mode", ["bounded", "random", "pct"])
def test_other_modes_reach_every_value(mode: str) -> None:
    result = vc.explore(bug_needs_value_2, mode=mode, max_executions=300, seed=1)
    assert result.kinds() == {"invariant"}


def test_schedule_strings_round_trip_choice_values() -> None:
    tids, choices = [0, 0, 1, 1, 1, 0], {1: 2, 3: 1}
    text = format_schedule(tids, choices)
    assert text == "0,0:2,1,1:1,1,0"
    assert parse_schedule_choices(text) == (tids, choices)
    with pytest.raises(vc.ScheduleError, match="choice value"):
        parse_schedule_choices("0:x")


def test_a_value_out_of_range_in_a_replayed_schedule_is_a_schedule_error() -> None:
    with pytest.raises(vc.ScheduleError, match="out of range"):
        vc.replay(bug_needs_value_2, "0:7,0,1*2")


def test_choice_needs_at_least_one_value() -> None:
    def model() -> list[Any]:
        async def bad() -> None:
            await vc.choice(0, "nothing")

        return [("bad", bad())]

    result = vc.explore(model)
    assert result.kinds() == {"exception"}
