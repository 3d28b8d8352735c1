"""``might_sleep`` (``include/linux/kernel.h``): the debug check of functions that may sleep."""

from __future__ import annotations

from vmacheck.explore import Op
from vmacheck.explore.core import Execution, Footprint


class _MightSleep(Op):
    """A step that touches nothing but counts as sleeping: in atomic context (spinlock, RCU
    read side) the engine reports ``sleep-in-atomic``, as CONFIG_DEBUG_ATOMIC_SLEEP does."""

    __slots__ = ("where",)
    sleeps = True

    def __init__(self, where: str) -> None:
        self.where = where

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return ()

    def execute(self, ex: Execution, tid: int) -> None:
        return None

    def describe(self) -> str:
        return f"might_sleep ({self.where})"


async def might_sleep(where: str) -> None:
    """``might_sleep`` (include/linux/kernel.h): this function may sleep; sleeping in atomic
    context is a ``sleep-in-atomic`` finding even on paths where it does not actually block."""
    await _MightSleep(where)
