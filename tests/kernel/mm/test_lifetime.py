"""VMA lifetime checks: freeing rules, slab reuse, lock-kind mismatch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck import explore, label
from vmacheck.kernel.include.linux.mm_types import boot
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    lock_vma_under_rcu,
    mmap_read_lock,
    mmap_read_unlock,
    mmap_write_lock,
    mmap_write_unlock,
    setup_page,
    setup_vma,
    sys_munmap,
    vm_mmap_pgoff,
    vma_end_read,
)
from vmacheck.kernel.mm.vma import vm_area_free

A = 0x1000


def test_freeing_an_attached_mapped_vma_breaks_the_freeing_rules() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ)
        setup_page(mm, A)

        async def t() -> None:
            await mmap_write_lock(mm)
            await vm_area_free(vma)
            await mmap_write_unlock(mm)

        return [("t", t())]

    r = explore(model, max_steps=100)
    assert r.kinds() == {"assertion", "invariant"}
    messages = " ".join(f.message for f in r.findings)
    assert "vma_assert_detached" in messages
    assert "still in mm's tree" in messages and "PTEs still mapped" in messages


def test_munmap_then_mmap_reuses_the_slab_object_and_readers_get_the_new_vma() -> None:
    def model() -> Iterable[Any]:
        boot(vmas=1, generations=2, pages=2)
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

        async def remap() -> None:
            await sys_munmap(mm, A, 0x1000)
            await vm_mmap_pgoff(mm, None, A, 0x1000, VM_READ)

        async def reader() -> None:
            vma = await lock_vma_under_rcu(mm, A)
            if vma is not None:
                label(f"locked {vma.name} flags={await vma.vm_flags.load():#x}")
                await vma_end_read(vma)
            else:
                label("NULL")

        return [("remap", remap()), ("reader", reader())]

    r = explore(model, max_steps=1000)
    assert r.complete and r.ok, [f.headline() for f in r.findings]
    labels = set(r.outcome_labels())
    assert "locked vma0 flags=0x3" in labels
    assert any(x.startswith("locked vma0'1 flags=0x") for x in labels)  # the reused object


def test_mmap_unlock_of_a_vma_lock_is_a_lock_kind_mismatch() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x1000, VM_READ, anon_vma=True)

        async def t() -> None:
            vma = await lock_vma_under_rcu(mm, A)
            assert vma is not None
            await mmap_read_unlock(mm)  # released with the wrong primitive

        async def u() -> None:
            await mmap_read_lock(mm)
            vma = await lock_vma_under_rcu(mm, A)
            if vma is not None:
                await vma_end_read(vma)
            await mmap_read_unlock(mm)

        return [("wrong kind", t()), ("right kind", u())]

    r = explore(model, max_steps=400)
    assert {"bad-unlock", "resource-leak"} <= r.kinds()


def test_reader_meets_slab_object_reused_by_another_mm_and_pins_it() -> None:
    from vmacheck import replay

    def model() -> Iterable[Any]:
        boot(vmas=1, generations=2, pages=2)
        mm1 = MmStruct("mm1")
        mm2 = MmStruct("mm2")
        setup_vma(mm1, A, A + 0x1000, VM_READ | VM_WRITE, anon_vma=True)

        async def reader() -> None:
            vma = await lock_vma_under_rcu(mm1, A)
            label("NULL" if vma is None else "locked")
            if vma is not None:
                await vma_end_read(vma)

        async def recycle() -> None:
            await sys_munmap(mm1, A, 0x1000)
            await vm_mmap_pgoff(mm2, None, A, 0x1000, VM_READ)

        return [("reader", reader()), ("recycle", recycle())]

    r = explore(model, max_steps=1000, keep_log=True)
    assert r.complete and r.ok, [f.headline() for f in r.findings]
    owner_checks = 0
    for schedule in r.execution_log:
        rep = replay(model, schedule, max_steps=1000)
        ops = [s.op for s in rep.trace if s.thread == "reader"]
        if any("mm2.mm_count" in op for op in ops):  # mmgrab(other_mm) ... mmdrop
            owner_checks += 1
    assert owner_checks > 0


def test_call_rcu_runs_the_callback_after_preexisting_readers() -> None:
    from vmacheck import Var
    from vmacheck.kernel.mm import call_rcu, rcu_read_lock, rcu_read_unlock

    def model() -> Iterable[Any]:
        boot(vmas=0, pages=0, threads=4)
        inside = Var("inside", False)
        finished = Var("finished", False)

        async def callback() -> None:
            label(f"callback: reader finished={await finished.load()}")

        async def reader() -> None:
            await rcu_read_lock()
            await inside.store(True)
            await finished.store(True)
            await rcu_read_unlock()

        async def updater() -> None:
            if await inside.load():
                await call_rcu(callback)

        return [("reader", reader()), ("updater", updater())]

    r = explore(model, max_steps=200)
    assert r.complete and r.ok
    assert "callback: reader finished=True" in r.outcome_labels()
    assert "callback: reader finished=False" not in r.outcome_labels()
