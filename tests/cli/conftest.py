"""A tiny scenario registered for command-line tests, independent of the kernel models."""

from __future__ import annotations

import os

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


def slow_to_minimise() -> list[object]:
    """Three threads that note each time another one wrote last, with slow local work
    between steps.  The check allows at most 12 such switches: a random interleaving makes
    far more, but more than 12 needs many preemptions, so minimising (which tries few
    preemptions first, re-running the slow model each time) takes many seconds."""
    builds = os.environ.get("VMACHECK_TEST_BUILDS")
    if builds:  # a test waits on it: one line per run of the model
        with open(builds, "a") as f:
            f.write("built\n")
    last = vc.Var("last writer", -1)
    seen = vc.Var("switches seen", 0)

    async def worker(me: int) -> None:
        for _ in range(40):
            w = await last.load()
            sum(range(1_000_000))  # local work between two shared accesses
            if w not in (-1, me):
                await seen.fetch_add(1)
            await last.store(me)

    vc.invariant("at most 12 switches", lambda: seen.peek() <= 12, at_end=True)
    return [("worker/0", worker(0)), ("worker/1", worker(1)), ("worker/2", worker(2))]


def clean_counter() -> list[object]:
    """Two locked increments: no finding."""
    x = vc.Var("counter", 0)
    lock = vc.Mutex("lock")

    async def inc() -> None:
        await lock.lock()
        t = await x.load()
        await x.store(t + 1)
        await lock.unlock()

    vc.invariant("all increments land", lambda: x.peek() == 3, at_end=True)
    return [("inc/0", inc()), ("inc/1", inc()), ("inc/2", inc())]


EXPECTED_LOST_UPDATE = catalogue.Expected(
    "invariant", "test fixture: the lost update is what this scenario shows",
    message="both increments land")
EXPECTED_NEVER = catalogue.Expected(
    "deadlock", "test fixture: an expectation the model never meets")


def fixture_scenarios() -> list[catalogue.Scenario]:
    return [
        catalogue.Scenario("test-lost-update", "test fixture: an unlocked counter",
                           lost_update, group="test", max_steps=200),
        catalogue.Scenario("test-spin-forever", "test fixture: a livelock", spin_forever,
                           group="test", max_steps=200),
        catalogue.Scenario("test-slow-minimise", "test fixture: slow to minimise",
                           slow_to_minimise, group="test", max_steps=2000),
        catalogue.Scenario("test-clean", "test fixture: locked counter", clean_counter,
                           group="test", max_steps=200),
        catalogue.Scenario("test-expected-lost-update", "test fixture: expected finding",
                           lost_update, group="test", max_steps=200,
                           expected=(EXPECTED_LOST_UPDATE,)),
        catalogue.Scenario("test-expected-gone", "test fixture: expected finding gone",
                           lost_update, group="test", max_steps=200,
                           expected=(EXPECTED_LOST_UPDATE, EXPECTED_NEVER)),
    ]


def register_fixtures() -> None:
    catalogue.load_all()
    for s in fixture_scenarios():
        if s.name not in catalogue._SCENARIOS:
            catalogue.register(s)


@pytest.fixture(scope="session", autouse=True)
def cli_scenarios() -> None:
    register_fixtures()


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's saved check goes to its own folder."""
    monkeypatch.setenv("VMACHECK_CACHE_DIR", str(tmp_path))
