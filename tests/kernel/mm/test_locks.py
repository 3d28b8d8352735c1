"""Unit models of the mm lock API: mmap_lock, per-VMA locks, RCU, checks (exhaustive DPOR)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from vmacheck import Result, Var, explore, label
from vmacheck.kernel.include.linux.mm import vma_iter_clear
from vmacheck.kernel.include.linux.mm_types import VM_REFCNT_EXCLUDE_READERS_FLAG, boot
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    do_user_addr_fault,
    lock_vma_under_rcu,
    mmap_lock_is_contended,
    mmap_read_lock,
    mmap_read_trylock,
    mmap_read_unlock,
    mmap_write_downgrade,
    mmap_write_lock,
    mmap_write_unlock,
    mmget_not_zero,
    rcu_read_lock,
    rcu_read_unlock,
    setup_vma,
    synchronize_rcu,
    sys_munmap,
    vma_end_read,
    vma_start_read_locked,
    vma_start_write,
)
from vmacheck.kernel.mm.mmap_lock import vma_mark_detached
from vmacheck.kernel.variants import Selection, select

A = 0x1000
CONFIGS = [{}, {"SERIES_APPLIED": False, "PER_VMA_LOCK": True}]


def run(model: Callable[[], Iterable[Any]], config: dict[str, bool] | None = None,
        variants: dict[str, str] | None = None) -> Result:
    with select(Selection(dict(variants or {}), dict(config or {}))):
        r = explore(model, mode="dpor", max_steps=1000)
    assert r.complete
    return r


def test_classic_recursive_read_deadlock_names_the_cycle() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x1000, VM_READ | VM_WRITE)

        async def t1() -> None:
            await mmap_read_lock(mm)
            await do_user_addr_fault(mm, A, write=True, user_mode=False)
            await mmap_read_unlock(mm)

        async def t2() -> None:
            await mmap_write_lock(mm)
            await mmap_write_unlock(mm)

        return [("T1", t1()), ("T2", t2())]

    for config in [*CONFIGS, {"SERIES_APPLIED": False, "PER_VMA_LOCK": False}]:
        r = run(model, config)
        assert r.kinds() == {"deadlock"}
        (dl,) = r.by_kind("deadlock")
        assert sorted(dl.extra["cycle"]) == ["T1", "T2"]
        assert "wait-for cycle" in dl.message


def test_mm_lock_seq_parity_and_vma_write_lock_released_by_unlock() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ)

        async def writer() -> None:
            await mmap_write_lock(mm)
            label(f"seq={await mm.mm_lock_seq.load()}")
            await vma_start_write(vma)
            await mmap_write_downgrade(mm)
            label(f"seq={await mm.mm_lock_seq.load()}")
            await mmap_read_unlock(mm)
            locked = await lock_vma_under_rcu(mm, A)
            label("relocked" if locked is not None else "NULL")
            if locked is not None:
                await vma_end_read(locked)

        return [("writer", writer())]

    r = run(model)
    assert r.ok
    assert r.outcome_labels() == {"seq=1; seq=2; relocked": 1}


def test_trylock_fails_with_a_queued_writer_and_contention_is_visible() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        queued = Var("writer queued", False)

        async def reader() -> None:
            await mmap_read_lock(mm)
            await queued.store(await mmap_lock_is_contended(mm))
            if await queued.load():
                label("trylock=" + str(await mmap_read_trylock(mm)))
            await mmap_read_unlock(mm)

        async def writer() -> None:
            await mmap_write_lock(mm)
            await mmap_write_unlock(mm)

        return [("reader", reader()), ("writer", writer())]

    r = run(model)
    assert r.ok
    assert "trylock=False" in r.outcome_labels()
    assert "trylock=True" not in r.outcome_labels()


@pytest.mark.parametrize("config", CONFIGS)
def test_vma_read_lock_makes_writer_wait_and_writer_excludes_readers(
        config: dict[str, bool]) -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ, anon_vma=True)

        async def reader() -> None:
            locked = await lock_vma_under_rcu(mm, A)
            if locked is not None:
                label(f"reader sees refcnt {await locked.vm_refcnt.load()}")
                await vma_end_read(locked)
            else:
                label("reader NULL")

        async def writer() -> None:
            await mmap_write_lock(mm)
            await vma_start_write(vma)
            label(f"writer sees refcnt {await vma.vm_refcnt.load()}")
            await mmap_write_unlock(mm)

        return [("reader", reader()), ("writer", writer())]

    r = run(model, config)
    assert r.ok
    labels = list(r.outcome_labels())
    assert any("reader NULL" in x for x in labels)
    assert any("reader sees refcnt 2" in x for x in labels)
    # the writer never goes on while readers are excluded-but-inside (exclusion itself is the
    # built-in invariant "vma reader/writer exclusion", which r.ok covers)
    for x in labels:
        assert f"refcnt {1 + VM_REFCNT_EXCLUDE_READERS_FLAG}" not in x


def test_vma_end_read_without_a_read_lock_is_a_bad_unlock() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ)

        async def t() -> None:
            await vma_end_read(vma)

        return [("t", t())]

    assert run(model).kinds() == {"bad-unlock"}


def test_leaked_vma_read_lock_is_a_resource_leak_and_blocks_munmap() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        setup_vma(mm, A, A + 0x1000, VM_READ, anon_vma=True)
        done = Var("locked", False)

        async def leaker() -> None:
            if await lock_vma_under_rcu(mm, A) is not None:
                await done.store(True)

        async def unmap() -> None:
            if await done.load():
                await sys_munmap(mm, A, 0x1000)

        return [("leaker", leaker()), ("munmap", unmap())]

    r = run(model)
    assert "resource-leak" in r.kinds()
    assert "deadlock" in r.kinds()  # munmap's vma_start_write waits forever


def test_vma_start_read_locked_needs_the_mmap_lock() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ)

        async def t() -> None:
            if await vma_start_read_locked(vma):
                await vma_end_read(vma)

        return [("t", t())]

    assert run(model).kinds() == {"assertion"}


def test_detach_waits_for_transient_readers_and_then_reader_fails() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        vma = setup_vma(mm, A, A + 0x1000, VM_READ, anon_vma=True)

        async def detacher() -> None:
            await mmap_write_lock(mm)
            await vma_start_write(vma)
            await vma_mark_detached(vma)
            label(f"refcnt={await vma.vm_refcnt.load()}")
            await vma_iter_clear(mm, A, A + 0x1000)
            await mmap_write_unlock(mm)

        async def reader() -> None:
            locked = await lock_vma_under_rcu(mm, A)
            if locked is not None:
                await vma_end_read(locked)

        return [("detacher", detacher()), ("reader", reader())]

    r = run(model)
    assert r.ok, [f.headline() for f in r.findings]
    assert set(r.outcome_labels()) == {"refcnt=0"}


def test_sleeping_inside_rcu_read_section_is_sleep_in_atomic() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")

        async def t() -> None:
            await rcu_read_lock()
            await mmap_read_lock(mm)
            await mmap_read_unlock(mm)
            await rcu_read_unlock()

        return [("t", t())]

    assert run(model).kinds() == {"sleep-in-atomic"}


def test_synchronize_rcu_waits_for_preexisting_reader() -> None:
    def model() -> Iterable[Any]:
        boot(vmas=0, pages=0, threads=2)
        inside = Var("reader inside", False)
        finished = Var("reader finished", False)

        async def reader() -> None:
            await rcu_read_lock()
            await inside.store(True)
            await finished.store(True)
            await rcu_read_unlock()

        async def updater() -> None:
            if await inside.load():
                await synchronize_rcu()
                label(f"after grace period reader finished={await finished.load()}")

        return [("reader", reader()), ("updater", updater())]

    r = run(model)
    assert r.ok
    labels = r.outcome_labels()
    assert "after grace period reader finished=True" in labels
    assert "after grace period reader finished=False" not in labels


def test_synchronize_rcu_inside_a_read_section_is_sleep_in_atomic() -> None:
    def model() -> Iterable[Any]:
        boot(vmas=0, pages=0, threads=1)

        async def t() -> None:
            await rcu_read_lock()
            await synchronize_rcu()
            await rcu_read_unlock()

        return [("t", t())]

    assert run(model).kinds() == {"sleep-in-atomic"}


def test_rcu_exit_without_unlock_is_a_leak_and_mmget_not_zero_fails_at_zero() -> None:
    def model() -> Iterable[Any]:
        mm = MmStruct("mm")
        mm.mm_users._value = 0

        async def t() -> None:
            label(f"mmget_not_zero={await mmget_not_zero(mm)}")
            await rcu_read_lock()

        return [("t", t())]

    r = run(model)
    assert r.kinds() == {"resource-leak"}
    assert r.outcome_labels() == {"mmget_not_zero=False": 1}


def test_vma_start_read_unlocked_without_a_vma() -> None:
    from vmacheck.kernel.mm import vma_start_read_unlocked

    def model() -> Iterable[Any]:
        mm = MmStruct("mm")

        async def t() -> None:
            vma = await vma_start_read_unlocked(mm, A)
            label("NULL" if vma is None else "vma")

        return [("t", t())]

    fixed = run(model, variants={"vma_start_read_unlocked": "fixed"})
    assert fixed.ok and fixed.outcome_labels() == {"NULL": 1}
    posted = run(model, variants={"vma_start_read_unlocked": "posted"})
    assert posted.kinds() == {"null-deref"}
