"""A closed execution lets go of its model: shared variables forget their values and the
model's ``at_close`` functions run, so that a model whose objects point at each other is freed
by reference counting, not by the cyclic garbage collector (whose passes also traverse every
live object of the executions still running).  The explorer closes every execution it yields,
also the last one and one it was stopped at."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from vmacheck.explore import Var, at_close, explore, run
from vmacheck.explore.runner import YOUNG_COLLECTION_THRESHOLD, fewer_collections


class Node:
    """A model object that a shared variable points back at (a cycle through the variable),
    and that points at its peer through a plain attribute (a cycle ``at_close`` unlinks)."""

    def __init__(self, name: str) -> None:
        self.owner = Var(f"{name}.owner", self)
        self.peer: Node | None = None


def _model(closed: list[int], unlink: bool) -> Any:
    def model() -> list[Any]:
        a, b = Node("a"), Node("b")
        a.peer, b.peer = b, a
        last = Var("last", None)

        def close() -> None:
            closed.append(1)
            if unlink:
                a.peer = b.peer = None

        at_close(close)

        async def worker(n: Node) -> None:
            await last.store(n)

        return [("t0", worker(a)), ("t1", worker(b))]

    return model


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_every_explored_execution_is_closed() -> None:
    closed: list[int] = []
    r = explore(_model(closed, unlink=True), minimise=False)
    assert r.executions == 2  # the two stores to `last` conflict
    assert len(closed) == r.executions


def test_an_execution_the_explorer_stopped_at_is_closed() -> None:
    closed: list[int] = []
    r = explore(_model(closed, unlink=True), max_executions=1, minimise=False)
    assert r.executions == 1
    assert len(closed) == 1


def test_unlinked_executions_leave_no_cyclic_garbage(no_collector: None) -> None:
    explore(_model([], unlink=True), minimise=False)
    assert gc.collect() == 0


def test_a_cycle_left_linked_is_garbage_for_the_collector(no_collector: None) -> None:
    """The same model without unlinking its plain cycle: the collector has work (so the test
    above measures something)."""
    explore(_model([], unlink=False), minimise=False)
    assert gc.collect() > 0


def test_closed_variables_forget_their_values() -> None:
    seen: list[Var] = []

    def model() -> list[Any]:
        v = Var("v", object())
        seen.append(v)

        async def t() -> None:
            await v.load()

        return [("t", t())]

    explore(model, minimise=False)
    assert seen and all(v._value is None for v in seen)


def test_fewer_collections_raises_the_threshold_and_restores_it() -> None:
    old = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with fewer_collections():
            assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        gc.set_threshold(10 * YOUNG_COLLECTION_THRESHOLD, 5, 5)  # set higher: left alone
        with fewer_collections():
            assert gc.get_threshold() == (10 * YOUNG_COLLECTION_THRESHOLD, 5, 5)
        gc.set_threshold(0)  # collection switched off: left off
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*old)


def test_run_hands_back_model_objects_with_their_values() -> None:
    """``vmacheck.run`` returns what the threads returned: a model object keeps its values."""

    def model() -> list[Any]:
        v = Var("v", 0)

        async def t() -> Var:
            await v.store(42)
            return v

        return [("t", t())]

    (v,) = run(model).returns
    assert v._value == 42


def test_an_at_close_function_that_raises_is_a_warning_not_a_crash() -> None:
    def model() -> list[Any]:
        v = Var("v", 0)

        def broken() -> None:
            raise ValueError("model bug in cleanup")

        at_close(broken)

        async def t() -> None:
            await v.store(1)

        return [("t", t())]

    with pytest.warns(RuntimeWarning, match="broken raised ValueError: model bug in cleanup"):
        r = explore(model, minimise=False)
    assert r.executions == 1


def test_a_closed_execution_lets_go_of_the_run_it_replayed() -> None:
    from vmacheck.explore.runner import follow, run_one

    first, sched, _ = run_one(_model([], True), follow([]), max_steps=100)
    again, _, _ = run_one(_model([], True), follow(sched), max_steps=100,
                          quiet_until=len(sched), replayed=first.events)
    assert again.replayed is first.events and [e.fp for e in again.events] == [
        e.fp for e in first.events]
    again.close()
    assert again.replayed == ()
    first.close()
