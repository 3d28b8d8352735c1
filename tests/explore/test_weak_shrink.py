"""Findings under the weak memory model: the minimised schedule, with the reads-from and
coherence choices it records (``tid:value``), replays to the same finding.

A finding that needs a load to read an older store must keep that choice through
minimisation: the minimiser reorders and drops steps, so a choice value (an index among the
messages visible at that step) may come to mean another message; what it returns must be a
schedule and choice values that reach the finding again.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vmacheck as vc
from vmacheck.explore.findings import normalise_message


def message_passing_with_noise() -> list[Any]:
    """MP without barriers, plus stores and loads of an unrelated variable in every thread
    (steps the minimiser can drop or move) and a third thread."""
    data = vc.Var("data", 0)
    flag = vc.Var("flag", 0)
    noise = vc.Var("noise", 0)

    async def writer() -> None:
        await noise.store(1, mode="once")
        await data.store(1, mode="once")
        await noise.store(2, mode="once")
        await flag.store(1, mode="once")

    async def reader() -> None:
        await noise.load(mode="once")
        f = await flag.load(mode="once")
        await noise.load(mode="once")
        if f:
            d = await data.load(mode="once")
            vc.WARN_ON(d == 0, "flag set but data not")

    async def bystander() -> None:
        await noise.store(3, mode="once")
        await noise.load(mode="once")

    return [("writer", writer()), ("reader", reader()), ("bystander", bystander())]


def _key(f: Any) -> tuple[str, str, str]:
    return f.kind, f.message, f.thread


def _bug(f: Any) -> tuple[str, str]:
    """What makes two findings one bug, as the explorer groups them (ids blanked)."""
    return f.kind, normalise_message(f.message)


def test_minimised_weak_finding_replays_to_the_same_finding() -> None:
    result = vc.explore(message_passing_with_noise, memory_model="weak")
    assert [(f.kind, f.message) for f in result.findings] == [
        ("assertion", "WARN_ON(flag set but data not)")]
    f = result.findings[0]
    assert ":" in f.minimal_schedule  # the reader's load of data reads the older store
    assert f.context_switches <= f.original_context_switches
    rep = vc.replay(message_passing_with_noise, f.minimal_schedule, memory_model="weak")
    assert [_key(x) for x in rep.findings] == [_key(f)]
    # the same thread ids under sequential consistency: every load reads the latest store
    assert vc.replay(message_passing_with_noise, f.minimal_schedule,
                     memory_model="sc").findings == ()
    assert vc.explore(message_passing_with_noise, memory_model="sc").findings == ()


NVARS = 2
Item = tuple[Any, ...]
item = st.one_of(
    st.tuples(st.just("load"), st.integers(0, NVARS - 1), st.sampled_from(["once", "acquire"])),
    st.tuples(st.just("store"), st.integers(0, NVARS - 1), st.sampled_from(["once", "release"])),
    st.tuples(st.just("rmw"), st.integers(0, NVARS - 1), st.sampled_from(["relaxed", "mb"])),
    st.tuples(st.just("fence"), st.sampled_from(["mb", "rmb", "wmb"])),
)
programs = st.lists(st.lists(item, min_size=1, max_size=3), min_size=2, max_size=3).filter(
    lambda p: sum(len(t) for t in p) <= 6)


def build(program: list[list[Item]]) -> Any:
    """Each thread runs its items, then WARN_ONs if one of its loads read 0 from a variable
    some thread stores to: a finding in some executions only (in the shapes below, only
    when a load reads an older store)."""
    stored = {it[1] for items in program for it in items if it[0] in ("store", "rmw")}

    def model() -> list[Any]:
        xs = [vc.Var(f"x{i}", 0) for i in range(NVARS)]

        def thread(tid: int, items: list[Item]) -> Any:
            async def run() -> None:
                stale = False
                for k, it in enumerate(items):
                    if it[0] == "load":
                        v = await xs[it[1]].load(mode=it[2])
                        stale = stale or (v == 0 and it[1] in stored)
                    elif it[0] == "store":
                        await xs[it[1]].store(10 * (tid + 1) + k, mode=it[2])
                    elif it[0] == "rmw":
                        await xs[it[1]].fetch_add(1, mode=it[2])
                    else:
                        await {"mb": vc.smp_mb, "rmb": vc.smp_rmb, "wmb": vc.smp_wmb}[it[1]]()
                vc.WARN_ON(stale, f"t{tid} read an initial value")
            return run()

        return [(f"t{i}", thread(i, items)) for i, items in enumerate(program)]

    return model


def check_replays(program: list[list[Item]]) -> list[str]:
    """Explore ``program`` under the weak model; every finding's minimal and original
    schedules replay to it.  Returns the minimal schedules."""
    model = build(program)
    result = vc.explore(model, memory_model="weak")
    assert result.complete
    for f in result.findings:
        rep = vc.replay(model, f.minimal_schedule, memory_model="weak")
        assert _key(f) in [_key(x) for x in rep.findings], f.minimal_schedule
        # the original schedule is the first execution that showed the bug; the same check
        # at the same place may have fired there in another thread (one bug, other ids)
        original = vc.replay(model, f.schedule, memory_model="weak")
        assert _bug(f) in [_bug(x) for x in original.findings], f.schedule
    return [f.minimal_schedule for f in result.findings]


# Message passing without the reader's ordering: the reader sees the new flag and then the
# old data only when its second load reads an older store.
WEAK_ONLY = [
    [[("store", 0, "once"), ("store", 1, "once")],
     [("load", 1, "once"), ("load", 0, "once")]],
    [[("store", 0, "once"), ("fence", "wmb"), ("store", 1, "once")],
     [("load", 1, "once"), ("load", 0, "once")]],
    [[("store", 0, "once"), ("store", 1, "release")],
     [("load", 1, "once"), ("load", 0, "once")]],
]


def _weak_only(program: list[list[Item]]) -> Any:
    """The last thread WARN_ONs if it read a non-zero value and then 0."""
    def model() -> list[Any]:
        xs = [vc.Var(f"x{i}", 0) for i in range(NVARS)]

        def thread(tid: int, items: list[Item]) -> Any:
            async def run() -> None:
                values = []
                for it in items:
                    if it[0] == "load":
                        values.append(await xs[it[1]].load(mode=it[2]))
                    elif it[0] == "store":
                        await xs[it[1]].store(1, mode=it[2])
                    else:
                        await vc.smp_wmb()
                if tid == len(program) - 1:
                    vc.WARN_ON(values == [1, 0], "new flag, old data")
            return run()

        return [(f"t{i}", thread(i, items)) for i, items in enumerate(program)]

    return model


def test_weak_only_findings_keep_their_choices_through_minimising() -> None:
    for program in WEAK_ONLY:
        model = _weak_only(program)
        assert vc.explore(model, memory_model="sc").findings == ()
        result = vc.explore(model, memory_model="weak")
        assert [f.message for f in result.findings] == ["WARN_ON(new flag, old data)"]
        f = result.findings[0]
        assert ":" in f.minimal_schedule
        rep = vc.replay(model, f.minimal_schedule, memory_model="weak")
        assert [_key(x) for x in rep.findings] == [_key(f)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_every_minimised_weak_finding_replays(program: list[list[Item]]) -> None:
    check_replays(program)


def test_a_minimal_schedule_that_does_not_replay_is_not_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """If the minimiser returned a schedule that misses the finding (here: its choice values
    dropped, so every load reads the latest store), the original schedule is reported."""
    api = importlib.import_module("vmacheck.explore.api")
    real = api.shrink

    def forgetful(*args: Any, **kwargs: Any) -> tuple[list[int], dict[int, int]]:
        sched, _ = real(*args, **kwargs)
        return sched, {}

    monkeypatch.setattr(api, "shrink", forgetful)
    result = vc.explore(message_passing_with_noise, memory_model="weak")
    f = result.findings[0]
    assert ":" in f.minimal_schedule  # the original's choice: the finding needs it
    rep = vc.replay(message_passing_with_noise, f.minimal_schedule, memory_model="weak")
    assert [_key(x) for x in rep.findings] == [_key(f)]


def conditional_store_and_counter() -> list[Any]:
    """t1 stores to x0 again only if its load of x0 read t0's store (a weak-model choice that
    changes which ops run); every thread counts itself finished at its end."""
    x0 = vc.Var("x0", 0)
    x1 = vc.Var("x1", 0)
    done = vc.Var("done", 0)

    async def t0() -> None:
        await x0.store(1, mode="once")
        await done.fetch_add(1)

    async def t1() -> None:
        if await x0.load(mode="once"):
            await x0.store(6, mode="once")
        await x1.store(2, mode="once")
        await done.fetch_add(1)

    vc.invariant("every thread finished", lambda: done.peek() == 2, at_end=True)
    return [("t0", t0()), ("t1", t1())]


def test_sleep_set_blocked_weak_executions_report_no_end_findings() -> None:
    """The unbalanced binder page reference reported under weak with the vm_refcnt orderings
    (a minimal schedule that did not replay) was an end-of-execution check run on a
    sleep-set-blocked prefix, whose threads had not finished.  Here DPOR blocks one execution
    part way; the end check must not run on it, and every outcome replays."""
    result = vc.explore(conditional_store_and_counter, memory_model="weak")
    assert result.complete and result.blocked >= 1
    assert result.findings == ()
    for o in result.outcomes:
        rep = vc.replay(conditional_store_and_counter, o.schedule, memory_model="weak")
        assert rep.outcome == o.label and rep.findings == ()
