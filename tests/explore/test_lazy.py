"""Shared objects made on first use (``lazy_field``): ids reserved when the model is built,
objects made only when read, the same ids whatever the schedule."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck as vc
from vmacheck.explore.core import Execution
from vmacheck.explore.lazy import lazy_field, make_fields
from vmacheck.explore.ops import Allocation, current
from vmacheck.explore.runner import follow, run_one

MADE: list[str] = []


def _made(name: str, oid: int, value: int, alloc: Any = None) -> vc.Var:
    MADE.append(name)
    return vc.Var(name, value, alloc=alloc, oid=oid)


class Box:
    """A model object with a memory and two fields, all made on first use."""

    memory = lazy_field(0, lambda b, oid: Allocation(b.name, oid=oid))
    left = lazy_field(1, lambda b, oid: _made(f"{b.name}.left", oid, 0, b.memory))
    right = lazy_field(2, lambda b, oid: _made(f"{b.name}.right", oid, 10, b.memory))

    def __init__(self, name: str) -> None:
        self.name = name
        self._oid_base = current().reserve(3)
        make_fields(self)


def boxes_model() -> list[Any]:
    a = Box("a")
    b = Box("b")
    flag = vc.Var("flag", 0)

    async def first() -> None:
        await flag.load()
        await b.right.store(11)  # b's fields before a's
        await a.left.store(1)

    async def second() -> None:
        await flag.load()
        await a.left.fetch_add(1)

    vc.outcome(lambda: f"a.left={a.left.peek()} b.right={b.right.peek()}")
    return [("first", first()), ("second", second())]


def test_fields_are_made_when_first_read_with_their_reserved_ids() -> None:
    MADE.clear()
    ex = Execution(boxes_model)
    assert len(ex.objects) == 7 and ex.objects[6].name == "flag"  # 2 x 3 reserved, flag
    assert MADE == [] and ex.objects[:6] == [None] * 6
    ex.step(1)  # second reads flag, then runs to its a.left access
    assert MADE == ["a.left"]
    ex.step(0)
    assert MADE == ["a.left", "b.right"]
    assert [o.name if o is not None else None for o in ex.objects] == \
        ["a", "a.left", None, "b", None, "b.right", "flag"]  # never read: a.right, b.left
    ex.close()


def test_ids_do_not_depend_on_the_order_fields_are_made() -> None:
    MADE.clear()
    ex1, _, _ = run_one(boxes_model, follow([0, 0, 0, 1, 1]), max_steps=100)
    assert MADE == ["b.right", "a.left"]
    MADE.clear()
    ex2, _, _ = run_one(boxes_model, follow([1, 1, 0, 0, 0]), max_steps=100)
    assert MADE == ["a.left", "b.right"]
    names1 = {o.oid: o.name for o in ex1.objects if o is not None}
    names2 = {o.oid: o.name for o in ex2.objects if o is not None}
    assert names1 == names2 == {0: "a", 1: "a.left", 3: "b", 5: "b.right", 6: "flag"}
    for ex in (ex1, ex2):
        ex.close()


def test_exploring_lazy_fields_finds_every_outcome() -> None:
    r = vc.explore(boxes_model)
    assert r.complete and r.blocked == 0
    # the two orders of first's store and second's increment of a.left
    assert set(r.outcome_labels()) == {"a.left=1 b.right=11", "a.left=2 b.right=11"}
    assert r.executions == 2


def test_a_field_read_again_is_the_same_object() -> None:
    def model() -> list[Any]:
        box = Box("box")
        assert box.left is box.left and box.left.alloc is box.memory

        async def t() -> None:
            await box.left.load()

        return [("t", t())]

    assert vc.run(model).ok


def test_a_recording_run_makes_every_field_where_its_owner_is_built() -> None:
    MADE.clear()
    ex = Execution(boxes_model, record=True)
    assert MADE == ["a.left", "a.right", "b.left", "b.right"]
    memory = ex.objects[0]
    assert isinstance(memory, Allocation) and memory.allocated_by is not None
    assert memory.allocated_by["stack"][-1].function == "__init__"  # Box.__init__
    ex.close()


def test_closing_skips_ids_never_made() -> None:
    ex = Execution(boxes_model)
    ex.close()  # no field was made: nothing to forget there, and no error


def test_an_id_not_reserved_is_an_error() -> None:
    def model() -> list[Any]:
        vc.Var("x", 0)
        vc.Var("y", 0, oid=0)  # taken

        async def t() -> None:
            pass

        return [("t", t())]

    with pytest.raises(RuntimeError, match="was not reserved, or is taken"):
        Execution(model)


def test_made_tells_a_field_read_from_one_never_read_without_making_it() -> None:
    MADE.clear()

    def model() -> list[Any]:
        box = Box("box")
        assert Box.left.made(box) is None and MADE == []
        left = box.left
        assert Box.left.made(box) is left and Box.right.made(box) is None
        assert MADE == ["box.left"]

        async def t() -> None:
            await box.left.load()

        return [("t", t())]

    assert vc.run(model).ok
