"""Same model, same seed, same mode: the same executions in the same order, and the same
findings; for every mode."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck as vc


def racy_model() -> list[Any]:
    x = vc.Var("x", 0)
    m = vc.Mutex("m")
    done = vc.Var("done", 0)

    async def locked_inc() -> None:
        await m.lock()
        v = await x.load()
        await x.store(v + 1)
        await m.unlock()
        await done.fetch_add(1)

    async def unlocked_inc() -> None:
        v = await x.load()
        await x.store(v + 1)
        await done.fetch_add(1)

    async def checker() -> None:
        if await done.load() == 3:
            vc.WARN_ON(await x.load() != 3, "lost update")

    vc.outcome(lambda: f"x={x.peek()}")
    return [("a", locked_inc()), ("b", locked_inc()), ("c", unlocked_inc()),
            ("check", checker())]


BUDGET = {"dpor": None, "bounded": None, "random": 150, "pct": 150}


@pytest.mark.parametrize("mode", ["dpor", "random", "pct", "bounded"])
def test_same_seed_same_executions(mode: str) -> None:
    def run(seed: int) -> vc.Result:
        return vc.explore(racy_model, mode=mode, seed=seed, max_executions=BUDGET[mode],
                          keep_log=True, preemption_bound=1, pct_depth=3)

    first, second = run(11), run(11)
    assert len(first.execution_log) == first.executions > 20
    assert first.execution_log == second.execution_log
    assert [(f.kind, f.schedule, f.minimal_schedule) for f in first.findings] == \
        [(f.kind, f.schedule, f.minimal_schedule) for f in second.findings]
    assert first.outcomes == second.outcomes
    assert {"x=2", "x=3"} <= {o.label for o in first.outcomes}  # lost updates happen
    if mode in ("dpor", "bounded"):
        assert first.by_kind("assertion")  # and the exhaustive modes catch the WARN_ON
    other = run(12)
    if mode in ("random", "pct"):
        assert other.execution_log != first.execution_log
    else:  # exhaustive modes do not depend on the seed at all
        assert other.execution_log == first.execution_log


def test_dpor_log_has_distinct_schedules_and_matches_replay() -> None:
    r = vc.explore(racy_model, keep_log=True)
    assert r.complete
    assert len(set(r.execution_log)) == r.executions
    # every logged schedule replays to completion in the same number of steps
    for sched in r.execution_log[:20]:
        rep = vc.replay(racy_model, sched)
        assert rep.schedule == sched
