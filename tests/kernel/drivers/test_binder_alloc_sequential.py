"""Sequential binder allocator tests: allocation, free and shrink sequences, one model thread
run by the engine, checked against page states computed independently from binder's
page-ownership rule:

* a page is *installed* once a buffer touching it was allocated (and until reclaimed);
* an installed page is *active* while an allocated buffer's extent touches it, else on the
  *lru*; a page never installed (or reclaimed) is *free*.

Extents are computed here from the sizes (buffers are placed one after the other from the
start of a fresh mapping), never from the model's own buffer bookkeeping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from vmacheck.explore.core import Execution
from vmacheck.kernel.drivers.android.binder import setup_binder_mapping
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderAlloc,
    BinderFreelist,
    binder_alloc_free_buf,
    binder_alloc_new_buf,
)
from vmacheck.kernel.drivers.android.binder_buffers import BinderBuffer
from vmacheck.kernel.drivers.android.binder_props import page_states, register_binder_checks
from vmacheck.kernel.drivers.android.binder_shrinker import binder_shrink_scan
from vmacheck.kernel.mm import MmStruct, boot

PAGE = 4096
START = 0x4000
NPAGES = 8


def touched(start: int, size: int) -> set[int]:
    """Page indexes an extent ``[start, start + size)`` touches (relative to START)."""
    first = (start - START) // PAGE
    last = (start - START + size - 1) // PAGE
    return set(range(first, last + 1))


def expected(installed: set[int], live: list[tuple[int, int]]) -> list[str]:
    covered: set[int] = set()
    for start, size in live:
        covered |= touched(start, size)
    out = []
    for i in range(NPAGES):
        if i not in installed:
            out.append("free")
        elif i in covered:
            out.append("active")
        else:
            out.append("lru")
    return out


Script = Callable[[BinderAlloc, BinderFreelist, Callable[[str], None]],
                  Coroutine[Any, Any, None]]


def run_script(script: Script, checks: bool = True) -> tuple[list[tuple[str, list[str]]],
                                                             list[str]]:
    """Run ``script`` as the only thread of a model; ``snap(tag)`` records the page states
    (test instrumentation reading state between the thread's operations).  ``checks``
    registers the binder invariants (checked after every step)."""
    snaps: list[tuple[str, list[str]]] = []

    def model() -> list[tuple[str, Coroutine[Any, Any, None]]]:
        boot(vmas=2, generations=1, pages=NPAGES + 1, threads=1)
        mm = MmStruct("mm")
        freelist = BinderFreelist(mdata_pool=2 * NPAGES)
        alloc, _, _ = setup_binder_mapping(mm, freelist, START, NPAGES, mdata_for=())
        if checks:
            register_binder_checks(alloc)

        def snap(tag: str) -> None:
            snaps.append((tag, page_states(alloc)))

        return [("binder", script(alloc, freelist, snap))]

    ex = Execution(model, max_steps=10**6)
    if not checks:
        # the exhaustive layout test compares every state with the rule itself; the mm
        # model's built-in per-step checks concern concurrency and would only slow it down
        ex.invariants.clear()
    while ex.enabled():
        ex.step(0)
    ex.finish()
    return snaps, [f"{f.kind}: {f.message}" for f in ex.findings]


def test_buffer_inside_one_page() -> None:
    async def script(alloc: BinderAlloc, fl: BinderFreelist, snap: Callable[[str], None]) -> None:
        buf = await binder_alloc_new_buf(alloc, 1000)
        snap("alloc")
        await binder_alloc_free_buf(alloc, buf)
        snap("free")
        await binder_shrink_scan(fl, 16)
        snap("shrink")

    snaps, findings = run_script(script)
    assert findings == []
    assert snaps[0][1][:2] == ["active", "free"]
    # the freed buffer merges with the free remainder: the page is fully free → lru
    assert snaps[1][1][:2] == ["lru", "free"]
    assert snaps[2][1][:2] == ["free", "free"]


def test_boundary_and_across_buffers_share_pages() -> None:
    async def script(alloc: BinderAlloc, fl: BinderFreelist, snap: Callable[[str], None]) -> None:
        a = await binder_alloc_new_buf(alloc, PAGE)          # [0, 1 page): ends on a boundary
        b = await binder_alloc_new_buf(alloc, PAGE + 2048)   # pages 1..2, ends inside page 2
        c = await binder_alloc_new_buf(alloc, 512)           # inside page 2, shared with b
        snap("alloc")
        await binder_alloc_free_buf(alloc, b)
        snap("free b")
        await binder_shrink_scan(fl, 16)
        snap("shrink")
        await binder_alloc_free_buf(alloc, c)
        snap("free c")
        await binder_alloc_free_buf(alloc, a)
        snap("free a")

    snaps, findings = run_script(script)
    assert findings == []
    states = dict(snaps)
    assert states["alloc"][:4] == ["active", "active", "active", "free"]
    assert states["free b"][:4] == ["active", "lru", "active", "free"]   # page 2 still c's
    assert states["shrink"][:4] == ["active", "free", "active", "free"]
    assert states["free c"][:4] == ["active", "free", "lru", "free"]
    assert states["free a"][:4] == ["lru", "free", "lru", "free"]


SHAPES = ("inside", "boundary", "across")


def shape_size(shape: str, start: int) -> int:
    """The size that makes a buffer starting at ``start`` end inside its first page, exactly
    on the next page boundary, or inside the page after."""
    offset = (start - START) % PAGE
    to_boundary = PAGE - offset
    if shape == "inside":
        size = (to_boundary // 2) // 8 * 8
        assert 8 <= size < to_boundary
        return size
    if shape == "boundary":
        return to_boundary
    return to_boundary + PAGE // 2


def layout_of(shapes: tuple[str, ...]) -> list[tuple[int, int]]:
    extents = []
    start = START
    for shape in shapes:
        size = shape_size(shape, start)
        extents.append((start, size))
        start += size
    return extents


ORDERS = list(itertools.permutations(range(5)))


def check_layout(shapes: tuple[str, ...]) -> None:
    extents = layout_of(shapes)
    assert extents[-1][0] + extents[-1][1] <= START + NPAGES * PAGE

    async def script(alloc: BinderAlloc, fl: BinderFreelist, snap: Callable[[str], None]) -> None:
        for order in ORDERS:
            bufs = []
            for _, size in extents:
                buf = await binder_alloc_new_buf(alloc, size)
                assert isinstance(buf, BinderBuffer)
                bufs.append(buf)
            snap(f"{order} alloc {[b.user_data for b in bufs]}")
            for i in order:
                await binder_alloc_free_buf(alloc, bufs[i])
                snap(f"{order} free {i}")
        await binder_shrink_scan(fl, 64)
        snap("shrink")

    snaps, findings = run_script(script, checks=False)
    assert findings == [], (shapes, findings)
    installed: set[int] = set()
    for start, size in extents:
        installed |= touched(start, size)
    k = 0
    for order in ORDERS:
        tag, states = snaps[k]
        want_addrs = [s for s, _ in extents]
        assert tag == f"{order} alloc {want_addrs}", (shapes, tag)
        assert states == expected(installed, extents), (shapes, tag, states)
        k += 1
        live = dict(enumerate(extents))
        for i in order:
            del live[i]
            tag, states = snaps[k]
            assert states == expected(installed, list(live.values())), (shapes, tag, states)
            k += 1
    assert snaps[k] == ("shrink", ["free"] * NPAGES)


@pytest.mark.parametrize("first", SHAPES)
def test_all_layouts_of_five_buffers_all_free_orders(first: str) -> None:
    """Every layout of five buffers (3^5 shapes) and every order of freeing them (5!)."""
    for rest in itertools.product(SHAPES, repeat=4):
        check_layout((first, *rest))


def test_reclaimed_page_is_installed_again() -> None:
    async def script(alloc: BinderAlloc, fl: BinderFreelist, snap: Callable[[str], None]) -> None:
        a = await binder_alloc_new_buf(alloc, 2 * PAGE)      # pages 0, 1
        keep = await binder_alloc_new_buf(alloc, 64)          # page 2
        await binder_alloc_free_buf(alloc, a)
        snap("free a")
        assert await binder_shrink_scan(fl, 16) == 2
        snap("shrink")
        b = await binder_alloc_new_buf(alloc, PAGE + 8)      # pages 0, 1 again
        snap("alloc b")
        await binder_alloc_free_buf(alloc, b)
        await binder_alloc_free_buf(alloc, keep)
        snap("free all")

    snaps, findings = run_script(script)
    assert findings == []
    states = dict(snaps)
    assert states["free a"][:4] == ["lru", "lru", "active", "free"]
    assert states["shrink"][:4] == ["free", "free", "active", "free"]
    assert states["alloc b"][:4] == ["active", "active", "active", "free"]
    assert states["free all"][:4] == ["lru", "lru", "lru", "free"]
