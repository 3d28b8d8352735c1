"""mm scenarios: historic per-VMA lock bugs (fb49c455323f, 33313a747e81, c137381f71ae).

Each runs the kernel's version by default; selecting the version with the fix removed
(``dup_mmap@pre-fb49c455323f``, ``mmap_region@pre-33313a747e81``,
``expand_downwards@pre-c137381f71ae``) makes one of the built-in invariants fire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from vmacheck.kernel.include.linux.mm_types import VmAreaStruct
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    VM_DONTCOPY,
    VM_GROWSDOWN,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    File,
    FileOperations,
    MmStruct,
    VmOperationsStruct,
    alloc_page,
    do_user_addr_fault,
    dup_mmap,
    put_page,
    setup_vma,
    vm_mmap_pgoff,
)
from vmacheck.scenarios.catalogue import Scenario, historic_versions, register

A = 0x1000

historic_versions("dup_mmap", ("mainline", "pre-fb49c455323f"))
historic_versions("mmap_region", ("mainline", "pre-33313a747e81"))
historic_versions("expand_downwards", ("mainline", "pre-c137381f71ae"))


def fork_vs_fault() -> Iterable[Any]:
    """fb49c455323f "fork: lock VMAs of the parent process when forking": one thread forks
    (``dup_mmap`` copies the parent's anonymous VMA A and a VM_DONTCOPY VMA), another thread of the
    parent write-faults on A.  The kernel write-locks every parent VMA, so the fault's
    ``lock_vma_under_rcu`` fails and it waits on the mmap lock.  Without the fix the fault runs
    under the per-VMA lock during the copy: the invariant "dup_mmap copies no read-locked vma"
    fires."""
    parent = MmStruct("parent")
    child = MmStruct("child")
    setup_vma(parent, A, A + PAGE_SIZE, VM_READ | VM_WRITE, anon_vma=True)
    setup_vma(parent, A + 2 * PAGE_SIZE, A + 3 * PAGE_SIZE, VM_READ | VM_DONTCOPY)

    async def fork() -> None:
        await dup_mmap(child, parent)

    async def fault() -> None:
        await do_user_addr_fault(parent, A, write=True)

    return [("fork", fork()), ("fault on A", fault())]


register(Scenario(
    name="mm-fork-vs-fault", summary="fault on a parent VMA during dup_mmap (fb49c455323f)",
    build=fork_vs_fault, doc=fork_vs_fault.__doc__ or "", functions=("dup_mmap",),
    max_steps=800))


async def shmem_fault(vma: VmAreaStruct, address: int, flags: int) -> int:
    """A file's ``vm_ops->fault`` in the model (``shmem_fault``-like): map a new page."""
    mm = vma.vm_mm
    assert mm is not None
    page = await alloc_page()
    if page is None:
        return 1
    await vma.vm_page_prot.load()
    if not await mm.pte[address].cas(None, page):
        await put_page(page)
    return 0


async def shmem_page_mkwrite(vma: VmAreaStruct, address: int) -> int:
    """``vm_ops->page_mkwrite``: present, so shared writable mappings need write-notify."""
    return 0


SHMEM_VM_OPS = VmOperationsStruct("shmem_vm_ops", fault=shmem_fault,
                                  page_mkwrite=shmem_page_mkwrite)


def _mmap_hook(vm_ops: VmOperationsStruct) -> Callable[[File, VmAreaStruct], Awaitable[int]]:
    async def file_mmap(file: File, vma: VmAreaStruct) -> int:
        """``f_op->mmap`` (``shmem_mmap``-like): install the file's ``vm_ops``."""
        await vma.vm_ops.store(vm_ops)
        return 0

    return file_mmap


def mmap_vs_fault() -> Iterable[Any]:
    """33313a747e81 "mm: lock newly mapped VMA which can be modified after it becomes
    visible": one thread mmaps a shared writable file whose driver wants
    write-notify (``page_mkwrite``); another thread write-faults at the new address.  The
    kernel write-locks the new VMA before inserting it, so the fault cannot read-lock it
    before ``mmap_region`` finishes with ``vma_set_page_prot``.  Without the fix the fault
    read-locks a VMA whose ``vm_page_prot`` is still writable: the invariant "read-locked vma
    is fully set up" fires."""
    mm = MmStruct("mm")
    file = File(FileOperations("shmem_file_operations", mmap=_mmap_hook(SHMEM_VM_OPS)))

    async def mapper() -> None:
        await vm_mmap_pgoff(mm, file, A, PAGE_SIZE, VM_READ | VM_WRITE | VM_SHARED)

    async def fault() -> None:
        await do_user_addr_fault(mm, A, write=True)

    return [("mmap", mapper()), ("fault", fault())]


register(Scenario(
    name="mm-mmap-vs-fault", summary="fault on a VMA mmap_region is still setting up "
    "(33313a747e81)", build=mmap_vs_fault, doc=mmap_vs_fault.__doc__ or "",
    functions=("mmap_region",), max_steps=800))


def stack_expand_vs_fault() -> Iterable[Any]:
    """c137381f71ae "mm: lock a vma before stack expansion": a stack VMA [0x4000, 0x6000) grows down
    when one thread faults at 0x3000 (``lock_mm_and_find_vma`` upgrades to the write lock and calls
    ``expand_stack_locked``); another thread faults inside the stack under the per-VMA lock. The
    kernel write-locks the stack VMA before changing its bounds, waiting for the reader. Without the
    fix ``vm_start`` changes under the reader: the invariant "vma fields stable under a read lock"
    fires."""
    mm = MmStruct("mm")
    setup_vma(mm, 0x4000, 0x6000, VM_READ | VM_WRITE | VM_GROWSDOWN, anon_vma=True)

    async def grow() -> None:
        await do_user_addr_fault(mm, 0x3000, write=True)

    async def fault() -> None:
        await do_user_addr_fault(mm, 0x5000, write=True)

    return [("fault below stack", grow()), ("fault in stack", fault())]


register(Scenario(
    name="mm-stack-expand-vs-fault", summary="stack growth under a VMA reader "
    "(c137381f71ae)", build=stack_expand_vs_fault, doc=stack_expand_vs_fault.__doc__ or "",
    functions=("expand_downwards",), max_steps=800))
