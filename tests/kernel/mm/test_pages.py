"""Pages, page tables and GUP in the mm model (exhaustive DPOR)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck import explore, label
from vmacheck.kernel.mm import (
    EBUSY,
    FOLL_NOFAULT,
    VM_MIXEDMAP,
    VM_READ,
    VM_WRITE,
    MmStruct,
    alloc_page,
    get_user_pages_remote,
    lock_vma_under_rcu,
    mmap_read_lock,
    mmap_read_unlock,
    put_page,
    setup_page,
    setup_vma,
    sys_munmap,
    vm_insert_page,
    vma_end_read,
    zap_vma_range,
)

A = 0x1000


def test_vm_insert_page_races_give_one_ebusy_and_page_refs_balance() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x1000, VM_READ | VM_MIXEDMAP)
        refs: dict[str, Any] = {}

        async def installer(name: str) -> None:
            page = await alloc_page()
            assert page is not None
            refs[name] = page
            vma = await lock_vma_under_rcu(mm, A)
            if vma is None:
                await put_page(page)
                return
            ret = await vm_insert_page(vma, A, page)
            label(f"{name}={'EBUSY' if ret == -EBUSY else ret}")
            await vma_end_read(vma)
            await put_page(page)

        return [("i1", installer("i1")), ("i2", installer("i2"))]

    r = explore(model, max_steps=1000)
    assert r.complete and r.ok
    assert "i1=0; i2=EBUSY" in r.outcome_labels() or "i2=EBUSY; i1=0" in r.outcome_labels()
    assert all("=0" in x and "EBUSY" in x for x in r.outcome_labels())


def test_zap_then_touch_freed_page_is_use_after_free() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)
        page = setup_page(mm, A)

        async def t() -> None:
            await mmap_read_lock(mm)
            await zap_vma_range(vma, A, 0x1000)
            await mmap_read_unlock(mm)
            await page.private.load()

        return [("t", t())]

    r = explore(model, max_steps=200)
    assert r.kinds() == {"use-after-free"}


def test_gup_nofault_pins_present_page_that_survives_munmap() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x2000, VM_READ | VM_WRITE, anon_vma=True)
        setup_page(mm, A)

        async def pinner() -> None:
            await mmap_read_lock(mm)
            n, pages = await get_user_pages_remote(mm, A, 2, FOLL_NOFAULT)
            await mmap_read_unlock(mm)
            label(f"pinned={n}")
            for p in pages:
                await p.private.load()
                await put_page(p)

        async def unmap() -> None:
            await sys_munmap(mm, A, 0x2000)

        return [("gup", pinner()), ("munmap", unmap())]

    r = explore(model, max_steps=1000)
    assert r.complete and r.ok, [f.headline() for f in r.findings]
    assert set(r.outcome_labels()) == {"pinned=1", f"pinned={-14}"}


def test_partial_munmap_splits_and_zaps_only_the_range() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x3000, VM_READ | VM_WRITE, anon_vma=True)
        for addr in (A, A + 0x1000, A + 0x2000):
            setup_page(mm, addr)

        async def t() -> None:
            await sys_munmap(mm, A + 0x1000, 0x1000)
            tree = await mm.mm_mt.load()
            label("tree=" + " ".join(f"[{s:#x},{e:#x})" for s, e, _ in tree))
            mapped = [a for a in (A, A + 0x1000, A + 0x2000) if await mm.pte[a].load()]
            label("mapped=" + ",".join(hex(a) for a in mapped))

        return [("t", t())]

    r = explore(model, max_steps=400)
    assert r.ok, [f.headline() for f in r.findings]
    assert r.outcome_labels() == {"tree=[0x1000,0x2000) [0x3000,0x4000); mapped=0x1000,0x3000": 1}


def test_allocating_a_page_under_a_spinlock_is_sleep_in_atomic() -> None:
    from vmacheck import SpinLock

    def model() -> Iterable[Any]:
        MmStruct("mm")
        lock = SpinLock("lru lock")

        async def t() -> None:
            await lock.lock()
            page = await alloc_page()
            await lock.unlock()
            if page is not None:
                await put_page(page)

        return [("t", t())]

    assert explore(model, max_steps=100).kinds() == {"sleep-in-atomic"}
