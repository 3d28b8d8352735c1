"""``mm_count`` and ``mm_users`` references (``include/linux/sched/mm.h``).

``mmput``/``mmput_async`` (kernel/fork.c) are in :mod:`vmacheck.kernel.mm.fork` because the
last ``mmput`` tears the address space down.
"""

from __future__ import annotations

from vmacheck.explore import WARN_ON
from vmacheck.kernel.include.linux.atomic import atomic_cond_update
from vmacheck.kernel.include.linux.mm_types import MmStruct


async def mmgrab(mm: MmStruct) -> None:
    """``mmgrab`` (include/linux/sched/mm.h): pin the ``mm_struct`` memory (``mm_count``)."""
    old = await mm.mm_count.fetch_add(1, mode="relaxed")
    WARN_ON(old <= 0, f"mmgrab of {mm.name} with mm_count {old}")


async def mmdrop(mm: MmStruct) -> None:
    """``mmdrop`` (include/linux/sched/mm.h): unpin; the last reference frees the struct
    (``__mmdrop``, kernel/fork.c)."""
    old = await mm.mm_count.fetch_add(-1)
    if old == 1:
        await mm.alloc.free()


async def mmget(mm: MmStruct) -> None:
    """``mmget`` (include/linux/sched/mm.h): take an ``mm_users`` reference."""
    await mm.mm_users.fetch_add(1, mode="relaxed")


async def mmget_not_zero(mm: MmStruct) -> bool:
    """``mmget_not_zero`` (include/linux/sched/mm.h): take an ``mm_users`` reference unless
    the address space is already being torn down.  Never blocks."""
    old = await atomic_cond_update(mm.mm_users, lambda v: v + 1 if v != 0 else v,
                                   "atomic_inc_not_zero", mode="mb")
    return bool(old != 0)
