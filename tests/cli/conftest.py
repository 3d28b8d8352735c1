"""A tiny scenario registered for command-line tests, independent of the kernel models."""

from __future__ import annotations

import pytest

import vmacheck as vc
from vmacheck.scenarios import catalogue


def lost_update() -> list[object]:
    """Two threads increment a counter without a lock; the invariant wants both updates."""
    x = vc.Var("counter", 0)

    async def inc() -> None:
        t = await x.load()
        await x.store(t + 1)

    vc.invariant("both increments land", lambda: x.peek() == 2, at_end=True)
    vc.outcome(lambda: f"counter={x.peek()}")
    return [("inc/0", inc()), ("inc/1", inc())]


def spin_forever() -> list[object]:
    """Two threads that never finish: each keeps changing what the other waits for."""
    flag = vc.Var("flag", 0)

    async def flip(mine: int) -> None:
        while True:
            vc.loop_begin()
            await flag.store(mine)
            if await flag.load() == 99:
                break
            await vc.retry()

    return [("flip/0", flip(0)), ("flip/1", flip(1))]


@pytest.fixture(scope="session", autouse=True)
def cli_scenarios() -> None:
    catalogue.load_all()
    for name, build, summary in (
        ("test-lost-update", lost_update, "test fixture: an unlocked counter"),
        ("test-spin-forever", spin_forever, "test fixture: a livelock"),
    ):
        if name not in catalogue._SCENARIOS:
            catalogue.register(catalogue.Scenario(name, summary, build, group="test",
                                                  max_steps=200))
