"""mm scenarios: userfaultfd registration, ``UFFDIO_COPY`` and ``UFFDIO_MOVE`` against a
page fault and munmap (mm/userfaultfd.c, fs/userfaultfd.c)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label, outcome
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    MmStruct,
    do_user_addr_fault,
    setup_page,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.mm.rmap import rmap_boot, setup_anon_page, setup_anon_vma
from vmacheck.kernel.mm.userfaultfd import (
    VM_UFFD_MISSING,
    mfill_atomic_copy,
    move_pages,
    userfaultfd_register,
)
from vmacheck.scenarios._mm_ops import RW, mapped_pages
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
B = 0x2000
S = 0x5000
D = 0x6000


def _tree(mm: MmStruct) -> str:
    return " ".join(f"[{s:#x},{e:#x})" for s, e, _ in mm.mm_mt.peek())


def register_vs_fault() -> Iterable[Any]:
    """``UFFDIO_REGISTER`` of VMA B (``VM_UFFD_MISSING``) while a thread faults on B's
    populated page under B's VMA read lock.  ``userfaultfd_set_ctx`` write-locks B before
    changing its flags, so the fault never holds B while they change."""
    mm = MmStruct("mm")
    setup_vma(mm, B, B + PAGE_SIZE, RW, anon_vma=True)
    setup_page(mm, B)

    async def reg() -> None:
        label(f"register={await userfaultfd_register(mm, B, VM_UFFD_MISSING)}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, B, write=True)}")

    return [("register", reg()), ("fault on B", fault())]


register(Scenario(
    name="mm-ops-uffd-register-vs-fault",
    summary="userfaultfd registration changes VMA flags only under the VMA write lock",
    build=register_vs_fault, doc=register_vs_fault.__doc__ or "",
    functions=("userfaultfd_set_ctx",), max_steps=1500))


def register_merge_vs_fault() -> Iterable[Any]:
    """VMA A is registered (``VM_UFFD_MISSING``) and has an anon_vma and a page; VMA B next
    to it is not registered and was never faulted.  Registering B merges it into A
    (``vma_merge_existing_range``: A grows over B, B is removed) while a thread faults on A's
    page under A's VMA read lock.  The merge write-locks A and B first."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + PAGE_SIZE, RW | VM_UFFD_MISSING)
    b = setup_vma(mm, B, B + PAGE_SIZE, RW)
    b.vm_pgoff._value = B >> 12
    setup_anon_vma(a)
    setup_anon_page(mm, a, A)

    async def reg() -> None:
        label(f"register={await userfaultfd_register(mm, B, VM_UFFD_MISSING)}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A, write=True)}")

    outcome(lambda: f"tree {_tree(mm)}")
    return [("register B", reg()), ("fault on A", fault())]


register(Scenario(
    name="mm-ops-uffd-register-merge-vs-fault",
    summary="registration merging B into A (vma_merge_existing_range) races a fault on A",
    build=register_merge_vs_fault, doc=register_merge_vs_fault.__doc__ or "",
    functions=("vma_merge_existing_range",), max_steps=1500))


def copy_vs_munmap() -> Iterable[Any]:
    """``UFFDIO_COPY`` into registered VMA B, which has no anon_vma yet: ``uffd_lock_vma``
    takes the mmap read lock to prepare one and read-locks B with ``vma_start_read_locked``
    before dropping it.  Meanwhile B is unmapped: the copy either fails (-ENOENT) or fills
    the page before munmap's ``vma_start_write`` can proceed; the page is then zapped."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    setup_vma(mm, B, B + PAGE_SIZE, RW | VM_UFFD_MISSING)

    async def copy() -> None:
        label(f"copy={await mfill_atomic_copy(mm, B, PAGE_SIZE)}")

    async def unmap() -> None:
        await sys_munmap(mm, B, PAGE_SIZE)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("UFFDIO_COPY", copy()), ("munmap B", unmap())]


register(Scenario(
    name="mm-ops-uffd-copy-vs-munmap",
    summary="UFFDIO_COPY's uffd_mfill_lock fallback races munmap of the destination",
    build=copy_vs_munmap, doc=copy_vs_munmap.__doc__ or "",
    functions=("uffd_lock_vma",), max_steps=1500))


def copy_vs_fault() -> Iterable[Any]:
    """``UFFDIO_COPY`` fills the second page of registered VMA B (with an anon_vma) under
    B's VMA read lock while a thread faults on B's populated first page: two readers of B.
    The copy always succeeds; the rmap invariant holds throughout."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    b = setup_vma(mm, B, B + 2 * PAGE_SIZE, RW | VM_UFFD_MISSING)
    setup_anon_vma(b)
    setup_anon_page(mm, b, B)

    async def copy() -> None:
        label(f"copy={await mfill_atomic_copy(mm, B + PAGE_SIZE, PAGE_SIZE)}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, B, write=True)}")

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("UFFDIO_COPY", copy()), ("fault on B", fault())]


register(Scenario(
    name="mm-ops-uffd-copy-vs-fault",
    summary="UFFDIO_COPY and a fault hold VMA read locks on the same VMA",
    build=copy_vs_fault, doc=copy_vs_fault.__doc__ or "",
    functions=("uffd_lock_vma",), max_steps=1500))


def _move_setup() -> MmStruct:
    mm = MmStruct("mm")
    rmap_boot(check=True)
    s = setup_vma(mm, S, S + PAGE_SIZE, RW)
    d = setup_vma(mm, D, D + PAGE_SIZE, RW | VM_UFFD_MISSING)
    setup_anon_vma(s)
    setup_anon_vma(d)
    setup_anon_page(mm, s, S)
    return mm


def move_vs_munmap() -> Iterable[Any]:
    """``UFFDIO_MOVE`` of S's page to registered VMA D (both with anon_vmas) while another
    thread unmaps ``[S, D + PAGE_SIZE)``: munmap write-locks S, then D, waiting for D's
    reader.  ``uffd_move_lock`` holds D's read lock and only tries S with
    ``lock_vma_under_rcu``; when that fails it drops D before waiting for the mmap lock.  No
    deadlock, no freed VMA touched, and the page ends moved or unmapped."""
    mm = _move_setup()

    async def move() -> None:
        label(f"move={await move_pages(mm, D, S, PAGE_SIZE)}")

    async def unmap() -> None:
        await sys_munmap(mm, S, D + PAGE_SIZE - S)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("UFFDIO_MOVE", move()), ("munmap S..D", unmap())]


register(Scenario(
    name="mm-ops-uffd-move-vs-munmap",
    summary="UFFDIO_MOVE's two VMA read locks against munmap write-locking both VMAs",
    build=move_vs_munmap, doc=move_vs_munmap.__doc__ or "",
    functions=("uffd_move_lock",), max_steps=2000))


def move_vs_fault() -> Iterable[Any]:
    """``UFFDIO_MOVE`` of S's page to D while a thread write-faults on S: both read-lock S.
    The fault finds the page (done), or the PTE already moved and maps a new page; the rmap
    invariant holds throughout (the moved page belongs to D's anon_vma)."""
    mm = _move_setup()

    async def move() -> None:
        label(f"move={await move_pages(mm, D, S, PAGE_SIZE)}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, S, write=True)}")

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("UFFDIO_MOVE", move()), ("fault on S", fault())]


register(Scenario(
    name="mm-ops-uffd-move-vs-fault",
    summary="UFFDIO_MOVE and a fault on the source both hold its VMA read lock",
    build=move_vs_fault, doc=move_vs_fault.__doc__ or "",
    functions=("uffd_move_lock",), max_steps=2000))


def move_vs_munmap_src() -> Iterable[Any]:
    """``UFFDIO_MOVE`` of S's page to D while another thread unmaps S alone.  The move holds
    S's VMA read lock (``lock_vma_under_rcu``) or fails to find it, so munmap's
    ``vma_start_write`` waits and S is never freed under the move."""
    mm = _move_setup()

    async def move() -> None:
        label(f"move={await move_pages(mm, D, S, PAGE_SIZE)}")

    async def unmap() -> None:
        await sys_munmap(mm, S, PAGE_SIZE)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("UFFDIO_MOVE", move()), ("munmap S", unmap())]


register(Scenario(
    name="mm-ops-uffd-move-vs-munmap-src",
    summary="UFFDIO_MOVE holds the source's VMA read lock while munmap removes the source",
    build=move_vs_munmap_src, doc=move_vs_munmap_src.__doc__ or "",
    functions=("uffd_move_lock",), max_steps=2000))
