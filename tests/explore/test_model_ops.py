"""Ops and shared objects a model defines itself (derived from ``vc.Op`` and ``vc.Var`` in
model code, as the kernel models and variant files do) are obeyed by the engine, whether its
compiled modules run or their source: the flags set in the class body or as properties, and
the methods the model overrides."""

from __future__ import annotations

from typing import Any

import vmacheck as vc


class WaitNonZero(vc.Op):
    """Sleeps until ``var`` is non-zero, then reads it (``wait_event``-like)."""

    __slots__ = ("var",)
    blocking = True
    sleeps = True

    def __init__(self, var: vc.Var) -> None:
        self.var = var

    def footprint(self, ex: Any, tid: int) -> Any:
        return self.var.fp(False)

    def enabled(self, ex: Any, tid: int) -> bool:
        return self.var._value != 0

    def enabled_on(self, oid: int, snap: object, ex: Any, tid: int) -> bool:
        if oid == self.var.oid and isinstance(snap, tuple):
            return snap[0] != 0
        return self.enabled(ex, tid)

    def execute(self, ex: Any, tid: int) -> Any:
        return self.var._value


class WaitNonZeroByProperty(WaitNonZero):
    """The same op with ``blocking`` given by a property of the instance."""

    __slots__ = ("waits",)

    def __init__(self, var: vc.Var) -> None:
        super().__init__(var)
        self.waits = True

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.waits


def waiter_model(op: type[WaitNonZero]) -> list[Any]:
    x = vc.Var("x", 0)
    got = vc.Var("got", None)
    vc.outcome(lambda: f"read {got.peek()}")

    async def waiter() -> None:
        await got.store(await op(x))

    async def setter() -> None:
        await x.store(1)

    return [("waiter", waiter()), ("setter", setter())]


def test_a_blocking_op_of_the_model_waits() -> None:
    for op in (WaitNonZero, WaitNonZeroByProperty):
        r = vc.explore(lambda op=op: waiter_model(op))
        assert r.complete and r.ok, (op, r.findings)
        # the waiter never reads the 0 it waits to leave: the op ran only once enabled
        assert r.executions == 1  # the waiter can only run after the store
        assert [o.label for o in r.outcomes] == ["read 1"], (op, r.outcomes)


def test_a_sleeping_op_of_the_model_in_atomic_context_is_reported() -> None:
    def model() -> list[Any]:
        x = vc.Var("x", 1)
        lock = vc.SpinLock("lock")

        async def t() -> None:
            await lock.lock()
            await WaitNonZero(x)
            await lock.unlock()

        return [("t", t())]

    r = vc.explore(model)
    assert {f.kind for f in r.findings} == {"sleep-in-atomic"}


class CountingVar(vc.Var):
    """A variable of the model that counts its snapshots (an overridden method)."""

    __slots__ = ("snaps",)

    def __init__(self, name: str, value: Any) -> None:
        super().__init__(name, value)
        self.snaps = 0

    def snapshot(self) -> object:
        self.snaps += 1
        return super().snapshot()


def test_a_variable_class_of_the_model_has_its_methods_called() -> None:
    made: list[CountingVar] = []

    def model() -> list[Any]:
        x = CountingVar("x", 0)
        made.append(x)

        async def a() -> None:
            await x.store(1)

        async def b() -> None:
            await x.store(2)

        return [("a", a()), ("b", b())]

    r = vc.explore(model)
    assert r.executions == 2
    assert sum(v.snaps for v in made) > 0  # the explorer asked the model's snapshot()
