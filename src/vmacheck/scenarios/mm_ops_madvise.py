"""mm scenarios: madvise ``MADV_DONTNEED``/``MADV_FREE`` under the per-VMA lock and the
mmap-lock fallback, against a page fault and munmap (mm/madvise.c)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import label, outcome
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    MmStruct,
    do_user_addr_fault,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.mm.madvise import MADV_DONTNEED, MADV_FREE, do_madvise
from vmacheck.kernel.mm.rmap import rmap_boot, setup_anon_page, setup_anon_vma
from vmacheck.scenarios._mm_ops import RW, mapped_pages
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
B = 0x3000


def madvise_vs_fault() -> Iterable[Any]:
    """``MADV_DONTNEED`` of VMA A's two pages (the first populated) under A's VMA read lock,
    while a thread write-faults the second page under its own VMA read lock.  Both are
    readers of A and run concurrently; the fault's page survives iff it was installed after
    the zap of its PTE."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + 2 * PAGE_SIZE, RW)
    setup_anon_vma(a)
    setup_anon_page(mm, a, A)

    async def madvise() -> None:
        label(f"madvise={await do_madvise(mm, A, 2 * PAGE_SIZE, MADV_DONTNEED)}")

    async def fault() -> None:
        label(f"fault={await do_user_addr_fault(mm, A + PAGE_SIZE, write=True)}")

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("madvise", madvise()), ("fault", fault())]


register(Scenario(
    name="mm-ops-madvise-vs-fault",
    summary="MADV_DONTNEED and a fault share VMA A's read lock",
    build=madvise_vs_fault, doc=madvise_vs_fault.__doc__ or "",
    functions=("try_vma_read_lock",), max_steps=1500))


def madvise_vs_munmap() -> Iterable[Any]:
    """``MADV_DONTNEED`` of VMA A (one populated page) under its VMA read lock races
    ``munmap`` of A: munmap's ``vma_start_write`` waits for the madvise, or the madvise
    finds no VMA (the mmap-lock fallback returns -ENOMEM).  Never a freed VMA touched."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + PAGE_SIZE, RW)
    setup_anon_vma(a)
    setup_anon_page(mm, a, A)

    async def madvise() -> None:
        label(f"madvise={await do_madvise(mm, A, PAGE_SIZE, MADV_DONTNEED)}")

    async def unmap() -> None:
        await sys_munmap(mm, A, PAGE_SIZE)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("madvise", madvise()), ("munmap A", unmap())]


register(Scenario(
    name="mm-ops-madvise-vs-munmap",
    summary="MADV_DONTNEED under the per-VMA lock races munmap of the VMA",
    build=madvise_vs_munmap, doc=madvise_vs_munmap.__doc__ or "",
    functions=("try_vma_read_lock",), max_steps=1500))


def madvise_free_fallback_vs_munmap() -> Iterable[Any]:
    """``MADV_FREE`` over a range spanning VMAs A and B cannot use one VMA lock: it falls
    back to the mmap read lock and walks both VMAs, while another thread munmaps B.  The
    walk sees B or not; munmap waits for the mmap read lock."""
    mm = MmStruct("mm")
    rmap_boot(check=True)
    a = setup_vma(mm, A, A + PAGE_SIZE, RW)
    b = setup_vma(mm, A + PAGE_SIZE, A + 2 * PAGE_SIZE, RW)
    av = setup_anon_vma(a)
    setup_anon_vma(b, av)
    setup_anon_page(mm, b, A + PAGE_SIZE)

    async def madvise() -> None:
        label(f"madvise={await do_madvise(mm, A, 2 * PAGE_SIZE, MADV_FREE)}")

    async def unmap() -> None:
        await sys_munmap(mm, A + PAGE_SIZE, PAGE_SIZE)

    outcome(lambda: f"pages {mapped_pages(mm)}")
    return [("madvise", madvise()), ("munmap B", unmap())]


register(Scenario(
    name="mm-ops-madvise-free-fallback-vs-munmap",
    summary="MADV_FREE across two VMAs takes the mmap-lock path while one is unmapped",
    build=madvise_free_fallback_vs_munmap, doc=madvise_free_fallback_vs_munmap.__doc__ or "",
    functions=("try_vma_read_lock",), max_steps=1500))
