"""mm scenarios: mremap (``move_vma``) and the VMA merge it may do, against a page fault and
munmap (mm/mremap.c, mm/vma.c)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import Var, invariant, label, outcome
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    MmStruct,
    do_user_addr_fault,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.mm.mremap import MREMAP_FIXED, MREMAP_MAYMOVE, do_mremap
from vmacheck.kernel.mm.rmap import rmap_boot, setup_anon_page, setup_anon_vma
from vmacheck.scenarios._mm_ops import RW, mapped_pages
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
OLD = 0x5000
NEW = 0x8000


def mremap_vs_fault() -> Iterable[Any]:
    """``mremap`` moves an anonymous VMA (two pages, the first populated) from OLD to NEW
    while another thread write-faults on the second, empty page at OLD.  ``move_vma``
    write-locks the source first, so the fault either runs before the move (its page moves
    to NEW) or finds no VMA at OLD afterwards (SIGSEGV).  At the end, a fault that succeeded
    has its page at NEW + PAGE_SIZE."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    vma = setup_vma(mm, OLD, OLD + 2 * PAGE_SIZE, RW)
    setup_anon_vma(vma)
    setup_anon_page(mm, vma, OLD)
    fault_ret = Var("fault result", None)
    invariant("a fault that succeeded before mremap has its page moved (mm/mremap.c move_vma)",
              lambda: fault_ret.peek() != 0 or mm.pte[NEW + PAGE_SIZE].peek() is not None,
              at_end=True)

    async def remap() -> None:
        ret = await do_mremap(mm, OLD, 2 * PAGE_SIZE, 2 * PAGE_SIZE,
                              MREMAP_MAYMOVE | MREMAP_FIXED, NEW)
        label(f"mremap={ret:#x}" if ret > 0 else f"mremap={ret}")

    async def fault() -> None:
        ret = await do_user_addr_fault(mm, OLD + PAGE_SIZE, write=True)
        await fault_ret.store(ret)
        label(f"fault={ret}")

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("mremap", remap()), ("fault", fault())]


register(Scenario(
    name="mm-ops-mremap-vs-fault",
    summary="a fault on the source of mremap never runs while its page tables move",
    build=mremap_vs_fault, doc=mremap_vs_fault.__doc__ or "",
    functions=("move_vma",), max_steps=1500))


def mremap_merge_vs_fault() -> Iterable[Any]:
    """VMA A ``[0x1000, 0x2000)`` and VMA B at OLD share one anon_vma, B's offset following
    A's (B was split off A and moved away).  ``mremap`` moves B back to 0x2000: ``copy_vma``
    merges it into A (``vma_merge_new_range`` → ``vma_expand``), the PTE moves under the
    anon_vma lock and B is unmapped.  Meanwhile a thread faults on A's populated page.
    ``vma_expand`` write-locks A, so the fault never holds A while A grows."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + PAGE_SIZE, RW)
    b = setup_vma(mm, OLD, OLD + PAGE_SIZE, RW)
    b.vm_pgoff._value = (A + PAGE_SIZE) >> 12
    av = setup_anon_vma(a)
    setup_anon_vma(b, av)
    setup_anon_page(mm, a, A)
    setup_anon_page(mm, b, OLD)

    async def remap() -> None:
        ret = await do_mremap(mm, OLD, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
                              A + PAGE_SIZE)
        label(f"mremap={ret:#x}" if ret > 0 else f"mremap={ret}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A, write=True)}")

    outcome(lambda: f"tree {[(hex(s), hex(e), v.name) for s, e, v in mm.mm_mt.peek()]}")
    return [("mremap", remap()), ("fault on A", fault())]


register(Scenario(
    name="mm-ops-mremap-merge-vs-fault",
    summary="mremap merging into the previous VMA (vma_expand) races a fault on it",
    build=mremap_merge_vs_fault, doc=mremap_merge_vs_fault.__doc__ or "",
    functions=("vma_expand", "copy_vma"), max_steps=1500))


def mremap_vs_munmap() -> Iterable[Any]:
    """``mremap`` of an anonymous VMA with one page races ``munmap`` of the same source
    range.  Both take the mmap write lock: either the move happens first (munmap finds
    nothing at OLD) or the unmap does (mremap returns -EFAULT).  The rmap invariant holds
    throughout and no page is left behind at OLD."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    vma = setup_vma(mm, OLD, OLD + PAGE_SIZE, RW)
    setup_anon_vma(vma)
    setup_anon_page(mm, vma, OLD)
    invariant("nothing is left mapped at the old address",
              lambda: mm.pte[OLD].peek() is None, at_end=True)

    async def remap() -> None:
        ret = await do_mremap(mm, OLD, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, NEW)
        label(f"mremap={ret:#x}" if ret > 0 else f"mremap={ret}")

    async def unmap() -> None:
        await sys_munmap(mm, OLD, PAGE_SIZE)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("mremap", remap()), ("munmap", unmap())]


register(Scenario(
    name="mm-ops-mremap-vs-munmap",
    summary="mremap and munmap of the same range serialise on the mmap write lock",
    build=mremap_vs_munmap, doc=mremap_vs_munmap.__doc__ or "",
    functions=("move_vma",), max_steps=1500))
