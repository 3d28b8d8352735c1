"""The mm functions the binder, TCP and BPF models call, in one place.

Everything here is the mm model's own function (:mod:`vmacheck.kernel.mm` and
``vmacheck.kernel.include.linux``), re-exported so that the driver models have one import
site.  The two helpers at the end (:func:`pin_token`, :func:`still_pinned`) are model checks,
not kernel functions: they read which locks the calling thread holds.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import current
from vmacheck.kernel import mm as _mm_package  # noqa: F401 - import order of the mm model
from vmacheck.kernel.checks import vma_read_key
from vmacheck.kernel.include.linux.mm import __free_page as _free_page_impl
from vmacheck.kernel.include.linux.mm import alloc_page, vma_lookup
from vmacheck.kernel.include.linux.mm_types import MmStruct, Page, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_lock,
    mmap_read_trylock,
    mmap_read_unlock,
    mmap_write_lock,
    mmap_write_unlock,
    per_vma_lock,
    vma_end_read,
    vma_start_read_locked,
)
from vmacheck.kernel.include.linux.sched_mm import mmdrop, mmget_not_zero
from vmacheck.kernel.mm.fork import mmput_async
from vmacheck.kernel.mm.gup import FOLL_NOFAULT
from vmacheck.kernel.mm.gup import get_user_pages_remote as _gup
from vmacheck.kernel.mm.memory import vm_insert_page, zap_vma_range
from vmacheck.kernel.mm.mmap_lock import lock_vma_under_rcu, vma_start_read_unlocked

__all__ = [
    "FOLL_NOFAULT", "MmStruct", "Page", "VmAreaStruct", "alloc_page", "free_page",
    "get_user_pages_remote", "lock_vma_under_rcu", "mmap_read_lock", "mmap_read_trylock",
    "mmap_read_unlock", "mmap_write_lock", "mmap_write_unlock", "mmdrop", "mmget_not_zero",
    "mmput_async", "per_vma_lock", "pin_token", "still_pinned", "vm_insert_page", "vma_end_read",
    "vma_lookup", "vma_mm", "vma_range", "vma_start_read_locked", "vma_start_read_unlocked",
    "zap_vma_range",
]


async def free_page(page: Page) -> None:
    """Model glue: ``__free_page`` (mm/page_alloc.c), drop binder's page reference."""
    await _free_page_impl(page)


async def get_user_pages_remote(mm: MmStruct, addr: int,
                                gup_flags: int = FOLL_NOFAULT) -> tuple[int, Page | None]:
    """Model glue: ``get_user_pages_remote(mm, addr, 1, gup_flags, &page, NULL)`` (mm/gup.c),
    the mm model's; returns ``(npages, page)``.  The page comes with a reference (``FOLL_GET``)."""
    npages, pages = await _gup(mm, addr, 1, gup_flags)
    return npages, (pages[0] if pages else None)


def vma_mm(vma: VmAreaStruct) -> MmStruct | None:
    """Model glue: ``vma->vm_mm`` (constant for the VMA's life)."""
    return vma.vm_mm


async def vma_range(vma: VmAreaStruct) -> tuple[int, int]:
    """Model glue: ``vma->vm_start``, ``vma->vm_end`` (read while the caller stabilises the VMA)."""
    start: int = await vma.vm_start.load()
    end: int = await vma.vm_end.load()
    return start, end


def pin_token(vma: Any) -> object:
    """Model check: a token naming a lock the calling thread holds now that keeps ``vma`` from
    changing identity (its VMA read lock, or its mm's mmap lock in either mode), or None."""
    if vma is None:
        return None
    ex = current()
    tid = ex.current_tid
    assert tid is not None
    key = vma_read_key(vma)
    if ex.holds(tid, key):
        return key
    mm = vma.vm_mm
    for mode in ("W", "R"):
        if mm is not None and ex.holds(tid, (mm.mmap_lock, mode)):
            return (mm.mmap_lock, mode)
    return None


def still_pinned(token: object, vma: Any) -> bool:
    """Model check: the calling thread still holds the lock named by ``token``."""
    ex = current()
    tid = ex.current_tid
    assert tid is not None
    return token is not None and vma is not None and ex.holds(tid, token)
