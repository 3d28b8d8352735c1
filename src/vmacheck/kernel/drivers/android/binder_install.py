"""Binder page installation (``drivers/android/binder_alloc.c``), in its versions.

``binder_install_single_page`` is versioned:

* ``mainline`` — 2025 – Jun 2026: ``binder_page_insert`` tries ``lock_vma_under_rcu`` and
  falls back to ``mmap_read_lock`` + ``vma_lookup``; -EBUSY answered by ``binder_page_lookup``
  (``mmap_read_lock``, ``get_user_pages_remote`` if still ``mapped``).
* ``write-lock`` — May 2023 – Dec 2024: everything under ``mmap_write_lock``, the cached
  ``alloc->vma``, re-check of ``pages[index]`` under the lock, any insert error → -ENOMEM.
* ``llamas-2024`` — (Carlos Llamas, 2024, "binder: concurrent page installation"): page
  allocated first, then ``mmap_read_lock`` + ``vma_lookup`` compared with ``alloc->vma``;
  -EBUSY → free ours, ``get_user_pages_remote`` for the installed one; other errors → -ENOMEM.
* ``hansen-p4`` — Hansen series patch 4: ``binder_page_insert`` through the wait helper
  ``vma_start_read_unlocked`` (whose own version, ``posted``/``fixed``, is selected
  separately); no mmap_lock fallback.
* ``put-lookup-ref`` — mainline with the fix for its page-reference leak: the -EBUSY loser
  drops the reference ``get_user_pages_remote`` took in ``binder_page_lookup`` (``put_page``)
  once it has recorded the page.

The leak, a known mainline bug (expected in :mod:`vmacheck.scenarios.known`): the -EBUSY
loser's ``binder_page_lookup`` passes a pages array to ``get_user_pages_remote``, which
implies ``FOLL_GET``, and nothing drops that reference (``binder_free_page`` drops binder's,
the zap drops the PTE's).  It came with d1716b4b78fb ("binder: concurrent page
installation") and moved into ``binder_page_lookup`` with 9e2aa76549b9; ``mainline``,
``llamas-2024`` and ``hansen-p4`` all have it (docs/findings/binder-page-lookup-leak.md).

Every version uses the model's one page representation: ``pages[index]`` plus a
``binder_shrinker_mdata`` in ``page_private`` (the 2025 form).  The 2023/2024 kernels kept a
static ``binder_lru_page`` per index instead; the locking, which is what is checked, is each
version's own.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import report
from vmacheck.explore.primitives import thread_id
from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.drivers.android.binder_alloc import (
    EBUSY,
    ENOMEM,
    ESRCH,
    BinderAlloc,
    binder_alloc_is_mapped,
    binder_free_page,
    binder_get_installed_page,
    binder_page_alloc,
    binder_set_installed_page,
)
from vmacheck.kernel.include.linux.mm import put_page
from vmacheck.kernel.variants import kfunc

PAGE_SIZE = bb.PAGE_SIZE

# ghost: per thread, the pin under which this thread last saw the binder VMA identified
_IDENTIFIED: dict[tuple[int, int], object] = {}


def _note_identified(alloc: BinderAlloc, vma: Any, ok: bool) -> None:
    """Record that this thread checked, under the lock it holds now, that ``vma`` is the
    binder VMA (``mapped`` true, or ``vma == alloc->vma``)."""
    key = (id(alloc), thread_id())
    _IDENTIFIED[key] = mmg.pin_token(vma) if ok else None


async def _binder_vm_insert_page(alloc: BinderAlloc, vma: Any, addr: int, page: Any) -> int:
    """``vm_insert_page`` from binder, with the model check ``binder-install-into-checked-vma``:
    the VMA was identified as binder's (``binder_alloc_is_mapped`` true, or ``vma ==
    alloc->vma``) under a lock that pins it (its VMA read lock or the mmap lock) and that is
    still held."""
    token = _IDENTIFIED.pop((id(alloc), thread_id()), None)
    if token is None or not mmg.still_pinned(token, vma):
        report("invariant", "invariant violated: binder-install-into-checked-vma: "
               f"vm_insert_page at {addr:#x} without checking mapped under a lock that "
               "pins the VMA")
    ret: int = await mmg.vm_insert_page(vma, addr, page)
    return ret


def reset_ghosts() -> None:
    """Model helper: forget per-thread ghost state (called when a model is built)."""
    _IDENTIFIED.clear()


# --------------------------------------------------------------------------- helpers


async def binder_page_lookup(alloc: BinderAlloc, addr: int) -> Any:
    """``binder_page_lookup`` (drivers/android/binder_alloc.c): under ``mmap_read_lock``, if still
    ``mapped``, ``get_user_pages_remote(FOLL_NOFAULT)`` for the page a PTE already maps."""
    mm = alloc.mm
    page = None
    await mmg.mmap_read_lock(mm)
    if await binder_alloc_is_mapped(alloc):
        npages, page = await mmg.get_user_pages_remote(mm, addr)
        if npages <= 0:
            page = None
    await mmg.mmap_read_unlock(mm)
    return page


async def _page_insert_mainline(alloc: BinderAlloc, addr: int, page: Any) -> int:
    """``binder_page_insert`` (2025 – Jun 2026): per-VMA lock, then mmap_lock fallback."""
    mm = alloc.mm
    ret = ESRCH
    vma = await mmg.lock_vma_under_rcu(mm, addr)
    if vma is not None:
        mapped = await binder_alloc_is_mapped(alloc)
        _note_identified(alloc, vma, mapped)
        if mapped:
            ret = await _binder_vm_insert_page(alloc, vma, addr, page)
        await mmg.vma_end_read(vma)
        return ret
    await mmg.mmap_read_lock(mm)
    vma = await mmg.vma_lookup(mm, addr)
    if vma is not None:
        mapped = await binder_alloc_is_mapped(alloc)
        _note_identified(alloc, vma, mapped)
        if mapped:
            ret = await _binder_vm_insert_page(alloc, vma, addr, page)
    await mmg.mmap_read_unlock(mm)
    return ret


async def _page_insert_hansen_p4(alloc: BinderAlloc, addr: int, page: Any) -> int:
    """``binder_page_insert`` after Hansen patch 4: ``vma_start_read_unlocked``; NULL →
    -ESRCH; insert only if ``mapped``; ``vma_end_read``."""
    ret = ESRCH
    vma = await mmg.vma_start_read_unlocked(alloc.mm, addr)
    if vma is None:
        return ESRCH
    mapped = await binder_alloc_is_mapped(alloc)
    _note_identified(alloc, vma, mapped)
    if mapped:
        ret = await _binder_vm_insert_page(alloc, vma, addr, page)
    await mmg.vma_end_read(vma)
    return ret


async def _install_tail(alloc: BinderAlloc, index: int, addr: int, page: Any,
                        ret: int) -> int:
    """The common end of ``binder_install_single_page`` (2025+): the -EBUSY / 0 / error
    switch, then ``mmput_async``."""
    if ret == EBUSY:
        ret = 0
        await binder_free_page(alloc, page, "install lost the race (-EBUSY)")
        page = await binder_page_lookup(alloc, addr)
        if page is None:
            ret = ESRCH
        else:
            await binder_set_installed_page(alloc, index, page)
    elif ret == 0:
        await binder_set_installed_page(alloc, index, page)
    else:
        await binder_free_page(alloc, page, f"install failed ({ret})")
    await mmg.mmput_async(alloc.mm)
    return ret


async def _install_tail_put_lookup_ref(alloc: BinderAlloc, index: int, addr: int,
                                       page: Any, ret: int) -> int:
    """:func:`_install_tail` with the leak fixed: after -EBUSY, the page found by
    ``binder_page_lookup`` is recorded and the lookup's ``get_user_pages_remote`` reference
    is dropped with ``put_page`` (the winner's reference, now binder's, and the PTE's keep
    the page)."""
    if ret == EBUSY:
        ret = 0
        await binder_free_page(alloc, page, "install lost the race (-EBUSY)")
        page = await binder_page_lookup(alloc, addr)
        if page is None:
            ret = ESRCH
        else:
            await binder_set_installed_page(alloc, index, page)
            await put_page(page)
    elif ret == 0:
        await binder_set_installed_page(alloc, index, page)
    else:
        await binder_free_page(alloc, page, f"install failed ({ret})")
    await mmg.mmput_async(alloc.mm)
    return ret


# --------------------------------------------------------------------------- versions


@kfunc("mainline")
async def binder_install_single_page(alloc: BinderAlloc, index: int, addr: int) -> int:
    """``binder_install_single_page`` (drivers/android/binder_alloc.c), mainline 2025 – Jun
    2026: ``binder_page_insert`` tries the per-VMA lock, then falls back to
    ``mmap_read_lock``."""
    if not await mmg.mmget_not_zero(alloc.mm):
        return ESRCH
    page = await binder_page_alloc(alloc, index)
    if page is None:
        await mmg.mmput_async(alloc.mm)
        return ENOMEM
    ret = await _page_insert_mainline(alloc, addr, page)
    return await _install_tail(alloc, index, addr, page, ret)


@binder_install_single_page.variant("put-lookup-ref")
async def _install_put_lookup_ref(alloc: BinderAlloc, index: int, addr: int) -> int:
    """Mainline with the lookup's page reference dropped: after -EBUSY, ``put_page`` the
    page ``binder_page_lookup`` returned once it is recorded (drivers/android/binder_alloc.c:
    binder_install_single_page; fixes the leak of d1716b4b78fb / 9e2aa76549b9)."""
    if not await mmg.mmget_not_zero(alloc.mm):
        return ESRCH
    page = await binder_page_alloc(alloc, index)
    if page is None:
        await mmg.mmput_async(alloc.mm)
        return ENOMEM
    ret = await _page_insert_mainline(alloc, addr, page)
    return await _install_tail_put_lookup_ref(alloc, index, addr, page, ret)


@binder_install_single_page.variant("hansen-p4")
async def _install_hansen_p4(alloc: BinderAlloc, index: int, addr: int) -> int:
    """Hansen patch 4: install through vma_start_read_unlocked, no mmap_lock fallback
    (drivers/android/binder_alloc.c: binder_page_insert)."""
    if not await mmg.mmget_not_zero(alloc.mm):
        return ESRCH
    page = await binder_page_alloc(alloc, index)
    if page is None:
        await mmg.mmput_async(alloc.mm)
        return ENOMEM
    ret = await _page_insert_hansen_p4(alloc, addr, page)
    return await _install_tail(alloc, index, addr, page, ret)


@binder_install_single_page.variant("write-lock")
async def _install_write_lock(alloc: BinderAlloc, index: int, addr: int) -> int:
    """May 2023 – Dec 2024: everything under mmap_write_lock with the cached alloc->vma
    (drivers/android/binder_alloc.c: binder_install_single_page, before Carlos Llamas' 2024 "binder:
    concurrent page installation")."""
    mm = alloc.mm
    if not await mmg.mmget_not_zero(mm):
        return ESRCH
    ret = 0
    await mmg.mmap_write_lock(mm)
    if await binder_get_installed_page(alloc, index) is None:
        vma = await alloc.vma.load()
        _note_identified(alloc, vma, vma is not None)
        if vma is None:
            ret = ESRCH
        else:
            page = await binder_page_alloc(alloc, index)
            if page is None:
                ret = ENOMEM
            else:
                ret = await _binder_vm_insert_page(alloc, vma, addr, page)
                if ret:
                    await binder_free_page(alloc, page, f"install failed ({ret})")
                    ret = ENOMEM
                else:
                    await binder_set_installed_page(alloc, index, page)
    await mmg.mmap_write_unlock(mm)
    await mmg.mmput_async(mm)
    return ret


@binder_install_single_page.variant("llamas-2024")
async def _install_llamas_2024(alloc: BinderAlloc, index: int, addr: int) -> int:
    """Carlos Llamas 2024, "binder: concurrent page installation": mmap_read_lock, vma_lookup ==
    alloc->vma, -EBUSY answered with get_user_pages_remote (drivers/android/binder_alloc.c:
    binder_install_single_page)."""
    mm = alloc.mm
    if not await mmg.mmget_not_zero(mm):
        return ESRCH
    page = await binder_page_alloc(alloc, index)
    if page is None:
        await mmg.mmput_async(mm)
        return ENOMEM
    await mmg.mmap_read_lock(mm)
    vma = await mmg.vma_lookup(mm, addr)
    cached = await alloc.vma.load()
    _note_identified(alloc, vma, vma is not None and vma is cached)
    if vma is None or vma is not cached:
        await mmg.mmap_read_unlock(mm)
        await binder_free_page(alloc, page, "install found no vma")
        await mmg.mmput_async(mm)
        return ESRCH
    ret = await _binder_vm_insert_page(alloc, vma, addr, page)
    if ret == EBUSY:
        ret = 0
        await binder_free_page(alloc, page, "install lost the race (-EBUSY)")
        npages, page = await mmg.get_user_pages_remote(mm, addr, 0)
        if npages <= 0:
            ret = ESRCH
        else:
            await binder_set_installed_page(alloc, index, page)
    elif ret == 0:
        await binder_set_installed_page(alloc, index, page)
    else:
        await binder_free_page(alloc, page, f"install failed ({ret})")
        ret = ENOMEM
    await mmg.mmap_read_unlock(mm)
    await mmg.mmput_async(mm)
    return ret


async def binder_install_buffer_pages(alloc: BinderAlloc, buffer: bb.BinderBuffer,
                                      size: int) -> int:
    """``binder_install_buffer_pages`` (drivers/android/binder_alloc.c): install every page the
    buffer touches that ``pages[index]`` (acquire) does not show installed; return the first
    error."""
    vm_start = alloc.vm_start_hint
    for page_addr in bb.pages_of(buffer.user_data, size):
        index = (page_addr - vm_start) // PAGE_SIZE
        if await binder_get_installed_page(alloc, index) is not None:
            continue
        ret: int = await binder_install_single_page(alloc, index, page_addr)
        if ret:
            return ret
    return 0
