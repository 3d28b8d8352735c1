"""list_lru walk semantics (mm/list_lru.c): LRU_SKIP keeps items, LRU_REMOVED_RETRY restarts
from the head after the callback dropped the lock, nr_to_walk bounds the visits."""

from __future__ import annotations

from typing import Any

import vmacheck
from vmacheck.kernel.lib.list_lru import (
    LRU_REMOVED_RETRY,
    LRU_SKIP,
    ListLru,
    LruStatus,
    list_lru_add,
    list_lru_del,
    list_lru_isolate,
    list_lru_walk,
)


def walk(decide: dict[str, LruStatus], nr: int) -> tuple[list[str], int, tuple[Any, ...]]:
    visited: list[str] = []
    out: dict[str, Any] = {}

    def model() -> list[Any]:
        lru = ListLru("lru")

        async def cb(item: str, lst: ListLru, arg: Any) -> LruStatus:
            visited.append(item)
            ret = decide[item]
            if ret is LRU_REMOVED_RETRY:
                await list_lru_isolate(lst, item)
                await lst.lock.unlock()
            return ret

        async def t() -> None:
            for x in ("a", "b", "c"):
                assert await list_lru_add(lru, x)
            assert not await list_lru_add(lru, "a")
            out["n"] = await list_lru_walk(lru, cb, None, nr)
            out["left"] = await lru.items.load()

        return [("t", t())]

    r = vmacheck.explore(model)
    assert r.findings == (), [f.headline() for f in r.findings]
    return visited, out["n"], out["left"]


def test_skip_and_removed_retry() -> None:
    visited, n, left = walk({"a": LRU_SKIP, "b": LRU_REMOVED_RETRY, "c": LRU_SKIP}, 10)
    # after removing b the walk restarts from the head: a is visited again
    assert visited[:3] == ["a", "b", "a"]
    assert n == 1
    assert left == ("a", "c")


def test_nr_to_walk_bounds_visits() -> None:
    visited, n, left = walk({"a": LRU_SKIP, "b": LRU_SKIP, "c": LRU_SKIP}, 2)
    assert visited == ["a", "b"] and n == 0 and left == ("a", "b", "c")


def test_del_returns_whether_on_list() -> None:
    res: dict[str, bool] = {}

    def model() -> list[Any]:
        lru = ListLru("lru")

        async def t() -> None:
            await list_lru_add(lru, "x")
            res["first"] = await list_lru_del(lru, "x")
            res["second"] = await list_lru_del(lru, "x")

        return [("t", t())]

    assert vmacheck.explore(model).findings == ()
    assert res == {"first": True, "second": False}
