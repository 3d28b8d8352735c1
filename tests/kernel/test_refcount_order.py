"""``refcount_sub_and_test`` under the weak memory model: the release decrement and the
acquire at zero order the other holders' earlier stores before the last holder's later loads
(the pattern ``vma_mark_detached`` and ``__vma_end_exclude_readers`` rely on); with a relaxed
or a release-only decrement instead, the last holder may read stale data."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck as vc
from vmacheck.kernel.include.linux.atomic import refcount_sub_and_test


def two_holders(decrement: str | None) -> Any:
    """Two holders each store to their own field, then drop their reference (with
    ``refcount_sub_and_test``, or a plain ``fetch_add`` of ordering ``decrement``); the one
    that drops the last reads both fields."""
    def model() -> list[Any]:
        fields = [vc.Var("a.field", 0), vc.Var("b.field", 0)]
        ref = vc.Var("ref", 2)

        async def holder(me: int) -> None:
            await fields[me].store(1, mode="once")
            if decrement is None:
                old = await refcount_sub_and_test(ref, 1)
            else:
                old = await ref.fetch_add(-1, mode=decrement)
            if old == 1:
                seen = [await f.load(mode="once") for f in fields]
                vc.WARN_ON(seen != [1, 1], "last put sees stale data")

        return [("a", holder(0)), ("b", holder(1))]

    return model


@pytest.mark.parametrize("memory_model", ["weak", "sc"])
def test_release_decrement_and_acquire_at_zero_order_the_last_put(memory_model: str) -> None:
    result = vc.explore(two_holders(None), memory_model=memory_model)
    assert result.complete and result.findings == ()


@pytest.mark.parametrize("decrement", ["relaxed", "release"])
def test_without_the_acquire_at_zero_the_last_put_may_read_stale_data(decrement: str) -> None:
    result = vc.explore(two_holders(decrement), memory_model="weak")
    assert [f.message for f in result.findings] == ["WARN_ON(last put sees stale data)"]
    assert vc.explore(two_holders(decrement), memory_model="sc").findings == ()
