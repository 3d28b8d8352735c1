"""The binder shrinker callback ``binder_alloc_free_page`` in its versions, and the scan.

(``drivers/android/binder_alloc.c``: ``binder_alloc_free_page``, ``binder_shrink_scan``.)
The callback is entered from ``list_lru_walk`` with the LRU spinlock held (atomic context:
any sleeping operation before ``spin_unlock`` is a ``sleep-in-atomic`` finding).  Each call
adds one outcome label ``shrink page N: vma <found|none>, mapped <true|false|unread>,
<action>`` where the action is ``reclaim with zap``, ``reclaim without zap`` or ``skip (why)``.

Versions (``binder_alloc_free_page@…``):

* ``mainline`` — 2025 – Jun 2026: per-VMA lock, ``mmap_read_trylock`` + ``vma_lookup``
  fallback; ``vma && !mapped`` → skip.
* ``hansen-v1`` — patch 2 v1: per-VMA lock only; NULL → skip.
* ``hansen-v2`` — Hansen patch 2 v2: per-VMA lock only; NULL → go on, reclaim without zap.
* ``hansen-v3`` — Hansen patch 2 v3 as attached to the v2 review, exactly as its diff is
  written.
* ``llamas-2024`` — the Nov 2024 shrinker with Carlos Llamas' 2024 hunk applied:
  ``mmap_read_trylock``, ``vma_lookup`` compared with ``alloc->vma``, zap under ``alloc->mutex``.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import label
from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderAlloc,
    BinderFreelist,
    BinderShrinkerMdata,
    binder_alloc_is_mapped,
    binder_free_page,
    binder_get_installed_page,
    binder_set_installed_page,
)
from vmacheck.kernel.lib.list_lru import (
    LRU_REMOVED_RETRY,
    LRU_SKIP,
    ListLru,
    LruStatus,
    list_lru_isolate,
    list_lru_walk,
)
from vmacheck.kernel.variants import kfunc

PAGE_SIZE = bb.PAGE_SIZE


def shrink_label(index: int, vma: Any, mapped: bool | None, action: str) -> None:
    """Model helper: label one callback's observation and decision for the outcome table."""
    seen = "unread" if mapped is None else str(mapped).lower()
    label(f"shrink page {index}: vma {'none' if vma is None else 'found'}, "
          f"mapped {seen}, {action}")


async def _enter(item: BinderShrinkerMdata) -> tuple[BinderAlloc, Any, int, int] | None:
    """The common start: ``container_of``, ``mmget_not_zero``, index and ``page_addr``."""
    alloc = item.alloc
    assert alloc is not None, "mdata->alloc of an installed page"
    mm = alloc.mm
    if not await mmg.mmget_not_zero(mm):
        label(f"shrink page {item.index}: skip (mm exiting)")
        return None
    index: int = await item.page_index.load()
    page_addr = alloc.vm_start_hint + index * PAGE_SIZE
    return alloc, mm, index, page_addr


async def _take_page(alloc: BinderAlloc, index: int, lru: ListLru,
                     item: BinderShrinkerMdata) -> Any:
    """``page_to_free = pages[index]; pages[index] = NULL; list_lru_isolate(lru, item);``"""
    page_to_free = await binder_get_installed_page(alloc, index)
    await binder_set_installed_page(alloc, index, None)
    await list_lru_isolate(lru, item)
    return page_to_free


@kfunc("mainline")
async def binder_alloc_free_page(item: BinderShrinkerMdata, lru: ListLru,
                                 cb_arg: Any) -> LruStatus:
    """``binder_alloc_free_page`` (drivers/android/binder_alloc.c), mainline 2025 – Jun 2026:
    per-VMA lock with ``mmap_read_trylock`` fallback."""
    entered = await _enter(item)
    if entered is None:
        return LRU_SKIP
    alloc, mm, index, page_addr = entered
    mm_locked = False
    vma = await mmg.lock_vma_under_rcu(mm, page_addr)
    if vma is None:
        if not await mmg.mmap_read_trylock(mm):
            shrink_label(index, None, None, "skip (mmap_read_trylock failed)")
            await mmg.mmput_async(mm)
            return LRU_SKIP
        mm_locked = True
        vma = await mmg.vma_lookup(mm, page_addr)
    if not await alloc.mutex.trylock():
        shrink_label(index, vma, None, "skip (mutex busy)")
    else:
        mapped = None
        if vma is not None:
            mapped = await binder_alloc_is_mapped(alloc)
        if vma is not None and not mapped:
            shrink_label(index, vma, mapped, "skip (invalid vma)")
            await alloc.mutex.unlock()
        else:
            page_to_free = await _take_page(alloc, index, lru, item)
            await lru.lock.unlock()
            if vma is not None:
                await mmg.zap_vma_range(vma, page_addr, PAGE_SIZE)
            shrink_label(index, vma, mapped,
                         "reclaim with zap" if vma is not None else "reclaim without zap")
            await alloc.mutex.unlock()
            if mm_locked:
                await mmg.mmap_read_unlock(mm)
            else:
                await mmg.vma_end_read(vma)
            await mmg.mmput_async(mm)
            await binder_free_page(alloc, page_to_free, "shrinker")
            return LRU_REMOVED_RETRY
    if mm_locked:
        await mmg.mmap_read_unlock(mm)
    else:
        await mmg.vma_end_read(vma)
    await mmg.mmput_async(mm)
    return LRU_SKIP


@binder_alloc_free_page.variant("hansen-v1")
async def _free_page_hansen_v1(item: BinderShrinkerMdata, lru: ListLru,
                               cb_arg: Any) -> LruStatus:
    """Hansen patch 2 v1: per-VMA lock only, NULL → LRU_SKIP
    (drivers/android/binder_alloc.c: binder_alloc_free_page; v1's diff as found in linux-mm
    baa31055)."""
    entered = await _enter(item)
    if entered is None:
        return LRU_SKIP
    alloc, mm, index, page_addr = entered
    vma = await mmg.lock_vma_under_rcu(mm, page_addr)
    if vma is None:
        shrink_label(index, None, None, "skip (no vma lock)")
        await mmg.mmput_async(mm)
        return LRU_SKIP
    if not await alloc.mutex.trylock():
        shrink_label(index, vma, None, "skip (mutex busy)")
    else:
        mapped = await binder_alloc_is_mapped(alloc)
        if not mapped:
            shrink_label(index, vma, mapped, "skip (invalid vma)")
            await alloc.mutex.unlock()
        else:
            page_to_free = await _take_page(alloc, index, lru, item)
            await lru.lock.unlock()
            await mmg.zap_vma_range(vma, page_addr, PAGE_SIZE)
            shrink_label(index, vma, mapped, "reclaim with zap")
            await alloc.mutex.unlock()
            await mmg.vma_end_read(vma)
            await mmg.mmput_async(mm)
            await binder_free_page(alloc, page_to_free, "shrinker")
            return LRU_REMOVED_RETRY
    await mmg.vma_end_read(vma)
    await mmg.mmput_async(mm)
    return LRU_SKIP


@binder_alloc_free_page.variant("hansen-v2")
async def _free_page_hansen_v2(item: BinderShrinkerMdata, lru: ListLru,
                               cb_arg: Any) -> LruStatus:
    """Hansen patch 2 v2: per-VMA lock only, NULL → reclaim without zap
    (drivers/android/binder_alloc.c: binder_alloc_free_page)."""
    entered = await _enter(item)
    if entered is None:
        return LRU_SKIP
    alloc, mm, index, page_addr = entered
    vma = await mmg.lock_vma_under_rcu(mm, page_addr)
    if not await alloc.mutex.trylock():
        shrink_label(index, vma, None, "skip (mutex busy)")
    else:
        mapped = None
        if vma is not None:
            mapped = await binder_alloc_is_mapped(alloc)
        if vma is not None and not mapped:
            shrink_label(index, vma, mapped, "skip (invalid vma)")
            await alloc.mutex.unlock()
        else:
            page_to_free = await _take_page(alloc, index, lru, item)
            await lru.lock.unlock()
            if vma is not None:
                await mmg.zap_vma_range(vma, page_addr, PAGE_SIZE)
                await mmg.vma_end_read(vma)
            shrink_label(index, vma, mapped,
                         "reclaim with zap" if vma is not None else "reclaim without zap")
            await alloc.mutex.unlock()
            await mmg.mmput_async(mm)
            await binder_free_page(alloc, page_to_free, "shrinker")
            return LRU_REMOVED_RETRY
    if vma is not None:
        await mmg.vma_end_read(vma)
    await mmg.mmput_async(mm)
    return LRU_SKIP


@binder_alloc_free_page.variant("hansen-v3")
async def _free_page_hansen_v3(item: BinderShrinkerMdata, lru: ListLru,
                               cb_arg: Any) -> LruStatus:
    """Hansen patch 2 v3 (attached to the v2 review), as written: zap and vma_end_read only if
    mapped (drivers/android/binder_alloc.c: binder_alloc_free_page)."""
    entered = await _enter(item)
    if entered is None:
        return LRU_SKIP
    alloc, mm, index, page_addr = entered
    vma = await mmg.lock_vma_under_rcu(mm, page_addr)
    if not await alloc.mutex.trylock():
        shrink_label(index, vma, None, "skip (mutex busy)")
    else:
        mapped = await binder_alloc_is_mapped(alloc)
        if vma is None and mapped:
            shrink_label(index, vma, mapped, "skip (vma inconsistent)")
            await alloc.mutex.unlock()
        else:
            page_to_free = await _take_page(alloc, index, lru, item)
            await lru.lock.unlock()
            if mapped:
                await mmg.zap_vma_range(vma, page_addr, PAGE_SIZE)
                await mmg.vma_end_read(vma)
            shrink_label(index, vma, mapped,
                         "reclaim with zap" if mapped else "reclaim without zap")
            await alloc.mutex.unlock()
            await mmg.mmput_async(mm)
            await binder_free_page(alloc, page_to_free, "shrinker")
            return LRU_REMOVED_RETRY
    if vma is not None:
        await mmg.vma_end_read(vma)
    await mmg.mmput_async(mm)
    return LRU_SKIP


async def free_page_mmap_trylock_era(item: BinderShrinkerMdata, lru: ListLru,
                                     zap_under_mutex: bool) -> LruStatus:
    """``binder_alloc_free_page`` (drivers/android/binder_alloc.c, v6.12), the 2023 – Nov
    2024 callback: ``mmap_read_trylock``, ``mutex_trylock``, skip if the
    page is already gone, ``vma_lookup`` compared with ``alloc->vma``; ``zap_under_mutex``
    says whether Carlos Llamas' 2024 hunk (``mutex_unlock`` after the zap) is
    applied."""
    entered = await _enter(item)
    if entered is None:
        return LRU_SKIP
    alloc, mm, index, page_addr = entered
    if not await mmg.mmap_read_trylock(mm):
        shrink_label(index, None, None, "skip (mmap_read_trylock failed)")
        await mmg.mmput_async(mm)
        return LRU_SKIP
    if not await alloc.mutex.trylock():
        shrink_label(index, None, None, "skip (mutex busy)")
        await mmg.mmap_read_unlock(mm)
        await mmg.mmput_async(mm)
        return LRU_SKIP
    if await binder_get_installed_page(alloc, index) is None:
        shrink_label(index, None, None, "skip (page already freed)")
    else:
        vma = await mmg.vma_lookup(mm, page_addr)
        cached = await alloc.vma.load()
        if vma is not None and vma is not cached:
            shrink_label(index, vma, None, "skip (invalid vma)")
        else:
            page_to_free = await _take_page(alloc, index, lru, item)
            if not zap_under_mutex:
                await alloc.mutex.unlock()
            await lru.lock.unlock()
            if vma is not None:
                await mmg.zap_vma_range(vma, page_addr, PAGE_SIZE)
            shrink_label(index, vma, None,
                         "reclaim with zap" if vma is not None else "reclaim without zap")
            if zap_under_mutex:
                await alloc.mutex.unlock()
            await mmg.mmap_read_unlock(mm)
            await mmg.mmput_async(mm)
            await binder_free_page(alloc, page_to_free, "shrinker")
            return LRU_REMOVED_RETRY
    await alloc.mutex.unlock()
    await mmg.mmap_read_unlock(mm)
    await mmg.mmput_async(mm)
    return LRU_SKIP


@binder_alloc_free_page.variant("llamas-2024")
async def _free_page_llamas_2024(item: BinderShrinkerMdata, lru: ListLru,
                                 cb_arg: Any) -> LruStatus:
    """Carlos Llamas' 2024 shrinker hunk ("binder: concurrent page installation"): the
    mmap_read_trylock-era callback with the zap moved under alloc->mutex
    (drivers/android/binder_alloc.c: binder_alloc_free_page)."""
    return await free_page_mmap_trylock_era(item, lru, zap_under_mutex=True)


async def binder_shrink_scan(freelist: BinderFreelist, nr_to_scan: int) -> int:
    """``binder_shrink_scan`` (drivers/android/binder_alloc.c): ``list_lru_walk(&binder_freelist,
    binder_alloc_free_page)``."""
    return await list_lru_walk(freelist.lru, binder_alloc_free_page, None, nr_to_scan)
