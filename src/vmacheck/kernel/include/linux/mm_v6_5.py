"""The first per-VMA lock (v6.4 and v6.5), with the orderings b1f02b95758d fixed.

Commit b1f02b95758d ("mm: fix memory ordering for mm_lock_seq and vm_lock_seq", v6.5-rc)
made ``vma_end_write_all`` (include/linux/mmap_lock.h) publish the new ``mm_lock_seq`` with
``smp_store_release`` instead of ``WRITE_ONCE``, made ``vma_start_read`` (include/linux/mm.h)
read it with ``smp_load_acquire`` instead of ``READ_ONCE``, and made ``vma_start_write``
store ``vm_lock_seq`` with ``WRITE_ONCE``.  Before it, the store that unlocks the VMAs could
become visible before the writer's earlier stores to a VMA (the ``vm_flags`` that
``userfaultfd_register`` sets under the mmap write lock), and a reader's later loads of VMA
fields could be satisfied before its load of ``mm_lock_seq``.

``vma_end_write_all`` and ``vma_start_read`` are versioned: ``b1f02b95758d`` (the kernel
after the fix, default) and ``pre-b1f02b95758d`` (v6.4).  ``vma_start_write``'s plain store
versus ``WRITE_ONCE`` is the same access to the memory model (the fix's KCSAN part), so it
is not versioned.  The structures here are the 2023 ones: ``vma->vm_lock->lock`` is an
rwsem, ``mm->mm_lock_seq`` a plain counter bumped when the mmap write lock is dropped.
Ghost state: ``model_seen`` records, per reader thread, the ``vm_lock_seq`` and
``mm_lock_seq`` its last successful ``vma_start_read`` saw.
"""

from __future__ import annotations

from vmacheck.explore import RwSem, Var, thread_id
from vmacheck.kernel.rcu import rcu_read_lock, rcu_read_unlock
from vmacheck.kernel.variants import kfunc

MODEL_NAMESPACE = "v6.5"
"""This module models the v6.5 kernel beside the current one: its functions are registered as
``v6.5:vma_start_read``, ``v6.5:vma_end_write_all``, ... (``vmacheck list``)."""

VM_UFFD_MISSING = 0x200
"""``VM_UFFD_MISSING`` (include/linux/mm.h), one of ``__VM_UFFD_FLAGS``."""
VM_READ = 0x1
VM_WRITE = 0x2


class VmAreaStruct2023:
    """``struct vm_area_struct`` of v6.4/v6.5: ``vm_lock_seq``, ``vm_lock->lock``, ``vm_flags``,
    ``vm_start``/``vm_end`` (constant here) and ``detached``."""

    def __init__(self, mm: MmStruct2023, name: str, start: int, end: int, flags: int) -> None:
        self.name = name
        self.vm_mm = mm
        self.vm_start = start
        self.vm_end = end
        self.vm_lock_seq = Var(f"{name}.vm_lock_seq", -1)
        self.vm_lock = RwSem(f"{name}.vm_lock->lock", lock_class="vma->vm_lock->lock")
        self.vm_flags = Var(f"{name}.vm_flags", flags)
        self.detached = Var(f"{name}.detached", False)
        self.model_seen: dict[int, tuple[int, int]] = {}


class MmStruct2023:
    """``struct mm_struct`` of v6.4/v6.5: ``mmap_lock`` (an rwsem), ``mm_lock_seq`` (an int)
    and ``mm_mt`` (one VMA, published with ``rcu_assign_pointer``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mmap_lock = RwSem(f"{name}.mmap_lock", lock_class="mmap_lock")
        self.mm_lock_seq = Var(f"{name}.mm_lock_seq", 0)
        self.mm_mt = Var(f"{name}.mm_mt", None)


# --------------------------------------------------------------------------- writers


@kfunc("b1f02b95758d")
async def vma_end_write_all(mm: MmStruct2023) -> None:
    """``vma_end_write_all`` (include/linux/mmap_lock.h, after b1f02b95758d): under the mmap
    write lock, ``smp_store_release(&mm->mm_lock_seq, mm->mm_lock_seq + 1)``: every VMA
    write-locked in this write section is unlocked, after the stores made to it."""
    seq = await mm.mm_lock_seq.load()
    await mm.mm_lock_seq.store(seq + 1, mode="release")


@vma_end_write_all.variant("pre-b1f02b95758d")
async def _vma_end_write_all_v6_4(mm: MmStruct2023) -> None:
    """``vma_end_write_all`` (include/linux/mmap_lock.h, v6.4): ``WRITE_ONCE(mm->mm_lock_seq,
    mm->mm_lock_seq + 1)``, which does not order the earlier stores to the VMAs."""
    seq = await mm.mm_lock_seq.load()
    await mm.mm_lock_seq.store(seq + 1, mode="once")


async def mmap_write_lock(mm: MmStruct2023) -> None:
    """``mmap_write_lock`` (include/linux/mmap_lock.h, v6.5): ``down_write``."""
    await mm.mmap_lock.down_write()


async def mmap_write_unlock(mm: MmStruct2023) -> None:
    """``mmap_write_unlock`` (include/linux/mmap_lock.h, v6.5): ``vma_end_write_all`` then
    ``up_write``."""
    await vma_end_write_all(mm)
    await mm.mmap_lock.up_write()


async def __is_vma_write_locked(vma: VmAreaStruct2023) -> tuple[bool, int]:
    """``__is_vma_write_locked`` (include/linux/mm.h, v6.5): under the mmap write lock, read
    ``mm_lock_seq`` and compare the VMA's stamp.  Returns (locked, mm_lock_seq)."""
    mm_lock_seq = await vma.vm_mm.mm_lock_seq.load()
    stamp = await vma.vm_lock_seq.load()
    return stamp == mm_lock_seq, mm_lock_seq


async def vma_start_write(vma: VmAreaStruct2023) -> None:
    """``vma_start_write`` (include/linux/mm.h, v6.5): unless already write-locked in this
    write section, take ``vm_lock->lock`` for writing (waits for readers), stamp
    ``WRITE_ONCE(vma->vm_lock_seq, mm_lock_seq)``, release it."""
    locked, mm_lock_seq = await __is_vma_write_locked(vma)
    if locked:
        return
    await vma.vm_lock.down_write()
    await vma.vm_lock_seq.store(mm_lock_seq, mode="once")
    await vma.vm_lock.up_write()


async def userfaultfd_register(mm: MmStruct2023, start: int) -> None:
    """``userfaultfd_register`` (fs/userfaultfd.c, v6.5), the VMA part: under the mmap write
    lock, write-lock the VMA and set ``VM_UFFD_MISSING`` in its flags
    (``userfaultfd_set_vm_flags``: ``vma_start_write`` then ``vm_flags_reset``)."""
    await mmap_write_lock(mm)
    vma = await mm.mm_mt.load()
    if vma is not None and vma.vm_start <= start < vma.vm_end:
        await vma_start_write(vma)
        flags = await vma.vm_flags.load()
        await vma.vm_flags.store(flags | VM_UFFD_MISSING)
    await mmap_write_unlock(mm)


# --------------------------------------------------------------------------- readers


@kfunc("b1f02b95758d")
async def vma_start_read(vma: VmAreaStruct2023) -> bool:
    """``vma_start_read`` (include/linux/mm.h, after b1f02b95758d): bail out early if the
    stamp equals ``smp_load_acquire(&mm->mm_lock_seq)``; ``down_read_trylock(&vm_lock->lock)``;
    check again (the main check), again with an acquire load.  True: read-locked."""
    mm = vma.vm_mm
    if await vma.vm_lock_seq.load(mode="once") == await mm.mm_lock_seq.load(mode="acquire"):
        return False
    if not await vma.vm_lock.down_read_trylock():
        return False
    stamp = await vma.vm_lock_seq.load()
    seq = await mm.mm_lock_seq.load(mode="acquire")
    if stamp == seq:
        await vma.vm_lock.up_read()
        return False
    vma.model_seen[thread_id()] = (stamp, seq)
    return True


@vma_start_read.variant("pre-b1f02b95758d")
async def _vma_start_read_v6_4(vma: VmAreaStruct2023) -> bool:
    """``vma_start_read`` (include/linux/mm.h, v6.4): as after the fix but both checks read
    ``READ_ONCE(vma->vm_mm->mm_lock_seq)``, so later loads of VMA fields are not ordered
    after it."""
    mm = vma.vm_mm
    if await vma.vm_lock_seq.load(mode="once") == await mm.mm_lock_seq.load(mode="once"):
        return False
    if not await vma.vm_lock.down_read_trylock():
        return False
    stamp = await vma.vm_lock_seq.load()
    seq = await mm.mm_lock_seq.load(mode="once")
    if stamp == seq:
        await vma.vm_lock.up_read()
        return False
    vma.model_seen[thread_id()] = (stamp, seq)
    return True


async def vma_end_read(vma: VmAreaStruct2023) -> None:
    """``vma_end_read`` (include/linux/mm.h, v6.5): ``up_read(&vma->vm_lock->lock)`` inside an
    RCU read-side section (which only keeps the VMA alive here)."""
    await vma.vm_lock.up_read()


async def userfaultfd_armed(vma: VmAreaStruct2023) -> bool:
    """``userfaultfd_armed`` (include/linux/userfaultfd_k.h): ``vm_flags & __VM_UFFD_FLAGS``."""
    return bool(await vma.vm_flags.load() & VM_UFFD_MISSING)


async def lock_vma_under_rcu(mm: MmStruct2023, address: int) -> VmAreaStruct2023 | None:
    """``lock_vma_under_rcu`` (mm/memory.c, v6.5): under RCU find the VMA (``mas_walk``, an
    ``rcu_dereference`` of the tree), read-lock it with ``vma_start_read``, give up if
    userfaultfd is armed on it (its handler may drop the mmap lock), if the address left its
    range, or if it was detached.  NULL sends the fault to the mmap-lock path."""
    await rcu_read_lock()
    vma: VmAreaStruct2023 | None = await mm.mm_mt.load(mode="rcu")
    if vma is None:
        await rcu_read_unlock()
        return None
    if not await vma_start_read(vma):
        await rcu_read_unlock()
        return None
    if await userfaultfd_armed(vma) or not vma.vm_start <= address < vma.vm_end \
            or await vma.detached.load():
        await vma_end_read(vma)
        await rcu_read_unlock()
        return None
    await rcu_read_unlock()
    return vma
