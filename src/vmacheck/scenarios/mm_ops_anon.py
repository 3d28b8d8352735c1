"""mm scenarios: anon_vma objects across split and the fault paths that set
``vma->anon_vma`` (mm/rmap.c ``__anon_vma_prepare``, ``anon_vma_clone``,
``unlink_anon_vmas``; mm/memory.c ``vmf_anon_prepare``, ``do_anonymous_page``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import invariant, label, outcome
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_user_addr_fault,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.mm.rmap import AnonVma, rmap_boot, setup_anon_page, setup_anon_vma
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
RW = VM_READ | VM_WRITE


def _anon(mm: MmStruct) -> str:
    names = sorted({v.anon_vma.peek().name for _, _, v in mm.mm_mt.peek()
                    if isinstance(v.anon_vma.peek(), AnonVma)})
    return "anon_vma " + (",".join(names) or "none")


def anon_prepare_faults() -> Iterable[Any]:
    """Two threads write-fault on the two pages of VMA A, which has no anon_vma yet.  Each
    holds A's VMA read lock; ``vmf_anon_prepare`` takes ``mmap_read_trylock`` and
    ``__anon_vma_prepare`` installs an anon_vma under its lock and ``page_table_lock``: one
    wins, the other puts the anon_vma it allocated.  A ends with one anon_vma, and every
    mapped page is found through it.  The rmap invariant is checked on the final state: its
    per-step form orders every PTE, folio-mapping and anon_vma write of the two faults against
    each other (16,202 executions, 75 s on one core)."""
    mm = MmStruct("mm")
    state = rmap_boot(check=True, at_end=True)
    a = setup_vma(mm, A, A + 2 * PAGE_SIZE, RW)
    invariant("every anon_vma taken from the slab is A's or freed (put_anon_vma)",
              lambda: all(av in state.anon_vma_cachep.peek() or av.alloc.freed
                          or a.anon_vma.peek() is av for av in state.anon_vmas), at_end=True)

    async def fault(addr: int) -> None:
        label(f"fault {addr:#x}={await do_user_addr_fault(mm, addr, write=True)}")

    outcome(lambda: _anon(mm))
    return [("fault 1", fault(A)), ("fault 2", fault(A + PAGE_SIZE))]


register(Scenario(
    name="mm-ops-anon-prepare-vs-fault",
    summary="two faults race to set vma->anon_vma (__anon_vma_prepare)",
    build=anon_prepare_faults, doc=anon_prepare_faults.__doc__ or "",
    functions=("__anon_vma_prepare",), max_steps=2000))


def anon_prepare_vs_munmap() -> Iterable[Any]:
    """A write fault on VMA A (no anon_vma yet) sets up its anon_vma while A is unmapped:
    munmap waits for the fault's VMA read lock; ``unlink_anon_vmas`` then puts the anon_vma
    (freed when its tree is empty).  Nothing is left mapped."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    setup_vma(mm, A, A + PAGE_SIZE, RW)

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A, write=True)}")

    async def unmap() -> None:
        await sys_munmap(mm, A, PAGE_SIZE)

    outcome(lambda: "pages " + ",".join(f"{a:#x}" for a, v in mm.pte.made_items() if v.peek()))
    return [("fault", fault()), ("munmap A", unmap())]


register(Scenario(
    name="mm-ops-anon-prepare-vs-munmap",
    summary="a fault setting up vma->anon_vma races munmap of the VMA",
    build=anon_prepare_vs_munmap, doc=anon_prepare_vs_munmap.__doc__ or "",
    functions=("__anon_vma_prepare",), max_steps=2000))


def split_anon_vs_fault() -> Iterable[Any]:
    """munmap of the first page of anonymous VMA A splits it (``__split_vma``: the new VMA
    is linked to A's anon_vma by ``anon_vma_clone``) while a thread write-faults A's second
    page.  The rmap invariant holds at every step: the page is found through the anon_vma
    in whichever VMA maps it."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + 2 * PAGE_SIZE, RW)
    setup_anon_vma(a)
    setup_anon_page(mm, a, A)

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A + PAGE_SIZE, write=True)}")

    async def unmap() -> None:
        await sys_munmap(mm, A, PAGE_SIZE)

    outcome(lambda: _anon(mm))
    return [("fault", fault()), ("munmap first page", unmap())]


register(Scenario(
    name="mm-ops-split-anon-vs-fault",
    summary="a split linking the new VMA to the anon_vma races a fault on it",
    build=split_anon_vs_fault, doc=split_anon_vs_fault.__doc__ or "",
    functions=("anon_vma_clone",), max_steps=2000))
