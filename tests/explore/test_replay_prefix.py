"""Quiet replayed steps taken by ``Execution.replay_prefix`` (the short path for a replayed
prefix): explorations whose prefixes free allocations, touch freed ones, deadlock, start and
join threads, sleep in atomic context, park in wait loops or write what a check reads find
exactly what explorations that replay every prefix in full find; a model that does not
repeat itself on that path is a clear error."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.explore.test_findings import abba_model

import vmacheck as vc
from vmacheck.explore import modes, runner
from vmacheck.explore.core import Execution
from vmacheck.explore.state import NondeterministicModel

Model = Callable[[], list[Any]]


def _racers(n: int = 2) -> list[tuple[str, Any]]:
    """Threads that race on one counter after the others' steps, so that the explorer
    branches late and replays long prefixes."""
    x = vc.Var("x", 0)

    async def racer() -> None:
        for _ in range(2):
            v = await x.load()
            await x.store(v + 1)

    vc.outcome(lambda: f"x={x.peek()}")
    return [(f"racer{i}", racer()) for i in range(n)]


def _private_steps(name: str, n: int) -> Callable[[], Any]:
    """``n`` stores to a variable no other thread touches (steps replayed quietly)."""
    v = vc.Var(name, 0)

    async def steps() -> None:
        for k in range(n):
            await v.store(k)

    return steps


def uaf_in_prefix() -> list[Any]:
    obj = vc.Allocation("obj")
    field = vc.Var("obj.field", 1, alloc=obj)
    before = _private_steps("before", 2)

    async def freer() -> None:
        await before()
        await obj.free()

    async def user() -> None:
        vc.label(f"field={await field.load()}")

    return [("freer", freer()), ("user", user()), *_racers()]


def abba_in_prefix() -> list[Any]:
    return [*abba_model(), *_racers()]


def spawn_join_in_prefix() -> list[Any]:
    done = vc.Var("done", 0)
    before = _private_steps("before", 2)
    child_steps = _private_steps("child", 2)

    async def child() -> int:
        await child_steps()
        await done.store(1)
        return 7

    async def parent() -> None:
        await before()
        handle = await vc.spawn("child", child())
        vc.label(f"child returned {await vc.join(handle)}")

    return [("parent", parent()), *_racers()]


def sleep_in_atomic_in_prefix() -> list[Any]:
    m = vc.Mutex("m")
    before = _private_steps("before", 2)

    async def reader() -> None:
        await before()
        vc.atomic_enter("rcu_read_lock")
        await m.lock()
        await m.unlock()
        vc.atomic_exit("rcu_read_lock")

    return [("reader", reader()), *_racers()]


def wait_loop_in_prefix() -> list[Any]:
    flag, p, q = vc.Var("flag", 0), vc.Var("p", 0), vc.Var("q", 0)

    async def waiter() -> None:
        while True:  # parks until what it read changes: p, written while it reads q
            vc.loop_begin()
            await p.load()
            await q.load()
            if await flag.load():
                break
            await vc.retry()

    async def setter() -> None:
        await p.store(1)
        await flag.store(1)

    return [("waiter", waiter()), ("setter", setter()), *_racers()]


def checked_writes_in_prefix() -> list[Any]:
    y = vc.Var("y", 0)
    before = _private_steps("before", 2)
    vc.invariant("y stays below 4", lambda: y.peek() < 4, reads=[y])

    async def bump() -> None:
        v = await y.load()
        await y.store(v + 2)

    async def first() -> None:
        await before()
        await bump()

    return [("first", first()), ("second", bump()), *_racers()]


MODELS = [uaf_in_prefix, abba_in_prefix, spawn_join_in_prefix, sleep_in_atomic_in_prefix,
          wait_loop_in_prefix, checked_writes_in_prefix]


def _summary(r: vc.Result) -> tuple[object, ...]:
    return (r.executions, r.blocked, r.complete, r.outcomes,
            [(f.kind, f.message, f.thread, f.location, f.occurrences, f.schedule,
              f.minimal_schedule, f.trace) for f in r.findings])


@pytest.fixture
def replay_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The indices of the steps taken by ``Execution.replay_prefix`` (begun, when one
    raises)."""
    calls: list[int] = []
    original = Execution.replay_prefix

    def counted(self: Execution, replayed: Any, stop: int, sched: list[int]) -> None:
        start = len(sched)
        try:
            original(self, replayed, stop, sched)
        finally:
            calls.extend(range(start, len(sched)))

    monkeypatch.setattr(Execution, "replay_prefix", counted)
    yield calls


def _explore(model: Model, monkeypatch: pytest.MonkeyPatch) -> tuple[vc.Result, list[Any]]:
    """Explore ``model``; also return what each execution found, at which step."""
    executions: list[Any] = []
    run_one = runner.run_one

    def recorded(*args: Any, **kwargs: Any) -> Any:
        ex, sched, gave_up = run_one(*args, **kwargs)
        executions.append((sched, [(f.kind, f.message, f.tid, f.step, f.location)
                                   for f in ex.findings]))
        return ex, sched, gave_up

    monkeypatch.setattr(modes, "run_one", recorded)
    return vc.explore(model), executions


@pytest.mark.pure_engine
@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_short_replays_find_what_quiet_replays_find(
        model: Model, replay_steps: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    short, short_runs = _explore(model, monkeypatch)
    assert replay_steps, "no step took the short path"
    monkeypatch.setattr(runner, "SHORT_REPLAY", False)
    quiet, quiet_runs = _explore(model, monkeypatch)
    assert _summary(short) == _summary(quiet)
    assert short_runs == quiet_runs  # each execution, each finding at the same step
    expected = {"uaf_in_prefix": "use-after-free", "abba_in_prefix": "deadlock",
                "sleep_in_atomic_in_prefix": "sleep-in-atomic",
                "checked_writes_in_prefix": "invariant"}.get(model.__name__)
    assert (expected in short.kinds()) if expected else not short.findings
    # and the findings of full replays (their outcomes may come first by other schedules)
    monkeypatch.setattr(modes, "REPLAY_QUIET", False)
    full = vc.explore(model)
    assert _summary(short)[:3] + _summary(short)[4:] == _summary(full)[:3] + _summary(full)[4:]


def make_diverging(diverge: str) -> Model:
    """A model that repeats itself on its first run only.  At step 3 later runs touch another
    variable (``objects``), end the thread before it (``gone``), park it in a wait loop that
    nothing wakes (``parked``), or touch the same variable, now outside the allocation it
    was in (``alloc``: one object fewer, which is not the check's observer)."""
    calls = itertools.count()

    def model() -> list[Any]:
        n = next(calls)
        a, b = vc.Var("a", 0), vc.Var("b", 0)
        obj = vc.Allocation("obj")
        c = vc.Var("c", 0, alloc=None if n and diverge == "alloc" else obj)
        vc.invariant("b stays small", lambda: b.peek() < 10, reads=[b])  # has an observer

        async def t() -> None:
            await a.store(1)
            if n and diverge == "parked":
                vc.loop_begin()
            await a.store(2)
            if n == 0 or diverge == "alloc":
                await c.store(3)
            elif diverge == "objects":
                await b.store(3)
            elif diverge == "parked":
                await vc.retry()
            else:
                return
            await a.store(4)
            await a.store(5)

        return [("t", t()), *_racers()]

    return model


@pytest.mark.pure_engine
@pytest.mark.parametrize(("diverge", "message"), [
    ("objects", "step 3: thread 0 touched different objects"),
    ("alloc", "step 3: thread 0 touched different objects"),
    ("gone", "step 3: thread 0 is not runnable"),
    ("parked", "step 3: thread 0 is not runnable"),
])
def test_a_short_replayed_step_that_differs_is_a_clear_error(
        diverge: str, message: str, replay_steps: list[int]) -> None:
    with pytest.raises(NondeterministicModel, match=message):
        vc.explore(make_diverging(diverge))
    assert 2 in replay_steps  # the third step took the short path


def breaks_a_check() -> list[Any]:
    x = vc.Var("x", 0)
    vc.invariant("x stays below 2", lambda: x.peek() < 2, reads=[x])

    async def t() -> None:
        await x.store(1)
        await x.store(2)  # breaks the check
        await x.store(3)

    return [("t", t()), *_racers()]


def test_a_check_broken_at_the_end_of_a_quiet_prefix_is_located_where_the_op_was_awaited(
        ) -> None:
    """Ops awaited in a quiet prefix note no site; the ones pending when its last step runs
    (whose checks run) are located from their threads then (``_note_pending_sites``)."""
    first, sched, _ = runner.run_one(breaks_a_check, runner.follow([]), max_steps=100,
                                     sites=False)
    [broken] = [f for f in first.findings if f.kind == "invariant"]
    assert first.check_failed_at == [2]
    again, _, _ = runner.run_one(breaks_a_check, runner.follow(sched), max_steps=100,
                                 sites=False, quiet_until=2, replayed=first.events,
                                 replayed_acyclic=first.cycle_from)
    [located] = [f for f in again.findings if f.kind == "invariant"]
    assert broken.location is not None and "breaks the check" in Path(
        broken.location.file).read_text().splitlines()[broken.location.line - 1]
    assert (located.location, located.step) == (broken.location, broken.step)
    first.close()
    again.close()
