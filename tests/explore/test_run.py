"""vmacheck.run: one run with the default schedule, and when per-step checks are re-run."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck as vc
from vmacheck.explore import checking
from vmacheck.explore.context import hold, unhold
from vmacheck.explore.ops import current


def counter_model(bug: bool) -> Any:
    def model() -> list[Any]:
        lock = vc.Mutex("lock")
        n = vc.Var("n", 0)

        async def driver() -> int:
            for _ in range(20):
                await lock.lock()
                v = await n.load()
                await n.store(v + (2 if bug and v == 10 else 1))
                await lock.unlock()
            return int(await n.load())

        vc.invariant("n stays below 15 while the lock is free",
                     lambda: lock.owner is not None or n.peek() < 15 or not bug)
        vc.outcome(lambda: f"n={n.peek()}")
        return [("driver", driver())]

    return model


def test_run_returns_outcome_and_thread_results() -> None:
    r = vc.run(counter_model(False))
    assert r.ok and r.outcome == "n=20" and r.returns == (20,)
    assert r.steps == 20 * 4 + 1
    assert r.schedule == f"0*{r.steps}"


def test_run_reports_an_invariant_where_explore_does() -> None:
    r = vc.run(counter_model(True))
    e = vc.explore(counter_model(True))
    assert [f.kind for f in r.findings] == ["invariant"]
    assert r.findings[0].location == e.findings[0].location
    assert r.findings[0].location is not None
    assert r.findings[0].location.function == "driver"


def test_run_reports_deadlock_and_assertion() -> None:
    def model() -> list[Any]:
        a = vc.Mutex("a")

        async def t() -> None:
            await a.lock()
            vc.BUG_ON(True, "boom")

        return [("t", t())]

    assert vc.run(model).kinds() == {"assertion"}


def held_state_model() -> list[Any]:
    """The check reads what a thread holds; the hold happens after a read-only step."""
    flag = vc.Var("flag", 0)

    async def reader() -> None:
        await flag.load()
        hold("token", "token")  # thread code after a step that writes nothing
        await flag.load()
        unhold("token")

    async def other() -> None:
        await flag.load()

    def nobody_holds() -> bool:
        return not any(t.held for t in current().threads)

    vc.invariant("nobody holds the token", nobody_holds)
    return [("reader", reader()), ("other", other())]


def test_a_change_of_held_resources_reruns_checks() -> None:
    r = vc.explore(held_state_model)
    assert [f.message for f in r.findings] == ["invariant violated: nobody holds the token"]


@pytest.mark.parametrize("model", [counter_model(True), held_state_model])
def test_checks_when_something_changed_find_what_every_step_checks_find(
        model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    gated = vc.explore(model)
    monkeypatch.setattr(checking, "CHECK_EVERY_STEP", True)
    every = vc.explore(model)
    assert [(f.kind, f.message, f.location, f.minimal_schedule) for f in gated.findings] == \
        [(f.kind, f.message, f.location, f.minimal_schedule) for f in every.findings]
    assert gated.executions == every.executions
