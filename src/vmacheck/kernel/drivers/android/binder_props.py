"""Binder properties as registered invariants, and outcome functions.

These are model checks, not kernel code: they read state directly (``peek``/``_value``).

* ``binder-no-page-given-up-while-mapped`` (``binder_alloc_free_page``,
  drivers/android/binder_alloc.c): no page binder has freed (``binder_free_page``) is mapped by a
  PTE of an *attached* VMA (in the tree, ``vm_refcnt`` not 0).  PTEs of a VMA already detached by an
  in-progress munmap are tolerated.
* ``binder-given-up-page-still-mapped-at-end``: the same, checked once at the end of the
  execution: a page binder gave up that an attached VMA *still* maps when every thread has
  finished (a persistent leak, as opposed to a window an in-flight munmap closes).
* ``binder-pages-match-mdata`` (``binder_page_alloc``, ``binder_free_page``): ``pages[i]`` is a live
  page whose live ``binder_shrinker_mdata`` points back to this alloc and index, and binder never
  freed it.
* ``binder-lru-iff-installed-and-free`` (``binder_lru_freelist_add``/``_del``): whenever neither
  ``alloc->mutex`` nor the LRU lock is held, a page is on the freelist exactly when it is installed
  and no allocated buffer covers it, and the freelist holds no stale entry of this alloc.
* ``binder-page-references-balanced`` (at the end): every binder page not freed holds one
  reference per PTE mapping it plus binder's own (if ``pages[]`` has it); none is orphaned.
* ``binder-no-page-given-up-while-any-pte-maps-it`` (opt-in, :func:`register_strict_checks`):
  the stricter variant of ``binder-no-page-given-up-while-mapped`` — no freed binder page mapped by
  *any* PTE, detached VMAs included.  The pre-series shrinker violates it benignly in munmap's
  downgrade window (``vms_complete_munmap_vmas``, mm/vma.c, zaps after ``mmap_write_downgrade``).
* ``binder-install-into-checked-vma`` (``binder_page_insert``) is checked where binder calls
  ``vm_insert_page`` (:mod:`.binder_install`).
* "the shrinker never blocks" (``list_lru_walk`` calls it under the LRU spinlock) is the engine's
  ``sleep-in-atomic`` check: the callback runs under the LRU spinlock.
"""

from __future__ import annotations

import functools
from typing import Any

from vmacheck.explore import at_close, invariant, outcome
from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderAlloc,
    BinderShrinkerMdata,
)
from vmacheck.kernel.drivers.android.binder_alloc_release import page_counts
from vmacheck.kernel.include.linux.mm_types import PAGE_SIZE, Page, VmaSlot, kernel_state
from vmacheck.kernel.include.linux.mmap_lock import per_vma_lock


def _attached_mappings(alloc: BinderAlloc) -> dict[int, tuple[str, int]]:
    """id(page) → (vma name, address) for every PTE of an attached VMA of any mm."""
    out: dict[int, tuple[str, int]] = {}
    for mm in kernel_state().mms:
        for start, end, vma in mm.mm_mt._value:
            if per_vma_lock() and vma.slot.vm_refcnt._value == 0:
                continue
            for addr in range(start, end, PAGE_SIZE):
                pte = mm.pte.made(addr)  # never made (or outside the table): maps nothing
                if pte is not None and pte._value is not None:
                    out[id(pte._value)] = (vma.name, addr)
    return out


def check_no_page_given_up_while_mapped(alloc: BinderAlloc) -> bool:
    """Model check: ``binder-no-page-given-up-while-mapped``."""
    if not alloc.relinquished:
        return True
    mapped = _attached_mappings(alloc)
    return not any(id(page) in mapped for page, _ in alloc.relinquished)


def check_no_page_given_up_while_any_pte_maps_it(alloc: BinderAlloc) -> bool:
    """Model check: the stricter page check (any PTE, detached VMAs too)."""
    ptes = {id(var._value) for mm in kernel_state().mms for _, var in mm.pte.made_items()
            if var._value is not None}
    return not any(id(page) in ptes for page, _ in alloc.relinquished)


def register_strict_checks(alloc: BinderAlloc) -> None:
    """Model check: register the stricter, opt-in page check (no freed binder page mapped by any
    PTE)."""
    invariant("binder-no-page-given-up-while-any-pte-maps-it",
              lambda: check_no_page_given_up_while_any_pte_maps_it(alloc))


def check_pages_match_mdata(alloc: BinderAlloc) -> bool:
    """Model check: ``binder-pages-match-mdata``."""
    if alloc.releasing or alloc.mutex.owner is not None:
        return True
    given_up = {id(p) for p, _ in alloc.relinquished}
    for i, var in enumerate(alloc.pages):
        page = var._value
        if page is None:
            continue
        if page.alloc.freed or id(page) in given_up:
            return False
        mdata = page.private._value
        if not isinstance(mdata, BinderShrinkerMdata) or mdata.memory.freed:
            return False
        if mdata.alloc is not alloc or mdata.page_index._value != i:
            return False
    return True


def check_lru_iff_installed_and_free(alloc: BinderAlloc) -> bool:
    """Model check: ``binder-lru-iff-installed-and-free``."""
    if alloc.mutex.owner is not None or alloc.freelist.lru.lock.owner is not None:
        return True
    items = alloc.freelist.lru.items._value
    if alloc.releasing:
        return alloc.mutex.owner is not None or not any(m.alloc is alloc for m in items)
    start = alloc.vm_start._value
    end = start + alloc.buffer_size._value
    covered = bb.covering_allocated(alloc.buffers._value, start, end)
    mine = [m for m in items if m.alloc is alloc]
    expected_on: set[int] = set()
    for i, var in enumerate(alloc.pages):
        page = var._value
        if page is not None and covered.get(i, 0) == 0:
            expected_on.add(id(page.private._value))
    return {id(m) for m in mine} == expected_on and len(mine) == len(expected_on)


def check_page_references_balanced(alloc: BinderAlloc) -> bool:
    """Model check: ``binder-page-references-balanced``."""
    return not page_reference_problems(alloc)


def page_reference_problems(alloc: BinderAlloc) -> list[str]:
    """Model check: binder pages (pages whose ``private`` is one of this alloc's mdata) that are
    alive with a reference count other than PTEs + binder's, for the end check and reports."""
    problems: list[str] = []
    ptes: dict[int, int] = {}
    for mm in kernel_state().mms:
        for _, var in mm.pte.made_items():
            if var._value is not None:
                ptes[id(var._value)] = ptes.get(id(var._value), 0) + 1
    installed = set() if alloc.pages_mem.freed else {
        id(v._value) for v in alloc.pages if v._value is not None}
    for page in kernel_state().pages:
        # a page whose private was never made holds no mdata (nor was it ever allocated)
        private = Page.private.made(page)
        if private is None or page.alloc.freed:
            continue
        mdata = private._value
        if not isinstance(mdata, BinderShrinkerMdata) or mdata.alloc is not alloc:
            continue
        expected = ptes.get(id(page), 0) + (1 if id(page) in installed else 0)
        if page._refcount._value != expected:
            problems.append(f"{page}: refcount {page._refcount._value}, expected {expected}")
    return problems


def _page_mapping_objects(alloc: BinderAlloc) -> list[Any]:
    """What the mapped-page check reads: every PTE and VMA tree, every VMA slot's
    ``vm_refcnt`` and binder's hand-back ghost.  Naming them makes every write to them
    visible to the explorer, so the check sees every state it could (not only the states of
    the interleaving explored per trace).  The PTEs and ``vm_refcnt`` fields are named by
    their ids: they are made when first touched."""
    state = kernel_state()
    objs: list[Any] = [alloc.relinquished_ghost]
    for mm in state.mms:
        objs.append(mm.mm_mt)
        objs.extend(mm.pte.ids())  # by id: the PTEs are made when first touched
    objs.extend(VmaSlot.vm_refcnt.id_of(slot) for slot in state.slots)  # made when used
    return objs


def _installed_page_objects(alloc: BinderAlloc) -> list[Any]:
    """What :func:`check_pages_match_mdata` and :func:`check_lru_iff_installed_and_free`
    read: ``alloc->mutex`` and the LRU lock (their owners), ``pages[]``, the freelist, the
    buffer layout and bounds, the hand-back ghost, and each installed page's memory,
    ``private`` and mdata.  Asked again whenever one of them is written, so a page newly
    installed is watched from then on (``invariant(watch=)``).  The checks read no held
    resource of any thread (``releasing`` is set in the step that takes the mutex,
    ``relinquished`` grows in the step that writes the ghost), so no lock taken or released
    elsewhere re-runs them (``lock_classes=()``)."""
    objs: list[Any] = [alloc.mutex, alloc.freelist.lru.lock, alloc.freelist.lru.items,
                       alloc.vm_start, alloc.buffer_size, alloc.buffers,
                       alloc.relinquished_ghost, *alloc.pages]
    for var in alloc.pages:
        page = var._value
        if page is None:
            continue
        objs.append(page.alloc)
        objs.append(page.private)
        mdata = page.private._value
        if isinstance(mdata, BinderShrinkerMdata):
            objs.append(mdata.memory)
            objs.append(mdata.page_index)
    return objs


def register_binder_checks(alloc: BinderAlloc) -> None:
    """Model check: register the binder invariants for ``alloc`` (call while building the model)."""
    invariant("binder-no-page-given-up-while-mapped",
              lambda: check_no_page_given_up_while_mapped(alloc),
              reads=_page_mapping_objects(alloc))
    invariant("binder-given-up-page-still-mapped-at-end",
              lambda: check_no_page_given_up_while_mapped(alloc), at_end=True)
    watch = functools.partial(_installed_page_objects, alloc)
    invariant("binder-pages-match-mdata", lambda: check_pages_match_mdata(alloc), watch=watch,
              lock_classes=())
    invariant("binder-lru-iff-installed-and-free",
              lambda: check_lru_iff_installed_and_free(alloc), watch=watch, lock_classes=())
    invariant("binder-page-references-balanced",
              lambda: check_page_references_balanced(alloc), at_end=True)
    # the kzalloc pool points at mdata that point back at their alloc: unlink at the end
    at_close(alloc.freelist.pool.clear)


def page_state_outcome(alloc: BinderAlloc) -> None:
    """Model check: label each execution's end with ``binder_alloc_print_pages``'
    active:lru:free."""

    def describe() -> str:
        active, lru, free = page_counts(alloc)
        return f"pages {active}:{lru}:{free}"

    outcome(describe)


def page_states(alloc: BinderAlloc) -> list[str]:
    """Model check: per page index: ``active`` (installed, off the LRU), ``lru`` or ``free``."""
    on_lru = {id(m) for m in alloc.freelist.lru.items._value}
    out: list[str] = []
    if alloc.pages_mem.freed:
        return out
    for var in alloc.pages:
        page: Any = var._value
        if page is None:
            out.append("free")
        elif id(page.private._value) in on_lru:
            out.append("lru")
        else:
            out.append("active")
    return out


def mmap_rollback_problems(alloc: BinderAlloc) -> list[str]:
    """Model check: what a failed ``binder_alloc_mmap_handler`` left behind, for an alloc
    that is not mapped and was never closed: the handler must undo ``buffer_size`` and
    ``vm_start``, free ``pages[]`` and the first buffer, and no page may be installed."""
    out = []
    if alloc.buffer_size.peek():
        out.append(f"buffer_size {alloc.buffer_size.peek():#x}")
    if alloc.vm_start.peek():
        out.append(f"vm_start {alloc.vm_start.peek():#x}")
    if alloc.pages_array.peek() is not None:
        out.append("pages[] not freed")
    if alloc.buffers.peek():
        out.append("buffer struct not freed")
    out += [f"page {i} installed" for i, v in enumerate(alloc.pages) if v.peek() is not None]
    return out


def register_mmap_failure_checks(alloc: BinderAlloc) -> None:
    """Model check: register ``binder-mmap-failure-rolled-back`` for an alloc whose mmap may
    fail (checked at the end of each execution in which it is not mapped)."""
    invariant("binder-mmap-failure-rolled-back",
              lambda: alloc.mapped.peek() or not mmap_rollback_problems(alloc), at_end=True)
