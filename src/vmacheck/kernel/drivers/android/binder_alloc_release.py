"""Releasing a binder allocator and its debugfs readers (``drivers/android/binder_alloc.c``):
``binder_alloc_deferred_release``, ``binder_alloc_print_pages``,
``binder_alloc_print_allocated``, and the page counts the outcome labels use."""

from __future__ import annotations

from vmacheck.explore import BUG_ON
from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.drivers.android.binder_alloc import (
    PAGE_SIZE,
    BinderAlloc,
    binder_alloc_is_mapped,
    binder_free_buf_locked,
    binder_free_page,
    binder_get_installed_page,
    page_to_lru,
)
from vmacheck.kernel.lib.list_lru import list_lru_del


async def binder_alloc_deferred_release(alloc: BinderAlloc) -> tuple[int, int]:
    """``binder_alloc_deferred_release`` (drivers/android/binder_alloc.c): free all buffers and
    pages; returns (buffers, pages).

    Runs once the file is released (no VMA left).  BUG if still ``mapped``.  Every installed
    page is taken off the freelist (``list_lru_del``) and freed under ``alloc->mutex``.
    """
    await alloc.mutex.lock()
    alloc.releasing = True
    BUG_ON(await alloc.mapped.load(), "alloc->mapped")
    buffers = 0
    while True:
        layout: bb.Layout = await alloc.buffers.load()
        allocated = [b for b in layout if not b.free]
        if not allocated:
            break
        await binder_free_buf_locked(alloc, allocated[0])
        buffers += 1
    await alloc.buffers.store(())
    page_count = 0
    for i in range(alloc.npages):
        page = await binder_get_installed_page(alloc, i)
        if page is None:
            continue
        await list_lru_del(alloc.freelist.lru, await page_to_lru(page))
        await binder_free_page(alloc, page, "deferred release")
        page_count += 1
    await alloc.mutex.unlock()
    await alloc.pages_mem.free()
    await mmg.mmdrop(alloc.mm)
    return buffers, page_count


def page_counts(alloc: BinderAlloc) -> tuple[int, int, int]:
    """Model helper: (active, lru, free) page counts as ``binder_alloc_print_pages`` prints
    them, read without a step (for outcome labels and end-of-run checks).  Unlike the kernel
    it also counts while unmapped (an unmapped alloc shows its remaining pages)."""
    on_lru = set(alloc.freelist.lru.peek_items())
    active = lru = free = 0
    if alloc.pages_mem.freed:
        return 0, 0, 0
    for var in alloc.pages:
        page = var.peek()
        if page is None:
            free += 1
        elif page.private.peek() in on_lru:
            lru += 1
        else:
            active += 1
    return active, lru, free


async def binder_alloc_print_pages(alloc: BinderAlloc) -> tuple[int, int, int]:
    """``binder_alloc_print_pages`` (drivers/android/binder_alloc.c), the debugfs/``proc``
    reader: under ``alloc->mutex``, only once ``binder_alloc_is_mapped``, count each page of
    ``pages[]`` as free (NULL), active (off the freelist: ``list_empty(page_to_lru(page))``)
    or on the LRU; returns (active, lru, free)."""
    active = lru = free = 0
    await alloc.mutex.lock()
    if await binder_alloc_is_mapped(alloc):
        size = await alloc.buffer_size.load()
        for i in range(size // PAGE_SIZE):
            page = await binder_get_installed_page(alloc, i)
            if page is None:
                free += 1
            elif not await (await page_to_lru(page)).lru_node.load():
                active += 1
            else:
                lru += 1
    await alloc.mutex.unlock()
    return active, lru, free


async def binder_alloc_print_allocated(alloc: BinderAlloc) -> int:
    """``binder_alloc_print_allocated`` (drivers/android/binder_alloc.c): under
    ``alloc->mutex``, print every allocated buffer; returns how many there are."""
    await alloc.mutex.lock()
    layout: bb.Layout = await alloc.buffers.load()
    count = sum(1 for b in layout if not b.free)
    await alloc.mutex.unlock()
    return count
