"""The binder driver's mm hooks (``drivers/android/binder.c``) and model set-up helpers.

``binder_mmap`` (the ``.mmap`` file operation ``mmap_region`` calls before the VMA is in the
tree), ``binder_vm_ops`` (``open``, ``close`` → ``binder_alloc_vma_close``, ``fault`` →
``VM_FAULT_SIGBUS``).  The ``setup_*`` functions are not kernel functions: they build, before
the threads start, the state a completed ``mmap`` + allocations would have left.
"""

from __future__ import annotations

from typing import Any

from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderAlloc,
    BinderFreelist,
    binder_alloc_mmap_handler,
    binder_alloc_vma_close,
)
from vmacheck.kernel.drivers.android.binder_alloc_release import binder_alloc_deferred_release
from vmacheck.kernel.include.linux.mm_types import (
    VM_DONTCOPY,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_MIXEDMAP,
    VM_READ,
    VM_WRITE,
    File,
    FileOperations,
    MmStruct,
    VmAreaStruct,
    VmOperationsStruct,
)
from vmacheck.kernel.kernel.workqueue import queue_work

EPERM = -1
VM_FAULT_SIGBUS = 0x000002
FORBIDDEN_MMAP_FLAGS = VM_WRITE


async def binder_vma_open(vma: VmAreaStruct) -> None:
    """``binder_vma_open`` (drivers/android/binder.c): debug print only."""


async def binder_vma_close(vma: VmAreaStruct) -> None:
    """``binder_vma_close`` (drivers/android/binder.c): ``binder_alloc_vma_close``."""
    proc = await vma.vm_private_data.load()
    await binder_alloc_vma_close(proc)


async def binder_vm_fault(vma: VmAreaStruct, address: int, flags: int) -> int:
    """``binder_vm_fault`` (drivers/android/binder.c): user faults never populate binder
    pages."""
    return VM_FAULT_SIGBUS


binder_vm_ops = VmOperationsStruct("binder_vm_ops", open=binder_vma_open,
                                   close=binder_vma_close, fault=binder_vm_fault)


async def binder_mmap(filp: File, vma: VmAreaStruct) -> int:
    """``binder_mmap`` (drivers/android/binder.c): refuse writable mappings, set
    ``VM_DONTCOPY | VM_MIXEDMAP``, clear ``VM_MAYWRITE``, install ``binder_vm_ops`` and the
    proc, then ``binder_alloc_mmap_handler``."""
    alloc: BinderAlloc = filp.private_data
    flags: int = await vma.vm_flags.load()
    if flags & FORBIDDEN_MMAP_FLAGS:
        return EPERM
    await vma.vm_flags.store((flags | VM_DONTCOPY | VM_MIXEDMAP) & ~VM_MAYWRITE)
    await vma.vm_ops.store(binder_vm_ops)
    await vma.vm_private_data.store(alloc)
    return await binder_alloc_mmap_handler(alloc, vma)


async def binder_free_proc(alloc: BinderAlloc) -> None:
    """``binder_free_proc`` (drivers/android/binder.c): the proc is dead and unreferenced;
    ``binder_alloc_deferred_release`` frees its buffers and pages (and ``mmdrop``s the mm)."""
    await binder_alloc_deferred_release(alloc)


async def binder_proc_dec_tmpref(alloc: BinderAlloc) -> None:
    """``binder_proc_dec_tmpref`` (drivers/android/binder.c): under ``proc->inner_lock`` drop
    a temporary reference; the last one of a dead proc frees it (``binder_free_proc``)."""
    await alloc.proc_inner_lock.lock()
    old = await alloc.proc_tmp_ref.fetch_add(-1)
    dead = await alloc.proc_is_dead.load()
    await alloc.proc_inner_lock.unlock()
    if dead and old == 1:
        await binder_free_proc(alloc)


async def binder_inc_proc_tmpref(alloc: BinderAlloc) -> bool:
    """``binder_get_node_refs_for_txn`` (drivers/android/binder.c), its target-proc part:
    ``node->proc->tmp_ref++`` under ``proc->inner_lock``, the reference ``binder_transaction``
    holds on the target; false when the proc is already dead (``BR_DEAD_REPLY``)."""
    await alloc.proc_inner_lock.lock()
    dead = await alloc.proc_is_dead.load()
    if not dead:
        await alloc.proc_tmp_ref.fetch_add(1)
    await alloc.proc_inner_lock.unlock()
    return not dead


async def binder_deferred_release(alloc: BinderAlloc) -> None:
    """``binder_deferred_release`` (drivers/android/binder.c), the lifetime part: under
    ``proc->inner_lock`` take a temporary reference and mark the proc dead, then drop it
    (``binder_proc_dec_tmpref``): the proc is freed now, or by the last sender that still holds
    a reference."""
    await alloc.proc_inner_lock.lock()
    await alloc.proc_tmp_ref.fetch_add(1)
    await alloc.proc_is_dead.store(True)
    await alloc.proc_inner_lock.unlock()
    await binder_proc_dec_tmpref(alloc)


async def binder_defer_work(alloc: BinderAlloc) -> None:
    """``binder_defer_work(proc, BINDER_DEFERRED_RELEASE)`` (drivers/android/binder.c):
    ``binder_deferred_func`` runs ``binder_deferred_release`` from a kworker."""
    await queue_work("binder_deferred_func", binder_deferred_release, alloc)


async def binder_release(filp: File) -> int:
    """``binder_release`` (drivers/android/binder.c): the file's last reference is gone (the
    descriptor and every VMA's ``vm_file``): defer the release of the proc."""
    alloc: BinderAlloc = filp.private_data
    await binder_defer_work(alloc)
    return 0


binder_fops = FileOperations("binder_fops", mmap=binder_mmap, release=binder_release)

BINDER_VM_FLAGS = VM_READ | VM_MAYREAD | VM_DONTCOPY | VM_MIXEDMAP


def binder_open(mm: MmStruct, freelist: BinderFreelist, npages: int) -> tuple[BinderAlloc, File]:
    """Model set-up: ``binder_open`` → ``binder_alloc_init`` (``mmgrab``: ``mm_count`` + 1) and the
    opened file."""
    alloc = BinderAlloc(mm, freelist, npages)
    mm.mm_count._value += 1
    return alloc, File(binder_fops, alloc)


def setup_binder_mapping(mm: MmStruct, freelist: BinderFreelist, start: int, npages: int,
                         *, mdata_for: tuple[int, ...] = ()) -> tuple[BinderAlloc, Any, File]:
    """Model set-up: a binder process whose ``mmap`` of ``npages`` pages at ``start`` completed.

    ``mdata_for`` lists page indexes that are installed and on the freelist, as after a
    buffer covering them was allocated and freed (the layout is one free buffer).  Each such
    page is mapped by the binder VMA and holds two references (binder's and the PTE's).
    """
    from vmacheck.kernel.mm.vma import setup_page, setup_vma

    alloc, filp = binder_open(mm, freelist, npages)
    end = start + npages * bb.PAGE_SIZE
    vma = setup_vma(mm, start, end, BINDER_VM_FLAGS, vm_ops=binder_vm_ops, vm_file=filp,
                    vm_private_data=alloc)
    filp.f_count._value += 1  # vma->vm_file's reference (the descriptor holds the other)
    alloc.buffer_size._value = npages * bb.PAGE_SIZE
    alloc.pages_array._value = ("pages", npages)
    alloc.vm_start._value = start
    alloc.vm_start_hint = start
    alloc.buffers._value = bb.initial_layout(start)
    alloc.free_async_space._value = npages * bb.PAGE_SIZE // 2
    alloc.vma._value = vma
    alloc.mapped._value = True
    for index in mdata_for:
        page = setup_page(mm, start + index * bb.PAGE_SIZE)
        page._refcount._value = 2
        serial = freelist.next_mdata._value
        freelist.next_mdata._value = serial + 1
        mdata = freelist.pool[serial]
        mdata.alloc = alloc
        mdata.index = index
        mdata.page_index._value = index
        mdata.lru_node._value = True
        page.private._value = mdata
        alloc.pages[index]._value = page
        freelist.lru.items._value = (*freelist.lru.items._value, mdata)
        alloc.pages_high._value = max(alloc.pages_high._value, index + 1)
    return alloc, vma, filp
