"""VMA merging and expansion (``mm/vma.c``: ``vma_merge_existing_range``,
``vma_merge_new_range``, ``vma_expand``, ``commit_merge``, ``vma_link``).

Each merge write-locks the VMAs it changes or removes (``vma_start_write``) before touching
them, links anon_vmas with ``dup_anon_vma`` while the target is write-locked, changes the
target's range and the tree under the anon_vma write lock (``vma_prepare``/``vma_complete``),
then detaches and frees the removed VMA.  Known simplifications: only merges with the
previous VMA are modelled (``vma_merge_existing_range`` of a whole middle VMA into ``prev``;
``vma_merge_new_range`` expanding ``prev``); no file mappings, mempolicies, uprobes or
``anon_vma_name``; ``is_mergeable_anon_vma`` ignores ``vma_had_uncowed_parents`` (no fork
hierarchy in the model).
"""

from __future__ import annotations

from vmacheck.kernel.include.linux.atomic import load_all
from vmacheck.kernel.include.linux.mm import vma_iter_store
from vmacheck.kernel.include.linux.mm_types import PAGE_SHIFT, MmStruct, TreeEntry, VmAreaStruct
from vmacheck.kernel.include.linux.mmap_lock import mmap_assert_write_locked, vma_mark_attached
from vmacheck.kernel.mm.mmap_lock import vma_mark_detached, vma_start_write
from vmacheck.kernel.mm.rmap import (
    AnonVma,
    anon_vma_lock_write,
    anon_vma_merge,
    anon_vma_unlock_write,
    dup_anon_vma,
)
from vmacheck.kernel.mm.vma import vm_area_free, vma_set_range
from vmacheck.kernel.variants import kfunc


def is_mergeable_anon_vma(tgt_anon: object, src_anon: object) -> bool:
    """``is_mergeable_anon_vma`` (mm/vma.c): either side without an anon_vma takes the
    other's (``dup_anon_vma``), else they must already be the same."""
    return tgt_anon is None or src_anon is None or tgt_anon is src_anon


async def commit_merge(mm: MmStruct, target: VmAreaStruct, start: int, end: int, pgoff: int,
                       remove: VmAreaStruct | None) -> None:
    """``commit_merge`` (mm/vma.c) with ``vma_prepare``/``vma_complete``: under the target's
    anon_vma write lock set the target's range and store it in the tree; then
    ``vma_mark_detached`` the removed VMA, ``anon_vma_merge`` and ``vm_area_free`` it."""
    anon_vma = await target.anon_vma.load()
    if isinstance(anon_vma, AnonVma):
        await anon_vma_lock_write(anon_vma)
    await vma_set_range(target, start, end, pgoff)
    await vma_iter_store(mm, start, end, target)
    if isinstance(anon_vma, AnonVma):
        await anon_vma_unlock_write(anon_vma)
    if remove is not None:
        await vma_mark_detached(remove)
        await anon_vma_merge(target, remove)
        await vm_area_free(remove)


@kfunc("mainline")
async def vma_expand(mm: MmStruct, target: VmAreaStruct, start: int, end: int, pgoff: int,
                     remove: VmAreaStruct | None = None) -> int:
    """``vma_expand`` (mm/vma.c): grow ``target`` to ``[start, end)``, removing ``remove``
    (the next VMA) if the new range covers it.  ``vma_start_write(target)`` (and of the VMA
    being removed) comes first; then ``dup_anon_vma`` and ``commit_merge``.  Caller holds the
    mmap write lock."""
    mmap_assert_write_locked(mm)
    await vma_start_write(target)
    if remove is not None:
        await vma_start_write(remove)
        err: int = await dup_anon_vma(target, remove)
        if err:
            return err
    await commit_merge(mm, target, start, end, pgoff, remove)
    return 0


async def prev_of(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """``vma_prev`` as the merge code uses it (mm/vma.h): the VMA ending at ``addr``, if any
    (a model lookup of the tree: one step)."""
    tree: tuple[TreeEntry, ...] = await mm.mm_mt.load()
    for _, end, vma in tree:
        if end == addr:
            return vma
    return None


async def can_vma_merge_after(prev: VmAreaStruct, vm_flags: int, anon_vma: object,
                              pgoff: int) -> bool:
    """``can_vma_merge_after`` (mm/vma.c): same flags, compatible anon_vma, no driver ops or
    file, and ``prev``'s page offset runs on into ``pgoff``."""
    start, end, flags, prev_anon, prev_pgoff, ops, file = await load_all(
        [prev.vm_start, prev.vm_end, prev.vm_flags, prev.anon_vma, prev.vm_pgoff, prev.vm_ops,
         prev.vm_file], f"can_vma_merge_after {prev.name}")
    return bool(flags == vm_flags and ops is None and file is None
                and is_mergeable_anon_vma(prev_anon, anon_vma)
                and prev_pgoff + ((end - start) >> PAGE_SHIFT) == pgoff)


async def vma_merge_new_range(mm: MmStruct, start: int, end: int, vm_flags: int,
                              anon_vma: object, pgoff: int) -> VmAreaStruct | None:
    """``vma_merge_new_range`` (mm/vma.c): a new range ``[start, end)`` that can join the
    previous VMA expands it (``vma_expand``) instead of getting a VMA of its own.  Returns the
    expanded VMA or NULL (only the merge with ``prev`` is modelled)."""
    prev = await prev_of(mm, start)
    if prev is None or not await can_vma_merge_after(prev, vm_flags, anon_vma, pgoff):
        return None
    prev_start, prev_pgoff = await load_all([prev.vm_start, prev.vm_pgoff], "vmg->target = prev")
    if await vma_expand(mm, prev, prev_start, end, prev_pgoff):
        return None
    return prev


@kfunc("mainline")
async def vma_merge_existing_range(mm: MmStruct, prev: VmAreaStruct, middle: VmAreaStruct,
                                   vm_flags: int) -> VmAreaStruct | None:
    """``vma_merge_existing_range`` (mm/vma.c), the case where the whole of ``middle`` (its
    flags about to become ``vm_flags``) merges into ``prev``: write-lock ``prev`` and
    ``middle``, ``dup_anon_vma(prev, middle)``, then ``commit_merge`` expands ``prev`` over
    ``middle`` and removes it.  Returns ``prev``, or NULL when they cannot merge."""
    mmap_assert_write_locked(mm)
    end, mid_anon, mid_pgoff = await load_all(
        [middle.vm_end, middle.anon_vma, middle.vm_pgoff],
        f"vma_merge_existing_range {middle.name}")
    if not await can_vma_merge_after(prev, vm_flags, mid_anon, mid_pgoff):
        return None
    prev_start, prev_pgoff = await load_all([prev.vm_start, prev.vm_pgoff], "vmg->target = prev")
    await vma_start_write(prev)
    await vma_start_write(middle)
    if await dup_anon_vma(prev, middle):
        return None
    await commit_merge(mm, prev, prev_start, end, prev_pgoff, middle)
    return prev


async def vma_modify_flags(mm: MmStruct, vma: VmAreaStruct, vm_flags: int) -> VmAreaStruct:
    """``vma_modify_flags`` → ``vma_modify`` (mm/vma.c) for a whole VMA: merge it into the
    previous VMA if the new flags allow (``vma_merge_existing_range``), else keep it (the
    caller then changes its flags under ``vma_start_write``).  Splitting a partial range is
    not modelled here."""
    start = await vma.vm_start.load()
    prev = await prev_of(mm, start)
    if prev is not None:
        merged: VmAreaStruct | None = await vma_merge_existing_range(mm, prev, vma, vm_flags)
        if merged is not None:
            return merged
    return vma


async def vma_link(mm: MmStruct, vma: VmAreaStruct) -> int:
    """``vma_link`` (mm/vma.c): ``vma_start_write`` the new VMA, then
    ``vma_iter_store_new`` (attach and store)."""
    start, end = await load_all([vma.vm_start, vma.vm_end], "vma_iter_config")
    await vma_start_write(vma)
    await vma_mark_attached(vma)
    await vma_iter_store(mm, start, end, vma)
    return 0

