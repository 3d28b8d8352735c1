"""Reports carry what a KASAN or lockdep reader expects: where a freed object was allocated
and freed, the values that broke an invariant, the call trace at the violating step, and no
checker bookkeeping in the listing."""

from __future__ import annotations

import inspect
import re
from typing import Any

import vmacheck as vc
from vmacheck.report.text import render_finding


def line_of(fn: Any, marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, text in enumerate(lines) if marker in text]
    assert len(hits) == 1, marker
    return hits[0]


def vm_area_alloc(name: str) -> vc.Allocation:
    return vc.Allocation(name)  # allocation site


def uaf() -> list[tuple[str, Any]]:
    """munmap frees the VMA while a stale reader still loads its flags."""
    vma = vm_area_alloc("vma0")
    flags = vc.Var("vma0.vm_flags", 7, alloc=vma)

    async def vm_area_free() -> None:
        await vma.free()  # free site

    async def do_munmap() -> None:
        await flags.store(0)
        await vm_area_free()

    async def stale_reader() -> None:
        vc.label(f"flags={await flags.load()}")  # use site

    return [("munmap", do_munmap()), ("reader", stale_reader())]


def test_use_after_free_says_where_it_was_allocated_and_freed() -> None:
    r = vc.explore(uaf)
    (f,) = r.by_kind("use-after-free")
    text = render_finding(None, f)
    here = "tests/report/test_report_kasan.py"
    alloc = re.search(r"^Allocated by task \(model set-up\):\n((?:  .*\n)+)", text, re.M)
    assert alloc is not None, text
    assert f"  vm_area_alloc ({here}:{line_of(vm_area_alloc, 'allocation site')})" \
        in alloc.group(1)
    assert f"  uaf ({here}:{line_of(uaf, 'vm_area_alloc(')})" in alloc.group(1)
    freed = re.search(r"^Freed by task munmap at step (\d+):\n((?:  .*\n)+)", text, re.M)
    assert freed is not None, text
    frames = freed.group(2).splitlines()
    assert frames[0] == f"  vm_area_free ({here}:{line_of(uaf, 'free site')})"
    assert frames[1].startswith("  do_munmap (")
    step = int(freed.group(1))
    assert f.trace[step - 1].op == "free vma0" and f.trace[step - 1].thread == "munmap"


def map_count() -> list[tuple[str, Any]]:
    count = vc.Var("mm->map_count", 0)
    tree = vc.Var("mm->mm_mt", 0)
    vc.invariant("map_count matches the tree", lambda: count.peek() == tree.peek(),
                 at_end=True, explain=lambda: f"map_count={count.peek()}, "
                 f"tree entries={tree.peek()}")

    async def insert() -> None:
        n = await count.load()
        await count.store(n + 1)
        t = await tree.load()
        await tree.store(t + 1)

    return [("mmap/1", insert()), ("mmap/2", insert())]


def test_invariant_message_has_the_values_that_broke_it() -> None:
    r = vc.explore(map_count)
    (f,) = r.by_kind("invariant")
    text = render_finding(None, f)
    m = re.search(r"^values: map_count=(\d+), tree entries=(\d+)$", text, re.M)
    assert m is not None, text
    assert m.group(1) != m.group(2)


def per_step_values() -> list[tuple[str, Any]]:
    seq = vc.Var("vma->vm_lock_seq", 0)

    async def writer() -> None:
        await seq.store(3)

    vc.invariant("vm_lock_seq stays even", lambda: seq.peek() % 2 == 0, reads=[seq])
    return [("writer", writer())]


def test_invariant_with_reads_shows_their_values() -> None:
    (f,) = vc.explore(per_step_values).by_kind("invariant")
    assert "values: vma->vm_lock_seq=3" in render_finding(None, f)


def vma_assert_write_locked(locked: bool) -> None:
    vc.WARN_ON(not locked, "vma not write-locked")  # the WARN


async def vma_mark_detached(vma: vc.Var, locked: bool) -> None:
    vma_assert_write_locked(locked)
    await vma.store(0)  # the next op, after the WARN


def detach() -> list[tuple[str, Any]]:
    vma = vc.Var("vma0.vm_refcnt", 1)
    ready = vc.Var("ready", 0)

    async def munmap() -> None:
        await ready.store(1)
        await vma_mark_detached(vma, locked=False)

    return [("munmap", munmap())]


def test_call_trace_is_taken_at_the_violating_step() -> None:
    (f,) = vc.explore(detach).by_kind("assertion")
    text = render_finding(None, f)
    block = text.split("task munmap (tid 0)", 1)[1].split("\n\n", 1)[0]
    frames = [x.strip() for x in block.splitlines() if x.startswith("  ")]
    here = "tests/report/test_report_kasan.py"
    assert frames[0] == (f"vma_assert_write_locked ({here}:"
                         f"{line_of(vma_assert_write_locked, 'the WARN')})"), block
    assert frames[1].startswith("vma_mark_detached (") and frames[2].startswith("munmap (")


def ghost() -> list[tuple[str, Any]]:
    relinquished = vc.Var("alloc->relinquished", 0, ghost=True)
    counted = vc.Var("pages (ghost)", 0)
    page = vc.Var("page0.refcount", 1)

    async def shrinker() -> None:
        await relinquished.fetch_add(1)
        await counted.store(1)
        await page.store(0)

    vc.invariant("page kept", lambda: page.peek() == 1, at_end=True)
    return [("shrinker", shrinker())]


def test_bookkeeping_steps_are_hidden_from_the_listing() -> None:
    (f,) = vc.explore(ghost).by_kind("invariant")
    assert [s.ghost for s in f.trace] == [True, True, False]
    text = render_finding(None, f)
    listing = text.split("Interleaving", 1)[1]
    assert "alloc->relinquished" not in listing and "pages (ghost)" not in listing
    assert "store page0.refcount 0" in listing
    assert "(2 checker bookkeeping steps not shown; the replay prints them)" in listing
