"""mm scenarios: ``/proc/pid/maps`` and ``PROCMAP_QUERY`` readers (``lock_next_vma``, the
mmap-lock fallback) against munmap, mremap and a page fault (fs/proc/task_mmu.c,
mm/mmap_lock.c)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from typing import Any

from vmacheck.explore import Var, invariant, label
from vmacheck.kernel.fs.proc.task_mmu import MapsLine, do_procmap_query, proc_pid_maps_read
from vmacheck.kernel.mm import (
    PAGE_SIZE,
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_user_addr_fault,
    setup_page,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.mm.mremap import MREMAP_FIXED, MREMAP_MAYMOVE, do_mremap
from vmacheck.scenarios.catalogue import Scenario, register

A = 0x1000
B = 0x3000
NEW = 0x6000
RW = VM_READ | VM_WRITE


def _fmt(lines: list[MapsLine] | int) -> str:
    if isinstance(lines, int):
        return str(lines)
    return " ".join(f"{s:#x}-{e:#x}" for s, e, _, _ in lines)


def _sorted_disjoint(lines: object) -> bool:
    if not isinstance(lines, list):
        return True
    return all(a[1] <= b[0] for a, b in pairwise(lines))


def _maps_vs(other: str) -> Iterable[Any]:
    mm = MmStruct("mm")
    setup_vma(mm, A, A + PAGE_SIZE, RW, anon_vma=True)
    setup_vma(mm, B, B + PAGE_SIZE, RW, anon_vma=True)
    setup_page(mm, B)
    out = Var("maps output", None)
    invariant("/proc/pid/maps lines are sorted and disjoint (fs/proc/task_mmu.c)",
              lambda: _sorted_disjoint(out.peek()), at_end=True)

    async def reader() -> None:
        lines = await proc_pid_maps_read(mm)
        await out.store(lines)
        label(f"maps: {_fmt(lines)}")

    async def munmap_b() -> None:
        await sys_munmap(mm, B, PAGE_SIZE)

    async def mremap_b() -> None:
        await do_mremap(mm, B, PAGE_SIZE, PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, NEW)

    async def fault_b() -> None:
        await do_user_addr_fault(mm, B, write=True)

    writer = {"munmap": munmap_b, "mremap": mremap_b, "fault": fault_b}[other]
    return [("cat maps", reader()), (f"{other} B", writer())]


def maps_vs_munmap() -> Iterable[Any]:
    """A ``/proc/pid/maps`` read walks VMAs A and B under RCU, read-locking each with
    ``lock_next_vma``, while B is unmapped.  The reader prints B or not, never touches a
    freed VMA, and the lines stay sorted."""
    return _maps_vs("munmap")


def maps_vs_mremap() -> Iterable[Any]:
    """A ``/proc/pid/maps`` read while B moves to a higher address (``move_vma``): the
    reader shows B at its old place, its new place, or both (it printed the old B, then
    finds the new B above its position after the move), and the lines stay sorted."""
    return _maps_vs("mremap")


def maps_vs_fault() -> Iterable[Any]:
    """A ``/proc/pid/maps`` read and a fault on B: both hold B's VMA read lock."""
    return _maps_vs("fault")


for _name, _build, _summary in (
        ("mm-ops-proc-maps-vs-munmap", maps_vs_munmap,
         "a /proc/pid/maps read (lock_next_vma) races munmap"),
        ("mm-ops-proc-maps-vs-mremap", maps_vs_mremap,
         "a /proc/pid/maps read races mremap moving a VMA"),
        ("mm-ops-proc-maps-vs-fault", maps_vs_fault,
         "a /proc/pid/maps read and a fault share a VMA read lock")):
    register(Scenario(name=_name, summary=_summary, build=_build, doc=_build.__doc__ or "",
                      functions=("lock_next_vma",), max_steps=2000))


def procmap_query_vs_munmap() -> Iterable[Any]:
    """``PROCMAP_QUERY`` for the VMA covering B locks it with ``lock_next_vma`` (no mmap
    lock) and reads its fields while B is unmapped: the query returns B's range or -ENOENT,
    and never reads a freed VMA."""
    mm = MmStruct("mm")
    setup_vma(mm, A, A + PAGE_SIZE, RW, anon_vma=True)
    setup_vma(mm, B, B + PAGE_SIZE, RW, anon_vma=True)

    async def query() -> None:
        ret = await do_procmap_query(mm, B)
        label(f"query: {ret if isinstance(ret, int) else f'{ret[0]:#x}-{ret[1]:#x}'}")

    async def unmap() -> None:
        await sys_munmap(mm, B, PAGE_SIZE)

    return [("PROCMAP_QUERY", query()), ("munmap B", unmap())]


register(Scenario(
    name="mm-ops-procmap-query-vs-munmap",
    summary="PROCMAP_QUERY under the per-VMA lock races munmap of the VMA it reports",
    build=procmap_query_vs_munmap, doc=procmap_query_vs_munmap.__doc__ or "",
    functions=("lock_next_vma",), max_steps=2000))
