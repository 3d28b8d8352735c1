"""Binder scenarios for the mm operations: the binder shrinker against ``MADV_DONTNEED``
and ``mremap`` of the binder mapping (drivers/android/binder_alloc.c, mm/madvise.c,
mm/mremap.c).  Same set-up and invariants as :mod:`vmacheck.scenarios.binder`."""

from __future__ import annotations

from vmacheck.explore import label
from vmacheck.kernel.mm import PAGE_SIZE
from vmacheck.kernel.mm.madvise import MADV_DONTNEED, do_madvise
from vmacheck.kernel.mm.mremap import MREMAP_FIXED, MREMAP_MAYMOVE, do_mremap
from vmacheck.scenarios.binder import (
    BINDER_START,
    SHRINKER,
    Thread,
    binder_world,
    shrinker,
)
from vmacheck.scenarios.catalogue import Scenario, register

NEW = 0x8000


def _shrink_madvise() -> list[Thread]:
    w = binder_world()

    async def madvise() -> None:
        label(f"madvise={await do_madvise(w.mm, BINDER_START, PAGE_SIZE, MADV_DONTNEED)}")

    return [("shrinker", shrinker(w)), ("madvise", madvise())]


register(Scenario(
    "binder-shrink-madvise", "binder shrinker while userspace MADV_DONTNEEDs the binder page",
    _shrink_madvise, functions=(*SHRINKER, "try_vma_read_lock"), group="binder",
    max_steps=1_500,
    doc="MADV_DONTNEED zaps the binder page under the binder VMA's read lock "
        "(try_vma_read_lock); the shrinker takes the same read lock and zaps it too.  Both "
        "are readers: the PTE is cleared once and binder's page references stay balanced."))


def _shrink_mremap() -> list[Thread]:
    w = binder_world()

    async def mremap() -> None:
        ret = await do_mremap(w.mm, BINDER_START, PAGE_SIZE, PAGE_SIZE,
                              MREMAP_MAYMOVE | MREMAP_FIXED, NEW)
        label(f"mremap={ret:#x}" if ret > 0 else f"mremap={ret}")

    return [("shrinker", shrinker(w)), ("mremap", mremap())]


register(Scenario(
    "binder-shrink-mremap", "binder shrinker while userspace moves the binder mapping",
    _shrink_mremap, functions=(*SHRINKER, "move_vma"), group="binder", max_steps=2_000,
    doc="mremap moves the binder VMA (binder has no vm_ops->mremap hook to refuse it): the "
        "copy gets binder_vma_open, the PTE moves to the new address, and the unmap of the old "
        "range runs binder_vma_close (mapped = false).  Expected finding at mainline: the "
        "shrinker then finds no VMA at binder's address and hands the page back without a "
        "zap while userspace still maps it at the new address "
        "(binder-no-page-given-up-while-mapped, binder-given-up-page-still-mapped-at-end).  "
        "The PTE's own page reference keeps the page alive, so this is not a use-after-free: "
        "userspace keeps a page binder no longer owns (the permanent form of the window "
        "binder-shrink-munmap-strict describes)."))
