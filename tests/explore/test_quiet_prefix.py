"""The checks of the initial state under quiet replays: an execution that replays a prefix
run and checked before skips them (they passed in the run replayed), and an initial state
that breaks a check is still reported by every execution."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck as vc
from vmacheck.explore import modes
from vmacheck.explore.ops import current

CALLS: list[int] = []


def model(broken_at_start: bool) -> Any:
    def build() -> list[Any]:
        x = vc.Var("x", -1 if broken_at_start else 0)
        y = vc.Var("y", 0)

        def x_not_negative() -> bool:
            CALLS.append(len(current().events))
            return x.peek() >= 0

        vc.invariant("x is not negative", x_not_negative, reads=[x])

        async def fixer() -> None:
            await x.store(1)
            await y.store(1)

        async def other() -> None:
            await y.store(2)
            await y.load()

        return [("fixer", fixer()), ("other", other())]

    return build


def test_an_initial_state_that_breaks_a_check_is_reported_by_every_execution(
        monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = vc.explore(model(True), minimise=False)
    assert quiet.executions > 1
    [f] = quiet.findings
    assert f.kind == "invariant" and f.occurrences == quiet.executions
    monkeypatch.setattr(modes, "REPLAY_QUIET", False)
    full = vc.explore(model(True), minimise=False)
    assert [(g.kind, g.occurrences) for g in full.findings] == [(f.kind, f.occurrences)]


def test_quiet_replays_skip_the_checks_of_the_initial_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    CALLS.clear()
    r = vc.explore(model(False), minimise=False)
    assert not r.findings and r.executions > 1
    at_build = CALLS.count(0)
    assert at_build == 1  # the first execution's; the others replay a checked prefix
    CALLS.clear()
    monkeypatch.setattr(modes, "REPLAY_QUIET", False)
    full = vc.explore(model(False), minimise=False)
    assert full.executions == r.executions and CALLS.count(0) == r.executions
