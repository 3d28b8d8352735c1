"""Ctrl-C is never lost: a KeyboardInterrupt that model code swallows still stops the
exploration at the next execution (``vmacheck.explore.interrupt``)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

import vmacheck as vc


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt here, as in an interactive process (a shell running the
    tests in the background makes them ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def swallowing(at_build: int) -> Any:
    """A model whose thread, in the ``at_build``-th execution, receives Ctrl-C inside a
    ``try``/``except BaseException`` that swallows it."""
    builds = [0]

    def model() -> list[Any]:
        builds[0] += 1
        n = builds[0]
        x = vc.Var("x", 0)

        async def t(v: int) -> None:
            if n == at_build and v == 1:
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    for _ in range(1000):  # bytecode for the handler to run in
                        pass
                except BaseException:
                    pass
            await x.store(v)
            await x.store(v + 1)

        return [("a", t(1)), ("b", t(5))]

    return model


def test_a_ctrl_c_that_model_code_swallows_still_stops_the_exploration() -> None:
    r = vc.explore(swallowing(at_build=20), mode="random", max_executions=3000,
                   minimise=False)
    assert r.stop_reason == "interrupted"
    assert 19 <= r.executions <= 21


def test_the_next_exploration_is_not_interrupted_by_the_last_ctrl_c() -> None:
    vc.explore(swallowing(at_build=5), mode="random", max_executions=3000, minimise=False)
    r = vc.explore(swallowing(at_build=-1), minimise=False)
    assert r.stop_reason == "exhausted" and r.complete
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
