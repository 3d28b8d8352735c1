"""A model function binds the version in force at its first call (later calls skip the
dispatcher): the binding must follow every change of the selection, of the function's
versions and of CALLED, and a pickled function must come back as the registered one."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from vmacheck.kernel import variants
from vmacheck.kernel.variants import CALLED, REGISTRY, KFunc, Selection, register_function, select


async def _plain(x: int) -> str:
    """``vmacheck_test_dispatch`` (mm/nowhere.c): a test function."""
    return f"mainline {x}"


@pytest.fixture
def fn() -> Iterator[KFunc]:
    k = register_function(_plain)
    k.variant("other")(_other)
    yield k
    REGISTRY.pop(k.name, None)
    variants._unbind()


async def _other(x: int) -> str:
    return f"other {x}"


def call(k: KFunc, x: int) -> str:
    coro: Any = k(x)
    try:
        coro.send(None)
    except StopIteration as stop:
        return str(stop.value)
    raise AssertionError("the test function does not await")


def test_a_bound_function_follows_the_selection(fn: KFunc) -> None:
    assert call(fn, 1) == "mainline 1"
    assert call(fn, 2) == "mainline 2"  # bound now
    with select(Selection({fn.name: "other"})):
        assert call(fn, 3) == "other 3"
        assert call(fn, 4) == "other 4"
        variants.activate(Selection({}))
        assert call(fn, 5) == "mainline 5"
        variants.activate(Selection({fn.name: "other"}))
        assert call(fn, 6) == "other 6"
    assert call(fn, 7) == "mainline 7"


def test_a_version_registered_later_is_used_when_selected(fn: KFunc) -> None:
    with select(Selection({fn.name: "other"})):
        assert call(fn, 1) == "other 1"

        @fn.variant("other")
        async def replaced(x: int) -> str:
            return f"replaced {x}"

        assert call(fn, 2) == "replaced 2"


def test_clearing_called_notes_the_next_call_again(fn: KFunc) -> None:
    CALLED.clear()
    call(fn, 1)
    assert fn.name in CALLED
    CALLED.clear()
    assert fn.name not in CALLED
    call(fn, 2)
    assert fn.name in CALLED  # noted again, although it was bound before the clear


def test_a_pickled_model_function_is_the_registered_one(fn: KFunc) -> None:
    call(fn, 1)
    back = pickle.loads(pickle.dumps(fn))
    assert back is fn
    assert isinstance(fn, KFunc) and repr(fn).startswith("KFunc(")
