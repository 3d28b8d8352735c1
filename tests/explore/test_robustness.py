"""A broken model yields findings or a clear error, never a crash or a hang of the tool;
preemption bounds; budgets and stop reasons."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import vmacheck as vc
from vmacheck.explore import NondeterministicModel

# --------------------------------------------------------------------------- broken models


def raising_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def early() -> None:
        raise RuntimeError("boom before the first op")

    async def late() -> None:
        if await x.load() == 1:
            raise KeyError("late boom")

    async def writer() -> None:
        await x.store(1)

    vc.outcome(lambda: 1 / 0)  # a broken outcome function is reported in the label
    vc.invariant("broken check", lambda: [][0])  # and a broken invariant is a finding
    return [("early", early()), ("late", late()), ("writer", writer())]


def test_raising_threads_are_findings() -> None:
    r = vc.explore(raising_model)
    assert r.complete and r.executions == 2
    messages = {f.thread: f.message for f in r.by_kind("exception")}
    assert messages == {"early": "RuntimeError: boom before the first op",
                        "late": "KeyError: 'late boom'"}
    inv = r.by_kind("invariant")
    assert len(inv) == 1 and "IndexError" in inv[0].message
    assert all("outcome raised ZeroDivisionError" in o.label for o in r.outcomes)


def infinite_loop_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def spinner() -> None:
        while True:  # spins on awaited loads forever (no retry(): a busy loop)
            if await x.load() == 1:
                vc.BUG_ON(True, "saw the store")

    async def writer() -> None:
        await x.store(1)

    return [("spinner", spinner()), ("writer", writer())]


def test_infinite_loop_is_a_step_limit_finding_not_a_hang() -> None:
    r = vc.explore(infinite_loop_model, max_steps=100)
    assert r.stop_reason == "exhausted"
    # the first execution runs the spinner until the step limit cuts it; an execution cut
    # short is taken as it is (DPOR does not race the ops that never got to run)
    limit = r.by_kind("step-limit")
    assert len(limit) == 1
    assert limit[0].thread == "spinner" and "exceeded 100 steps" in limit[0].message
    rep = vc.replay(infinite_loop_model, limit[0].minimal_schedule, max_steps=100)
    assert rep.steps == 100 and [f.kind for f in rep.findings] == ["step-limit"]
    # with the writer first, the spinner sees the store
    r = vc.explore(lambda: infinite_loop_model()[::-1], max_steps=100)
    assert "assertion" in r.kinds()


def test_infinite_loop_in_sampling_modes() -> None:
    for mode in ("random", "pct", "bounded"):
        r = vc.explore(infinite_loop_model, mode=mode, max_steps=50, max_executions=30,
                       minimise=False)
        assert "step-limit" in r.kinds() or "assertion" in r.kinds()
        assert r.executions <= 30


def deadlock_model() -> list[Any]:
    m = vc.Mutex("m")
    done = vc.Var("done", 0)

    async def forgetful() -> None:
        await m.lock()
        while True:
            vc.loop_begin()
            if await done.load():
                break
            await vc.retry()  # waits for `done`, which nobody will set
        await m.unlock()

    async def other() -> None:
        await m.lock()
        await m.unlock()

    return [("forgetful", forgetful()), ("other", other())]


def test_deadlock_is_a_finding() -> None:
    r = vc.explore(deadlock_model)
    assert r.complete
    dl = r.by_kind("deadlock")
    assert dl and all("forgetful" in f.message for f in dl)


def test_non_coroutine_model_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="coroutines"):
        vc.explore(lambda: [lambda: None])
    with pytest.raises(ValueError, match="no threads"):
        vc.explore(lambda: [])


def awaits_foreign_object_model() -> list[Any]:
    class Foreign:
        def __await__(self) -> Any:
            yield "not an op"

    async def t() -> None:
        await Foreign()

    return [("t", t())]


def test_awaiting_a_foreign_object_is_a_finding() -> None:
    r = vc.explore(awaits_foreign_object_model)
    assert [f.kind for f in r.findings] == ["exception"]
    assert "non-vmacheck" in r.findings[0].message


# --------------------------------------------------------------------------- nondeterminism


def make_nondeterministic_objects() -> Any:
    calls = itertools.count()

    def model() -> list[Any]:
        n = next(calls)
        xs = [vc.Var("a", 0), vc.Var("b", 0)]

        async def t() -> None:
            await xs[n % 2].store(1)  # touches a different variable on every other run
            await xs[0].load()

        async def u() -> None:
            await xs[0].store(2)

        return [("t", t()), ("u", u())]

    return model


def make_nondeterministic_threads() -> Any:
    calls = itertools.count()

    def model() -> list[Any]:
        n = next(calls)
        x = vc.Var("x", 0)

        async def t() -> None:
            await x.store(1)

        threads = [("t", t()), ("u", t())]
        if n % 2:
            threads.append(("v", t()))
        return threads

    return model


def test_nondeterministic_model_is_a_clear_error() -> None:
    with pytest.raises(NondeterministicModel, match="touched different objects"):
        vc.explore(make_nondeterministic_objects())
    with pytest.raises(NondeterministicModel, match="same state on every run"):
        vc.explore(make_nondeterministic_threads())


def make_nondeterministic_later(diverge: str) -> Any:
    """A model that repeats its first step but not its second (``diverge``: touches another
    variable, or the thread is gone): the second run replays that step quietly."""
    calls = itertools.count()

    def model() -> list[Any]:
        n = next(calls)
        a, b, c = vc.Var("a", 0), vc.Var("b", 0), vc.Var("c", 0)

        async def t() -> None:
            await a.store(1)
            if n == 0:
                await a.store(2)
            elif diverge == "objects":
                await b.store(2)
            else:
                return  # gone before its second step
            await c.load()  # races with u: the second run replays t's first two steps

        async def u() -> None:
            await c.store(1)

        return [("t", t()), ("u", u())]

    return model


@pytest.mark.parametrize(("diverge", "message"), [
    ("objects", "step 2: thread 0 touched different objects"),
    ("gone", "step 2: thread 0 is not runnable"),
])
def test_a_replayed_step_that_differs_is_a_clear_error(diverge: str, message: str) -> None:
    with pytest.raises(NondeterministicModel, match=message):
        vc.explore(make_nondeterministic_later(diverge))


# --------------------------------------------------------------------------- preemption bound


def one_preemption_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def writer() -> None:
        await x.store(1)
        await x.store(2)

    async def checker() -> None:
        vc.BUG_ON(await x.load() == 1, "saw the intermediate value")

    return [("writer", writer()), ("checker", checker())]


def test_preemption_bounded_needs_exactly_one_preemption() -> None:
    r0 = vc.explore(one_preemption_model, mode="bounded", preemption_bound=0)
    assert r0.findings == () and r0.stop_reason == "exhausted"
    assert not r0.complete  # a bounded search is not a proof
    r1 = vc.explore(one_preemption_model, mode="bounded", preemption_bound=1)
    f = r1.by_kind("assertion")
    assert len(f) == 1 and f[0].thread == "checker" and f[0].context_switches == 1
    assert r1.executions > r0.executions


# --------------------------------------------------------------------------- budgets


def many_traces_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def inc() -> None:
        for _ in range(3):
            v = await x.load()
            await x.store(v + 1)

    return [("a", inc()), ("b", inc()), ("c", inc())]


def test_max_executions_budget() -> None:
    r = vc.explore(many_traces_model, max_executions=25)
    assert r.executions == 25
    assert not r.complete and r.stop_reason == "max_executions"


def test_max_seconds_budget() -> None:
    r = vc.explore(many_traces_model, max_seconds=0.2)
    assert not r.complete and r.stop_reason == "max_seconds"
    assert 0.2 <= r.seconds < 2.0
    r = vc.explore(many_traces_model, mode="random", max_seconds=0.1)
    assert not r.complete and r.stop_reason == "max_seconds"


def test_interrupt_returns_partial_result() -> None:
    def progress(p: vc.Progress) -> None:
        raise KeyboardInterrupt

    r = vc.explore(many_traces_model, progress=progress, progress_every=0.0)
    assert not r.complete and r.stop_reason == "interrupted" and r.executions >= 1


def test_exhausted_dpor_is_complete() -> None:
    r = vc.explore(one_preemption_model)
    assert r.complete and r.stop_reason == "exhausted" and r.executions == 3


def test_sampling_modes_need_a_budget_and_modes_are_checked() -> None:
    for mode in ("random", "pct"):
        with pytest.raises(ValueError, match="max_executions or max_seconds"):
            vc.explore(one_preemption_model, mode=mode)
    with pytest.raises(ValueError, match="unknown mode"):
        vc.explore(one_preemption_model, mode="bfs")
