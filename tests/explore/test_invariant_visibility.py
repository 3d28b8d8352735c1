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


class Flags:
    """Two flags made on first use (``lazy_field``): a check can name them by id."""

    x = vc.lazy_field(0, lambda f, oid: vc.Var("x", 0, oid=oid))
    y = vc.lazy_field(1, lambda f, oid: vc.Var("y", 0, oid=oid))

    def __init__(self) -> None:
        from vmacheck.explore.ops import current

        self._oid_base = current().reserve(2)
        vc.make_fields(self)


def two_lazy_flags(by_id: bool) -> Any:
    def model() -> list[Any]:
        f = Flags()
        reads: list[Any] = [Flags.x.id_of(f), Flags.y.id_of(f)] if by_id else []

        async def a() -> None:
            await f.x.store(1)
            await f.x.store(0)

        async def b() -> None:
            await f.y.store(1)
            await f.y.store(0)

        def both_set() -> bool:
            made = [Flags.x.made(f), Flags.y.made(f)]
            return not all(v is not None and v.peek() == 1 for v in made)

        vc.invariant("x and y are never both set", both_set, reads=reads or None)
        return [("a", a()), ("b", b())]

    return model


def test_reads_by_id_of_objects_not_made_yet_make_every_state_explored() -> None:
    r = vc.explore(two_lazy_flags(by_id=True))
    assert r.complete and r.kinds() == {"invariant"}
    f = r.by_kind("invariant")[0]
    assert "x=1" in f.extra.get("values", "") and "y=1" in f.extra.get("values", "")
    # named by id or not at all: without the ids only one interleaving is explored
    r = vc.explore(two_lazy_flags(by_id=False))
    assert r.complete and r.executions == 1 and not r.findings
