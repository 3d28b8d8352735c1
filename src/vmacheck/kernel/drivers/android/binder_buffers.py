"""Binder buffer bookkeeping: the address-ordered list, best fit, split and coalesce.

Pure functions over an immutable layout (a tuple of :class:`BinderBuffer` in address order,
the kernel's ``alloc->buffers`` list; the free and allocated rbtrees are derived from it).
They run under ``alloc->mutex`` in the model, so they need no steps of their own; what they
return is the layout after the operation and the page ranges the kernel hands to
``binder_lru_freelist_del`` / ``binder_lru_freelist_add``, computed with the kernel's own
arithmetic (``drivers/android/binder_alloc.c``: ``binder_alloc_new_buf_locked``,
``binder_free_buf_locked``, ``binder_delete_free_buffer``, ``buffer_start_page``,
``prev_buffer_end_page``, ``binder_alloc_buffer_size``).

Simplification: the free rbtree is keyed by size only; when several free buffers have the
best-fit size, the kernel's pick depends on the tree's shape.  The model picks the lowest
address among them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)
SZ_4M = 4 << 20
POINTER_SIZE = 8


def PAGE_ALIGN(addr: int) -> int:
    """Model helper: ``PAGE_ALIGN`` (include/linux/mm.h), round up to a page boundary."""
    return (addr + PAGE_SIZE - 1) & PAGE_MASK


def PAGE_ALIGNED(addr: int) -> bool:
    """Model helper: ``PAGE_ALIGNED`` (include/linux/mm.h)."""
    return addr & (PAGE_SIZE - 1) == 0


def ALIGN(value: int, to: int) -> int:
    """Model helper: ``ALIGN`` (include/linux/align.h)."""
    return (value + to - 1) & ~(to - 1)


@dataclass(frozen=True, slots=True, repr=False)
class BinderBuffer:
    """``struct binder_buffer`` (drivers/android/binder_alloc.h), the fields the model uses."""

    debug_id: int
    user_data: int
    free: bool
    data_size: int = 0
    offsets_size: int = 0
    extra_buffers_size: int = 0
    async_transaction: bool = False

    def __repr__(self) -> str:
        return f"{'free' if self.free else 'buf'}@{self.user_data:#x}"


Layout = tuple[BinderBuffer, ...]
PageRange = tuple[int, int]


def sanitized_size(data_size: int, offsets_size: int, extra_buffers_size: int) -> int:
    """``sanitized_size`` (drivers/android/binder_alloc.c): pointer-aligned total, at least one
    pointer."""
    total = (ALIGN(data_size, POINTER_SIZE) + ALIGN(offsets_size, POINTER_SIZE)
             + ALIGN(extra_buffers_size, POINTER_SIZE))
    return max(total, POINTER_SIZE)


def binder_alloc_buffer_size(layout: Layout, i: int, vm_end: int) -> int:
    """``binder_alloc_buffer_size`` (drivers/android/binder_alloc.c): up to the next buffer, or to
    the end of the mapping."""
    if i == len(layout) - 1:
        return vm_end - layout[i].user_data
    return layout[i + 1].user_data - layout[i].user_data


def buffer_start_page(buffer: BinderBuffer) -> int:
    """``buffer_start_page`` (drivers/android/binder_alloc.c)."""
    return buffer.user_data & PAGE_MASK


def prev_buffer_end_page(buffer: BinderBuffer) -> int:
    """``prev_buffer_end_page`` (drivers/android/binder_alloc.c): the page holding the byte just
    before ``buffer``."""
    return (buffer.user_data - 1) & PAGE_MASK


def initial_layout(vm_start: int, debug_id: int = 0) -> Layout:
    """Model helper: the layout ``binder_alloc_mmap_handler`` (drivers/android/binder_alloc.c)
    starts with: one free buffer covering the whole mapping."""
    return (BinderBuffer(debug_id, vm_start, True),)


@dataclass(frozen=True, slots=True)
class NewBufResult:
    """What ``binder_alloc_new_buf_locked`` did: the new layout, the buffer, the LRU range."""

    layout: Layout
    buffer: BinderBuffer | None
    error: str | None
    lru_del: PageRange


def new_buf_locked(layout: Layout, size: int, vm_end: int, new_debug_id: int,
                   data_size: int, is_async: bool = False) -> NewBufResult:
    """``binder_alloc_new_buf_locked`` (drivers/android/binder_alloc.c): best fit, split, LRU range
    to delete, mark allocated.

    The range is ``[PAGE_ALIGN(user_data), min(next_used_page, curr_last_page))`` where
    ``next_used_page`` is the page of the end of the chosen free buffer (rounded down) and
    ``curr_last_page`` the end of the new buffer rounded up — the kernel's "clever
    calculation" that trims a last page already in use by the next buffer.
    """
    best: int | None = None
    best_size = 0
    for i, b in enumerate(layout):
        if not b.free:
            continue
        bsize = binder_alloc_buffer_size(layout, i, vm_end)
        if bsize >= size and (best is None or bsize < best_size):
            best, best_size = i, bsize
    if best is None:
        return NewBufResult(layout, None, "-ENOSPC", (0, 0))
    chosen = layout[best]
    items = list(layout)
    if best_size != size:
        items.insert(best + 1, BinderBuffer(new_debug_id, chosen.user_data + size, True))
    next_used_page = (chosen.user_data + best_size) & PAGE_MASK
    curr_last_page = PAGE_ALIGN(chosen.user_data + size)
    rng = (PAGE_ALIGN(chosen.user_data), min(next_used_page, curr_last_page))
    allocated = replace(chosen, free=False, data_size=data_size, async_transaction=is_async)
    items[best] = allocated
    return NewBufResult(tuple(items), allocated, None, rng)


def _delete_free_buffer_range(items: list[BinderBuffer], i: int) -> PageRange | None:
    """``binder_delete_free_buffer`` on ``items[i]``: the page it may add to the LRU.

    Skips when the buffer is page aligned, when ``prev_buffer_end_page(prev)`` (the page of the
    byte before the previous buffer) is its start page, or when the next buffer starts in its
    start page.  The caller unlinks ``items[i]``.
    """
    buffer = items[i]
    if PAGE_ALIGNED(buffer.user_data):
        return None
    assert i > 0, "BUG_ON(alloc->buffers.next == &buffer->entry)"
    prev = items[i - 1]
    assert prev.free, "BUG_ON(!prev->free)"
    if prev_buffer_end_page(prev) == buffer_start_page(buffer):
        return None
    if i + 1 < len(items) and buffer_start_page(items[i + 1]) == buffer_start_page(buffer):
        return None
    return (buffer_start_page(buffer), buffer_start_page(buffer) + PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class FreeBufResult:
    """What ``binder_free_buf_locked`` did: the new layout and the LRU ranges, in order."""

    layout: Layout
    lru_add: tuple[PageRange, ...]
    buffer_size: int


def free_buf_locked(layout: Layout, user_data: int, vm_end: int) -> FreeBufResult:
    """``binder_free_buf_locked`` (drivers/android/binder_alloc.c): LRU add of the fully owned
    pages, then coalesce.

    Add ``[PAGE_ALIGN(user_data), (user_data + buffer_size) & PAGE_MASK)``; if the next buffer
    is free, ``binder_delete_free_buffer(next)``; if the previous one is free,
    ``binder_delete_free_buffer(buffer)`` and the previous one absorbs it.
    """
    i = next(k for k, b in enumerate(layout) if b.user_data == user_data)
    buffer = layout[i]
    assert not buffer.free, "BUG_ON(buffer->free)"
    bsize = binder_alloc_buffer_size(layout, i, vm_end)
    ranges: list[PageRange] = [
        (PAGE_ALIGN(buffer.user_data), (buffer.user_data + bsize) & PAGE_MASK)]
    items = list(layout)
    items[i] = BinderBuffer(buffer.debug_id, buffer.user_data, True)
    if i + 1 < len(items) and items[i + 1].free:
        r = _delete_free_buffer_range(items, i + 1)
        if r is not None:
            ranges.append(r)
        del items[i + 1]
    if i > 0 and items[i - 1].free:
        r = _delete_free_buffer_range(items, i)
        if r is not None:
            ranges.append(r)
        del items[i]
    return FreeBufResult(tuple(items), tuple(ranges), bsize)


def pages_of(user_data: int, size: int) -> range:
    """Model helper: the page addresses ``binder_install_buffer_pages`` walks: start rounded down,
    end up."""
    return range(user_data & PAGE_MASK, PAGE_ALIGN(user_data + size), PAGE_SIZE)


def covering_allocated(layout: Layout, vm_start: int, vm_end: int) -> dict[int, int]:
    """Model helper: page index → number of allocated buffers whose extent touches that page."""
    out: dict[int, int] = {}
    for i, b in enumerate(layout):
        if b.free:
            continue
        end = b.user_data + binder_alloc_buffer_size(layout, i, vm_end)
        for addr in range(b.user_data & PAGE_MASK, PAGE_ALIGN(end), PAGE_SIZE):
            idx = (addr - vm_start) // PAGE_SIZE
            out[idx] = out.get(idx, 0) + 1
    return out
