"""The list_lru: a spinlock-protected list with a reclaim walker (``mm/list_lru.c``).

One node and no memcg sub-lists: binder's ``binder_freelist`` is walked as one list.  Items
are any hashable objects (binder puts its ``binder_shrinker_mdata`` on it).  Every operation
takes the list's spinlock (a :class:`~vmacheck.SpinLock`, so holding it is atomic context and
the engine reports any sleeping operation under it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from vmacheck.explore import SpinLock, Var


class LruStatus(Enum):
    """``enum lru_status`` (``include/linux/list_lru.h``)."""

    LRU_REMOVED = "removed"
    LRU_REMOVED_RETRY = "removed-retry"
    LRU_ROTATE = "rotate"
    LRU_SKIP = "skip"
    LRU_RETRY = "retry"
    LRU_STOP = "stop"


LRU_REMOVED = LruStatus.LRU_REMOVED
LRU_REMOVED_RETRY = LruStatus.LRU_REMOVED_RETRY
LRU_ROTATE = LruStatus.LRU_ROTATE
LRU_SKIP = LruStatus.LRU_SKIP
LRU_RETRY = LruStatus.LRU_RETRY
LRU_STOP = LruStatus.LRU_STOP


class ListLru:
    """``struct list_lru`` reduced to one ``list_lru_one``: its ``lock`` and its ``list``.

    ``items`` holds the list as a tuple (head first); ``nr_items`` is its length.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = SpinLock(f"{name}.lock", lock_class="list_lru")
        self.items = Var(f"{name}.list", ())

    def peek_items(self) -> tuple[Any, ...]:
        """The list, for invariants and outcome functions only."""
        value: tuple[Any, ...] = self.items.peek()
        return value


IsolateFn = Callable[[Any, ListLru, Any], Awaitable[LruStatus]]
"""``list_lru_walk_cb``: called with ``lru.lock`` held; returns an :class:`LruStatus`."""


async def list_lru_add(lru: ListLru, item: Any) -> bool:
    """``list_lru_add`` (mm/list_lru.c): add ``item`` at the tail unless it is already on it."""
    await lru.lock.lock()
    old: tuple[Any, ...] = await lru.items.update(
        lambda t: t if item in t else (*t, item))
    if item not in old:
        await _node_store(item, True)
    await lru.lock.unlock()
    return item not in old


async def list_lru_del(lru: ListLru, item: Any) -> bool:
    """``list_lru_del`` (mm/list_lru.c): remove ``item`` if it is on the list."""
    await lru.lock.lock()
    old: tuple[Any, ...] = await lru.items.update(
        lambda t: tuple(x for x in t if x is not item))
    if item in old:
        await _node_store(item, False)
    await lru.lock.unlock()
    return item in old


async def list_lru_isolate(lru: ListLru, item: Any) -> None:
    """``list_lru_isolate`` (mm/list_lru.c): unlink ``item``; the caller holds ``lru.lock``."""
    await lru.items.update(lambda t: tuple(x for x in t if x is not item))
    await _node_store(item, False)


async def _node_store(item: Any, on_list: bool) -> None:
    """Touch the item's embedded ``list_head`` (``item.lru_node``) when it has one, so that
    linking or unlinking a freed item is a use-after-free."""
    node = getattr(item, "lru_node", None)
    if isinstance(node, Var):
        await node.store(on_list)


async def list_lru_count(lru: ListLru) -> int:
    """``list_lru_count`` (mm/list_lru.c): a lockless read of the item count."""
    items: tuple[Any, ...] = await lru.items.load(mode="once")
    return len(items)


def _rotate(item: Any) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    def rotate(t: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*tuple(x for x in t if x is not item), item)

    return rotate


async def list_lru_walk(lru: ListLru, isolate: IsolateFn, cb_arg: Any, nr_to_walk: int) -> int:
    """``list_lru_walk`` → ``__list_lru_walk_one`` (mm/list_lru.c, 6.13+ form).

    Takes the list lock, visits items from the head, each visit costing one of ``nr_to_walk``;
    calls ``isolate`` with the lock held.  ``LRU_REMOVED``: counted, lock still held, go on.
    ``LRU_REMOVED_RETRY``: counted, the callback dropped the lock: re-lock and restart from the
    head.  ``LRU_ROTATE``: move to the tail.  ``LRU_SKIP``: leave it.  ``LRU_RETRY``: lock
    dropped, re-lock and restart.  ``LRU_STOP``: lock dropped, end.  Returns the number removed.
    """
    isolated = 0
    await lru.lock.lock()
    while True:
        snapshot: tuple[Any, ...] = await lru.items.load()
        restart = False
        for item in snapshot:
            if nr_to_walk <= 0:
                break
            nr_to_walk -= 1
            ret = await isolate(item, lru, cb_arg)
            if ret is LRU_REMOVED_RETRY:
                isolated += 1
                await lru.lock.lock()
                restart = True
                break
            if ret is LRU_REMOVED:
                isolated += 1
            elif ret is LRU_ROTATE:
                await lru.items.update(_rotate(item))
            elif ret is LRU_RETRY:
                await lru.lock.lock()
                restart = True
                break
            elif ret is LRU_STOP:
                return isolated
        if not restart:
            break
    await lru.lock.unlock()
    return isolated
