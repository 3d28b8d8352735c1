"""VMA-tree lookups and page references (``include/linux/mm.h``, ``mm/mmap.c``,
``mm/vma.h``, ``mm/page_alloc.c``).

The maple tree ``mm->mm_mt`` is one variable holding a sorted tuple of ``(start, end, vma)``
ranges: a lookup is one step, a store or clear is one step (the tree is updated under the
mmap write lock; RCU readers see either the old or the new tree).
"""

from __future__ import annotations

from vmacheck.explore import WARN_ON
from vmacheck.kernel.include.linux.fault_inject import should_failslab
from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm_types import (
    MmStruct,
    Page,
    TreeEntry,
    VmAreaStruct,
    kernel_state,
)


def tree_find(tree: tuple[TreeEntry, ...], addr: int) -> VmAreaStruct | None:
    """Model helper: the VMA whose range in ``tree`` covers ``addr`` (pure; no step)."""
    for start, end, vma in tree:
        if start <= addr < end:
            return vma
    return None


def tree_find_from(tree: tuple[TreeEntry, ...], addr: int) -> TreeEntry | None:
    """Model helper: the first range of ``tree`` that ends above ``addr`` (pure; no step)."""
    for entry in tree:
        if entry[1] > addr:
            return entry
    return None


async def mas_walk(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """``mas_walk`` (lib/maple_tree.c) as used by ``lock_vma_under_rcu``: the VMA pointer
    stored for ``addr``, read under RCU (``rcu_dereference_check`` of the tree's nodes)."""
    tree = await mm.mm_mt.load(mode="rcu")
    return tree_find(tree, addr)


async def vma_lookup(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """``vma_lookup`` (include/linux/mm.h): the VMA covering ``addr`` or NULL (caller holds
    the mmap lock, or is in an RCU read section)."""
    return await mas_walk(mm, addr)


async def find_vma(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """``find_vma`` (mm/mmap.c): the first VMA with ``vm_end > addr`` (it may start above
    ``addr``)."""
    tree = await mm.mm_mt.load()
    entry = tree_find_from(tree, addr)
    return None if entry is None else entry[2]


async def find_vma_range(mm: MmStruct, addr: int) -> TreeEntry | None:
    """``find_vma`` (mm/mmap.c) returning the tree range as well (the model's view of
    ``vm_start`` and ``vm_end`` as the tree records them; equal to the VMA's while the mmap lock
    is held)."""
    tree = await mm.mm_mt.load()
    return tree_find_from(tree, addr)


def _tree_without(tree: tuple[TreeEntry, ...], start: int, end: int) -> tuple[TreeEntry, ...]:
    """``tree`` with ``[start, end)`` overwritten by nothing: ranges overlapping it are
    trimmed, as a maple-tree store over part of a range does."""
    out: list[TreeEntry] = []
    for s, e, v in tree:
        if e <= start or s >= end:
            out.append((s, e, v))
            continue
        if s < start:
            out.append((s, start, v))
        if e > end:
            out.append((end, e, v))
    return tuple(out)


async def vma_iter_store(mm: MmStruct, start: int, end: int, vma: VmAreaStruct) -> None:
    """``vma_iter_store_gfp`` (mm/vma.h): store ``vma`` for ``[start, end)``, replacing
    whatever the tree held there."""
    def store(tree: tuple[TreeEntry, ...]) -> tuple[TreeEntry, ...]:
        kept = tuple(x for x in _tree_without(tree, start, end) if x[2] is not vma)
        return tuple(sorted((*kept, (start, end, vma)), key=lambda x: x[0]))

    # the maple tree publishes its new nodes with rcu_assign_pointer (a release)
    await mm.mm_mt.update(store, mode="release")


async def vma_iter_clear(mm: MmStruct, start: int, end: int) -> None:
    """``vma_iter_clear_gfp`` (mm/vma.h): remove every range within ``[start, end)``."""
    await mm.mm_mt.update(lambda tree: _tree_without(tree, start, end), mode="release")


# --------------------------------------------------------------------------- pages


async def alloc_page() -> Page | None:
    """``alloc_page(GFP_KERNEL)`` (include/linux/gfp.h): a page with one reference, or NULL
    when the model's pool is empty or an injected failure (``--inject ENOMEM``) says so.
    (Direct reclaim is not modelled here.)"""
    await might_sleep("alloc_page(GFP_KERNEL)")
    if await should_failslab("alloc_page(GFP_KERNEL)"):
        return None
    state = kernel_state()
    free = await state.free_pages.update(lambda t: t[:-1] if t else t)
    return free[-1] if free else None


async def get_page(page: Page) -> None:
    """``get_page`` (include/linux/mm.h): take a reference (touching a freed page is a
    use-after-free)."""
    old = await page._refcount.fetch_add(1, mode="relaxed")
    WARN_ON(old <= 0, f"get_page on {page} with refcount {old}")


async def __free_page(page: Page) -> None:
    """``__free_page`` (mm/page_alloc.c): drop a reference; the last one frees the page."""
    old = await page._refcount.fetch_add(-1)
    if old == 1:
        await page.alloc.free()
    else:
        WARN_ON(old <= 0, f"__free_page on {page} with refcount {old}")


async def put_page(page: Page) -> None:
    """``put_page`` (include/linux/mm.h): drop a reference; the last one frees the page."""
    await __free_page(page)


async def page_ref_count(page: Page) -> int:
    """``page_ref_count`` (include/linux/page_ref.h)."""
    value: int = await page._refcount.load()
    return value

