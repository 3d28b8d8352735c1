"""The binder allocator (``drivers/android/binder_alloc.c``): state, mmap, buffers.

``struct binder_alloc`` with its ``mutex``, ``mapped`` flag (release/acquire), ``pages[]``
(one :class:`~vmacheck.Var` per page, written with release, read with acquire), the buffer
layout (:mod:`.binder_buffers`), async space, and the global ``binder_freelist`` (a
:class:`~vmacheck.kernel.lib.list_lru.ListLru`).  Installation: :mod:`.binder_install`; the
shrinker: :mod:`.binder_shrinker`; release and the debugfs readers: :mod:`.binder_alloc_release`;
the checked properties: :mod:`.binder_props`.

Model-only ("ghost") state, read by invariants and never by the kernel paths: the set of
pages binder has given up (``relinquished``) and each thread's last ``mapped`` check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vmacheck.explore import WARN_ON, Allocation, Mutex, SpinLock, Var, current
from vmacheck.explore.lazy import lazy_field, make_fields
from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.include.linux.fault_inject import should_failslab
from vmacheck.kernel.lib.list_lru import ListLru, list_lru_add, list_lru_del
from vmacheck.kernel.variants import kfunc

PAGE_SIZE = bb.PAGE_SIZE
ESRCH = -3
ENOMEM = -12
EBUSY = -16
EINVAL = -22
ENOSPC = -28


class BinderShrinkerMdata:
    """``struct binder_shrinker_mdata``: the LRU node, back-pointer and index of one page.

    Allocated with the page (``binder_page_alloc``) and freed with it (``binder_free_page``).
    The model takes them from a pool built with the model (object identities must not depend
    on the schedule); each is used once, and its fields die with its
    :class:`~vmacheck.Allocation`, so a touch after the ``kfree`` is a use-after-free finding.
    The shared fields are made when first used (``lazy_field``: most of the pool is never
    allocated in an execution).
    """

    memory = lazy_field(0, lambda m, oid: Allocation(f"mdata#{m.serial}", oid=oid))
    page_index = lazy_field(1, lambda m, oid: Var(f"mdata#{m.serial}.page_index", -1,
                                                  alloc=m.memory, oid=oid))
    lru_node = lazy_field(2, lambda m, oid: Var(f"mdata#{m.serial}.lru", False,
                                                alloc=m.memory, oid=oid))

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self._oid_base = current().reserve(3)
        make_fields(self)
        self.alloc: BinderAlloc | None = None
        self.index = -1

    def __repr__(self) -> str:
        return f"mdata#{self.serial}[{self.index}]"


class BinderFreelist:
    """The global ``binder_freelist`` list_lru, the global ``binder_alloc_mmap_lock``, and the
    model's pool of ``binder_shrinker_mdata`` objects (``kzalloc`` takes the next one)."""

    def __init__(self, mdata_pool: int = 8) -> None:
        self.lru = ListLru("binder_freelist")
        self.mmap_lock = Mutex("binder_alloc_mmap_lock")
        self.pool = [BinderShrinkerMdata(i) for i in range(mdata_pool)]
        self.next_mdata = Var("kmalloc(binder_shrinker_mdata)", 0)


class BinderAlloc:
    """``struct binder_alloc`` (drivers/android/binder_alloc.h).

    ``npages`` fixes the size of the modelled ``pages[]`` array up front (the kernel allocates
    it in the mmap handler; the model creates its variables at set-up and the handler only
    makes them meaningful; ``binder_alloc_deferred_release`` frees them, ``kvfree``).  ``vma``
    is the pre-Dec-2024 cached ``alloc->vma`` (set by the mmap handler, cleared by close), used
    by the 2023/2024 versions of install and shrink.

    ``vm_start_hint`` mirrors ``vm_start`` for address arithmetic without a model step (the
    field is written once, by the mmap handler, before ``mapped`` is published).  Ghost state,
    read only by the checks: ``relinquished`` (pages ``binder_free_page`` gave up, and who),
    ``releasing`` (deferred release started).
    """

    def __init__(self, mm: Any, freelist: BinderFreelist, npages: int, pid: int = 1) -> None:
        self.mm = mm
        self.pid = pid
        self.freelist = freelist
        self.npages = npages
        self.mutex = Mutex("alloc->mutex", lock_class="binder_alloc.mutex")
        self.mapped = Var("alloc->mapped", False)
        self.vma = Var("alloc->vma", None)
        self.vm_start = Var("alloc->vm_start", 0)
        self.buffer_size = Var("alloc->buffer_size", 0)
        self.buffers = Var("alloc->buffers", ())
        self.free_async_space = Var("alloc->free_async_space", 0)
        self.pages_high = Var("alloc->pages_high", 0)
        self.pages_mem = Allocation("alloc->pages")
        self.pages_array = Var("alloc->pages", None)
        """The ``alloc->pages`` pointer: None until ``binder_alloc_mmap_handler`` allocates the
        array (``kvcalloc``), None again if it rolls back."""
        self.pages = [Var(f"alloc->pages[{i}]", None, alloc=self.pages_mem)
                      for i in range(npages)]
        # struct binder_proc, folded in: tmp_ref, is_dead and inner_lock (binder.c)
        self.proc_inner_lock = SpinLock("proc->inner_lock")
        self.proc_tmp_ref = Var("proc->tmp_ref", 0)
        self.proc_is_dead = Var("proc->is_dead", False)
        # ghost state
        self.relinquished: list[tuple[Any, str]] = []
        self.relinquished_ghost = Var("alloc->relinquished (ghost)", 0)
        self.releasing = False
        self.debug_ids = 1
        self.vm_start_hint = 0

    def peek_layout(self) -> bb.Layout:
        value: bb.Layout = self.buffers.peek()
        return value


# --------------------------------------------------------------------------- pages[] access


async def binder_get_installed_page(alloc: BinderAlloc, index: int) -> Any:
    """``binder_get_installed_page`` (drivers/android/binder_alloc.c):
    ``smp_load_acquire(&alloc->pages[index])``."""
    return await alloc.pages[index].load(mode="acquire")


@kfunc("mainline")
async def binder_set_installed_page(alloc: BinderAlloc, index: int, page: Any) -> None:
    """``binder_set_installed_page`` (drivers/android/binder_alloc.c):
    ``smp_store_release(&alloc->pages[index], page)``: the page's set-up (``page_private``) is
    visible to whoever finds it in ``pages[]``."""
    await alloc.pages[index].store(page, mode="release")


@binder_set_installed_page.variant("no-release")
async def _binder_set_installed_page_once(alloc: BinderAlloc, index: int, page: Any) -> None:
    """``binder_set_installed_page`` with ``WRITE_ONCE`` instead of ``smp_store_release``: a
    reader of ``pages[]`` may find the page before its ``page_private`` is visible."""
    await alloc.pages[index].store(page, mode="once")


async def binder_alloc_is_mapped(alloc: BinderAlloc) -> bool:
    """``binder_alloc_is_mapped`` (drivers/android/binder_alloc.c):
    ``smp_load_acquire(&alloc->mapped)``."""
    value: bool = await alloc.mapped.load(mode="acquire")
    return value


async def binder_alloc_set_mapped(alloc: BinderAlloc, state: bool) -> None:
    """``binder_alloc_set_mapped`` (drivers/android/binder_alloc.c):
    ``smp_store_release(&alloc->mapped, state)``."""
    await alloc.mapped.store(state, mode="release")


async def page_to_lru(page: Any) -> BinderShrinkerMdata:
    """``page_to_lru`` (drivers/android/binder_alloc.c): the mdata hanging off
    ``page_private(page)`` (a load of ``page->private``)."""
    mdata: BinderShrinkerMdata = await page.private.load()
    return mdata


async def binder_page_alloc(alloc: BinderAlloc, index: int) -> Any:
    """``binder_page_alloc`` (drivers/android/binder_alloc.c): a zeroed page plus its shrinker
    metadata in ``page_private``.

    Returns None when the page pool or the mdata pool is exhausted (``-ENOMEM``)."""
    page = await mmg.alloc_page()
    if page is None:
        return None
    if await should_failslab("binder_page_alloc: kzalloc(binder_shrinker_mdata)"):
        await mmg.free_page(page)
        return None
    serial: int = await alloc.freelist.next_mdata.fetch_add(1)
    if serial >= len(alloc.freelist.pool):
        await mmg.free_page(page)
        return None
    mdata = alloc.freelist.pool[serial]
    mdata.alloc = alloc
    mdata.index = index
    await mdata.page_index.store(index)
    await page.private.store(mdata)
    return page


async def binder_free_page(alloc: BinderAlloc, page: Any, who: str) -> None:
    """``binder_free_page`` (drivers/android/binder_alloc.c): ``kfree`` the mdata
    (``page_private``), then ``__free_page``."""
    mdata = await page_to_lru(page)
    # ghost step: the hand-back is a write the page checks can see (invariant ``reads=``)
    await alloc.relinquished_ghost.fetch_add(1)
    alloc.relinquished.append((page, who))
    await mdata.memory.free()
    await mmg.free_page(page)


# --------------------------------------------------------------------------- LRU helpers


async def binder_lru_freelist_add(alloc: BinderAlloc, start: int, end: int) -> None:
    """``binder_lru_freelist_add`` (drivers/android/binder_alloc.c): put the installed pages of
    ``[start, end)`` on the LRU."""
    vm_start = alloc.vm_start_hint
    for page_addr in range(start, end, PAGE_SIZE):
        index = (page_addr - vm_start) // PAGE_SIZE
        page = await binder_get_installed_page(alloc, index)
        if page is None:
            continue
        ret = await list_lru_add(alloc.freelist.lru, await page_to_lru(page))
        WARN_ON(not ret, f"list_lru_add of page {index} already on the freelist")


async def binder_lru_freelist_del(alloc: BinderAlloc, start: int, end: int) -> None:
    """``binder_lru_freelist_del`` (drivers/android/binder_alloc.c): take the installed pages of
    ``[start, end)`` off the LRU; an uninstalled page only raises ``pages_high``."""
    vm_start = alloc.vm_start_hint
    for page_addr in range(start, end, PAGE_SIZE):
        index = (page_addr - vm_start) // PAGE_SIZE
        page = await binder_get_installed_page(alloc, index)
        if page is not None:
            on_lru = await list_lru_del(alloc.freelist.lru, await page_to_lru(page))
            WARN_ON(not on_lru, f"list_lru_del of page {index} not on the freelist")
            continue
        await alloc.pages_high.update(_raise_to(index + 1))


def _raise_to(high: int) -> Callable[[int], int]:
    def update(h: int) -> int:
        return max(h, high)

    return update


# --------------------------------------------------------------------------- mmap, close


async def binder_alloc_mmap_handler(alloc: BinderAlloc, vma: Any) -> int:
    """``binder_alloc_mmap_handler`` (drivers/android/binder_alloc.c): one-shot set-up of the buffer
    space for ``vma``.

    Rejects a foreign mm (-EINVAL) and a second mapping (-EBUSY, ``buffer_size`` already set,
    under ``binder_alloc_mmap_lock``); sets ``buffer_size`` (≤ 4 MiB), ``vm_start``, allocates
    ``pages[]`` (``kvcalloc``) and the first buffer (``kzalloc``): one free buffer over
    everything, half the space for async; finally ``mapped = true`` (release).  If an
    allocation fails (-ENOMEM) it rolls back: ``kvfree`` the array, ``vm_start = 0`` and
    ``buffer_size = 0`` under ``binder_alloc_mmap_lock``.
    Also sets the era field ``alloc->vma`` (pre-Dec-2024 kernels cached the VMA here).
    """
    if mmg.vma_mm(vma) is not alloc.mm:
        return EINVAL
    await alloc.freelist.mmap_lock.lock()
    if await alloc.buffer_size.load():
        await alloc.freelist.mmap_lock.unlock()
        return EBUSY
    start, end = await mmg.vma_range(vma)
    size = min(end - start, bb.SZ_4M, alloc.npages * PAGE_SIZE)
    await alloc.buffer_size.store(size)
    await alloc.freelist.mmap_lock.unlock()
    await alloc.vm_start.store(start)
    alloc.vm_start_hint = start
    if await should_failslab("binder_alloc_mmap_handler: kvcalloc(alloc->pages)"):
        ret = ENOMEM
    else:
        await alloc.pages_array.store(("pages", alloc.npages))
        if await should_failslab("binder_alloc_mmap_handler: kzalloc(binder_buffer)"):
            ret = ENOMEM
            await alloc.pages_array.store(None)  # err_alloc_buf_struct_failed: kvfree
        else:
            await alloc.buffers.store(bb.initial_layout(start))
            await alloc.free_async_space.store(size // 2)
            await alloc.vma.store(vma)
            await binder_alloc_set_mapped(alloc, True)
            return 0
    # err_alloc_pages_failed: undo vm_start and buffer_size under binder_alloc_mmap_lock
    await alloc.vm_start.store(0)
    await alloc.freelist.mmap_lock.lock()
    await alloc.buffer_size.store(0)
    await alloc.freelist.mmap_lock.unlock()
    return ret


async def binder_alloc_vma_close(alloc: BinderAlloc) -> None:
    """``binder_alloc_vma_close`` (drivers/android/binder_alloc.c): ``mapped = false`` (and, as
    before Dec 2024, clear ``alloc->vma``)."""
    await binder_alloc_set_mapped(alloc, False)
    await alloc.vma.store(None)


# --------------------------------------------------------------------------- buffers


async def binder_alloc_new_buf(alloc: BinderAlloc, data_size: int, offsets_size: int = 0,
                               extra_buffers_size: int = 0, is_async: bool = False) -> Any:
    """``binder_alloc_new_buf`` (drivers/android/binder_alloc.c): allocate under the mutex, then
    install pages without it.

    Returns the :class:`~.binder_buffers.BinderBuffer` or a negative errno.  On an install
    error the buffer is freed again (``binder_alloc_free_buf``) and the error returned.
    """
    from vmacheck.kernel.drivers.android.binder_install import binder_install_buffer_pages

    if not await binder_alloc_is_mapped(alloc):
        return ESRCH
    size = bb.sanitized_size(data_size, offsets_size, extra_buffers_size)
    await alloc.mutex.lock()
    if is_async and await alloc.free_async_space.load() < size:
        await alloc.mutex.unlock()
        return ENOSPC
    vm_end = alloc.vm_start_hint + await alloc.buffer_size.load()
    layout: bb.Layout = await alloc.buffers.load()
    alloc.debug_ids += 1
    res = bb.new_buf_locked(layout, size, vm_end, alloc.debug_ids, data_size, is_async)
    if res.buffer is None:
        await alloc.mutex.unlock()
        return ENOSPC
    await binder_lru_freelist_del(alloc, *res.lru_del)
    await alloc.buffers.store(res.layout)
    if is_async:
        await alloc.free_async_space.update(lambda s: s - size)
    await alloc.mutex.unlock()
    ret = await binder_install_buffer_pages(alloc, res.buffer, size)
    if ret:
        await binder_alloc_free_buf(alloc, res.buffer)
        return int(ret)
    return res.buffer


async def binder_free_buf_locked(alloc: BinderAlloc, buffer: bb.BinderBuffer) -> None:
    """``binder_free_buf_locked`` (drivers/android/binder_alloc.c): async space back, LRU add,
    coalesce; mutex held."""
    layout: bb.Layout = await alloc.buffers.load()
    vm_end = alloc.vm_start_hint + await alloc.buffer_size.load()
    res = bb.free_buf_locked(layout, buffer.user_data, vm_end)
    if buffer.async_transaction:
        await alloc.free_async_space.update(lambda s: s + res.buffer_size)
    for start, end in res.lru_add:
        await binder_lru_freelist_add(alloc, start, end)
    await alloc.buffers.store(res.layout)


async def binder_alloc_free_buf(alloc: BinderAlloc, buffer: bb.BinderBuffer) -> None:
    """``binder_alloc_free_buf`` (drivers/android/binder_alloc.c): ``binder_free_buf_locked`` under
    ``alloc->mutex``."""
    await alloc.mutex.lock()
    await binder_free_buf_locked(alloc, buffer)
    await alloc.mutex.unlock()
