"""Per-step invariants and partial-order reduction: ``reads=`` makes the states a check can
observe exhaustive; without it only the explored interleavings' states are checked."""

from __future__ import annotations

from typing import Any

import vmacheck as vc


def two_flags(reads: bool) -> Any:
    def model() -> list[Any]:
        x = vc.Var("x", 0)
        y = vc.Var("y", 0)

        async def a() -> None:
            await x.store(1)
            await x.store(0)

        async def b() -> None:
            await y.store(1)
            await y.store(0)

        vc.invariant("x and y are never both set",
                     lambda: not (x.peek() == 1 and y.peek() == 1),
                     reads=[x, y] if reads else None)
        return [("a", a()), ("b", b())]

    return model


def test_reads_makes_every_observable_state_explored() -> None:
    r = vc.explore(two_flags(reads=True))
    assert r.complete
    assert r.kinds() == {"invariant"}
    f = r.by_kind("invariant")[0]
    assert any(x.kind == "invariant" for x in vc.replay(two_flags(True),
                                                         f.minimal_schedule).findings)


def test_without_reads_independent_writes_are_not_reordered() -> None:
    # documented limitation: one interleaving per trace, so the state x=1,y=1 is not seen
    r = vc.explore(two_flags(reads=False))
    assert r.complete and r.executions == 1
    assert not r.findings


def test_at_end_checks_need_no_reads() -> None:
    def model() -> list[Any]:
        x = vc.Var("x", 0)

        async def inc() -> None:
            t = await x.load()
            await x.store(t + 1)

        vc.invariant("both increments", lambda: x.peek() == 2, at_end=True)
        return [inc(), inc()]

    assert vc.explore(model).kinds() == {"invariant"}
