"""userfaultfd: registration, ``UFFDIO_COPY`` and ``UFFDIO_MOVE`` (``mm/userfaultfd.c``,
``fs/userfaultfd.c``, ``include/linux/userfaultfd_k.h``).

Registration changes a VMA's ``__VM_UFFD_FLAGS`` under the mmap write lock, merging it with
its neighbour when it can (``vma_modify_flags_uffd``) and write-locking it before the change
(``userfaultfd_set_ctx``).  ``UFFDIO_COPY`` locks the destination VMA with ``uffd_mfill_lock``
(the per-VMA lock, or a short mmap read lock section that prepares the anon_vma and takes the
VMA read lock with ``vma_start_read_locked``).  ``UFFDIO_MOVE`` needs two VMA read locks
(``uffd_move_lock``): the destination through ``uffd_lock_vma``, the source only through
``lock_vma_under_rcu`` (which never blocks), falling back to locking both under the mmap read
lock after dropping the first, because waiting for the mmap lock while holding a VMA read lock
can deadlock with a writer that write-locks the source and then waits for the destination.

Known simplifications: one userfaultfd context per scenario, so ``vma->vm_userfaultfd_ctx``
is represented by the VMA's ``VM_UFFD_*`` flags; ``ctx->map_changing_lock`` and
``mmap_changing`` (non-cooperative events), ``mmget_not_zero``/``mmput`` of ``ctx->mm``, the
fault side (``handle_userfault``), wp/minor/continue modes and huge pages are not modelled.
"""

from __future__ import annotations

from typing import Any

from vmacheck.kernel.include.linux.atomic import load_all, locked_update
from vmacheck.kernel.include.linux.mm import alloc_page, put_page, vma_lookup
from vmacheck.kernel.include.linux.mm_types import (
    EAGAIN,
    EINVAL,
    ENOMEM,
    PAGE_SIZE,
    VM_SHARED,
    VM_WRITE,
    MmStruct,
    VmAreaStruct,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_assert_locked,
    mmap_read_lock,
    mmap_read_unlock,
    mmap_write_lock,
    mmap_write_unlock,
    per_vma_lock,
    vma_end_read,
    vma_start_read_locked,
    vma_start_read_locked_nested,
)
from vmacheck.kernel.mm.mmap import vm_flags_reset
from vmacheck.kernel.mm.mmap_lock import lock_vma_under_rcu, vma_start_write
from vmacheck.kernel.mm.rmap import __anon_vma_prepare, folio_add_new_anon_rmap, rmap_state
from vmacheck.kernel.mm.vma_merge import vma_modify_flags
from vmacheck.kernel.variants import kfunc

ENOENT = 2
EEXIST = 17
VM_UFFD_MISSING = 0x200
VM_UFFD_WP = 0x1000
VM_UFFD_MINOR = 0x100000000
__VM_UFFD_FLAGS = VM_UFFD_MISSING | VM_UFFD_WP | VM_UFFD_MINOR
SINGLE_DEPTH_NESTING = 1

VmaOrErr = VmAreaStruct | int


async def userfaultfd_armed(vma: VmAreaStruct) -> bool:
    """``userfaultfd_armed`` (include/linux/userfaultfd_k.h): any ``__VM_UFFD_FLAGS``."""
    return bool(await vma.vm_flags.load() & __VM_UFFD_FLAGS)


async def anon_vma_prepare(vma: VmAreaStruct) -> int:
    """``anon_vma_prepare`` (include/linux/rmap.h): ``__anon_vma_prepare`` unless the VMA
    already has an anon_vma."""
    if await vma.anon_vma.load() is not None:
        return 0
    ret: int = await __anon_vma_prepare(vma)
    return ret


# --------------------------------------------------------------------------- registration


@kfunc("mainline")
async def userfaultfd_set_ctx(vma: VmAreaStruct, flags: int) -> None:
    """``userfaultfd_set_ctx`` (mm/userfaultfd.c): ``vma_start_write``, set the context and
    replace the VMA's ``__VM_UFFD_FLAGS`` with ``flags`` (``vm_flags_reset``)."""
    await vma_start_write(vma)
    old = await vma.vm_flags.load()
    await vm_flags_reset(vma, (old & ~__VM_UFFD_FLAGS) | flags)


async def userfaultfd_register_range(mm: MmStruct, vma: VmAreaStruct, vm_flags: int) -> int:
    """``userfaultfd_register_range`` (mm/userfaultfd.c) for one whole VMA: merge it with
    its neighbour if the new flags allow (``vma_modify_flags_uffd``), then
    ``userfaultfd_set_ctx``."""
    old = await vma.vm_flags.load()
    new_flags = (old & ~__VM_UFFD_FLAGS) | vm_flags
    vma = await vma_modify_flags(mm, vma, new_flags)
    await userfaultfd_set_ctx(vma, vm_flags)
    return 0


async def userfaultfd_register(mm: MmStruct, start: int, vm_flags: int) -> int:
    """``userfaultfd_register`` (fs/userfaultfd.c) of the VMA at ``start``: under the mmap
    write lock, check it can be registered (anonymous, not shared here) and register it."""
    await mmap_write_lock(mm)
    vma = await vma_lookup(mm, start)
    ret = -ENOENT
    if vma is not None:
        flags, ops = await load_all([vma.vm_flags, vma.vm_ops], "vma_can_userfault")
        ret = -EINVAL if flags & VM_SHARED or ops is not None else (
            await userfaultfd_register_range(mm, vma, vm_flags))
    await mmap_write_unlock(mm)
    return ret


# --------------------------------------------------------------------------- locking


async def find_vma_and_prepare_anon(mm: MmStruct, addr: int) -> VmaOrErr:
    """``find_vma_and_prepare_anon`` (mm/userfaultfd.c): under the mmap lock, the VMA at
    ``addr`` (-ENOENT) with an anon_vma prepared if private (-ENOMEM)."""
    mmap_assert_locked(mm)
    vma = await vma_lookup(mm, addr)
    if vma is None:
        return -ENOENT
    if not await vma.vm_flags.load() & VM_SHARED and await anon_vma_prepare(vma):
        return -ENOMEM
    return vma


@kfunc("mainline")
async def uffd_lock_vma(mm: MmStruct, address: int) -> VmaOrErr:
    """``uffd_lock_vma`` (mm/userfaultfd.c): ``lock_vma_under_rcu``; a private VMA without
    an anon_vma is unlocked again.  Else, under the mmap read lock,
    ``find_vma_and_prepare_anon`` and ``vma_start_read_locked`` (-EAGAIN if it fails)."""
    vma: VmAreaStruct | None = await lock_vma_under_rcu(mm, address)
    if vma is not None:
        flags, anon = await load_all([vma.vm_flags, vma.anon_vma], "uffd_lock_vma: anon check")
        if not flags & VM_SHARED and anon is None:
            await vma_end_read(vma)
        else:
            return vma
    await mmap_read_lock(mm)
    found = await find_vma_and_prepare_anon(mm, address)
    if not isinstance(found, int) and not await vma_start_read_locked(found):
        found = -EAGAIN
    await mmap_read_unlock(mm)
    return found


async def validate_dst_vma(dst_vma: VmAreaStruct, dst_end: int) -> bool:
    """``validate_dst_vma`` (mm/userfaultfd.c): the range stays in the VMA and the VMA is
    registered (its ``vm_userfaultfd_ctx``)."""
    end, flags = await load_all([dst_vma.vm_end, dst_vma.vm_flags], "validate_dst_vma")
    return bool(dst_end <= end and flags & __VM_UFFD_FLAGS)


async def uffd_mfill_lock(mm: MmStruct, dst_start: int, length: int) -> VmaOrErr:
    """``uffd_mfill_lock`` (mm/userfaultfd.c): ``uffd_lock_vma``, then ``validate_dst_vma``
    (-ENOENT after ``vma_end_read``).  Without per-VMA locks: the mmap read lock, held until
    ``uffd_mfill_unlock``."""
    if not per_vma_lock():
        await mmap_read_lock(mm)
        found = await find_vma_and_prepare_anon(mm, dst_start)
        if not isinstance(found, int):
            if await validate_dst_vma(found, dst_start + length):
                return found
            found = -ENOENT
        await mmap_read_unlock(mm)
        return found
    dst_vma: VmaOrErr = await uffd_lock_vma(mm, dst_start)
    if isinstance(dst_vma, int):
        return dst_vma
    if await validate_dst_vma(dst_vma, dst_start + length):
        return dst_vma
    await vma_end_read(dst_vma)
    return -ENOENT


async def uffd_mfill_unlock(vma: VmAreaStruct) -> None:
    """``uffd_mfill_unlock`` (mm/userfaultfd.c): ``vma_end_read`` (without per-VMA locks:
    ``mmap_read_unlock``)."""
    if not per_vma_lock():
        assert vma.vm_mm is not None
        await mmap_read_unlock(vma.vm_mm)
        return
    await vma_end_read(vma)


# --------------------------------------------------------------------------- UFFDIO_COPY


async def mfill_atomic_pte_copy(dst_vma: VmAreaStruct, dst_addr: int) -> int:
    """``mfill_atomic_pte_copy`` → ``mfill_atomic_install_pte`` (mm/userfaultfd.c): a new
    page (``folio_add_new_anon_rmap``), then under the PTL -EEXIST if the PTE is populated."""
    page = await alloc_page()
    if page is None:
        return -ENOMEM
    await folio_add_new_anon_rmap(page, dst_vma, dst_addr)
    mm = dst_vma.vm_mm
    assert mm is not None
    if not await mm.pte[dst_addr].cas(None, page):
        await put_page(page)
        return -EEXIST
    return 0


async def mfill_atomic_copy(mm: MmStruct, dst_start: int, length: int) -> int:
    """``mfill_atomic_copy`` → ``mfill_atomic`` (mm/userfaultfd.c) for anonymous memory:
    lock the destination VMA (``uffd_mfill_lock``), fill page by page, unlock.  Returns the
    bytes copied or ``-errno``."""
    dst_vma = await uffd_mfill_lock(mm, dst_start, length)
    if isinstance(dst_vma, int):
        return dst_vma
    copied = 0
    err = 0
    while copied < length:
        err = await mfill_atomic_pte_copy(dst_vma, dst_start + copied)
        if err:
            break
        copied += PAGE_SIZE
    await uffd_mfill_unlock(dst_vma)
    return copied if copied else err


# --------------------------------------------------------------------------- UFFDIO_MOVE


async def find_vmas_mm_locked(mm: MmStruct, dst_start: int,
                              src_start: int) -> tuple[VmAreaStruct, VmAreaStruct] | int:
    """``find_vmas_mm_locked`` (mm/userfaultfd.c): under the mmap lock, the destination
    (``find_vma_and_prepare_anon``) and the source VMA (``vma_lookup``; -ENOENT)."""
    dst = await find_vma_and_prepare_anon(mm, dst_start)
    if isinstance(dst, int):
        return dst
    start, end = await load_all([dst.vm_start, dst.vm_end], "find_vmas_mm_locked")
    if start <= src_start < end:
        return dst, dst
    src = await vma_lookup(mm, src_start)
    if src is None:
        return -ENOENT
    return dst, src


@kfunc("mainline")
async def uffd_move_lock(mm: MmStruct, dst_start: int,
                         src_start: int) -> tuple[VmAreaStruct, VmAreaStruct] | int:
    """``uffd_move_lock`` (mm/userfaultfd.c): read-lock the destination (``uffd_lock_vma``)
    and the source (``lock_vma_under_rcu`` only: waiting for the mmap lock while holding the
    destination's read lock could deadlock).  If the source cannot be locked, drop the
    destination, and under the mmap read lock find both and ``vma_start_read_locked`` the
    destination, then the source (``SINGLE_DEPTH_NESTING``); -EAGAIN if either fails.
    Without per-VMA locks: find both under the mmap read lock, held until
    ``uffd_move_unlock``."""
    if not per_vma_lock():
        await mmap_read_lock(mm)
        both = await find_vmas_mm_locked(mm, dst_start, src_start)
        if isinstance(both, int):
            await mmap_read_unlock(mm)
        return both
    dst: VmaOrErr = await uffd_lock_vma(mm, dst_start)
    if isinstance(dst, int):
        return dst
    start, end = await load_all([dst.vm_start, dst.vm_end], "uffd_move_lock: src in dst?")
    if start <= src_start < end:
        return dst, dst
    src = await lock_vma_under_rcu(mm, src_start)
    if src is not None:
        return dst, src
    await vma_end_read(dst)
    await mmap_read_lock(mm)
    found = await find_vmas_mm_locked(mm, dst_start, src_start)
    if not isinstance(found, int):
        dst, src = found
        if not await vma_start_read_locked(dst):
            found = -EAGAIN
        elif src is not dst and not await vma_start_read_locked_nested(src,
                                                                      SINGLE_DEPTH_NESTING):
            await vma_end_read(dst)
            found = -EAGAIN
    await mmap_read_unlock(mm)
    return found


async def uffd_move_unlock(dst_vma: VmAreaStruct, src_vma: VmAreaStruct) -> None:
    """``uffd_move_unlock`` (mm/userfaultfd.c): ``vma_end_read`` both (once if the same);
    without per-VMA locks ``mmap_read_unlock``."""
    if not per_vma_lock():
        assert src_vma.vm_mm is not None
        await mmap_read_unlock(src_vma.vm_mm)
        return
    await vma_end_read(src_vma)
    if src_vma is not dst_vma:
        await vma_end_read(dst_vma)


async def move_present_pte(src_vma: VmAreaStruct, dst_vma: VmAreaStruct, src_addr: int,
                           dst_addr: int) -> int:
    """``move_pages_pte`` → ``move_present_pte`` (mm/userfaultfd.c) for one page: read the
    source PTE (-ENOENT if empty), then under both PTLs (and the folio lock) -EAGAIN if it
    changed (``pte_same``), -EEXIST if the destination is populated; else
    ``folio_move_anon_rmap`` to the destination's anon_vma and move the PTE."""
    mm = src_vma.vm_mm
    assert mm is not None
    src_pte, dst_pte = mm.pte[src_addr], mm.pte[dst_addr]
    page = await src_pte.load()
    if page is None:
        return -ENOENT
    state = rmap_state()
    mapping = [state.mapping[page.index]] if state is not None else []

    def move(values: list[Any]) -> list[Any] | None:
        src, dst, anon_vma = values[:3]
        if src is not page or dst is not None:
            return None
        return [None, src, *([anon_vma] if mapping else [])]

    values = await locked_update([src_pte, dst_pte, dst_vma.anon_vma, *mapping],
                                 [src_pte, dst_pte, *mapping], move,
                                 f"move_present_pte {src_addr:#x} -> {dst_addr:#x}")
    if values[0] is not page:
        return -EAGAIN
    return -EEXIST if values[1] is not None else 0


async def validate_move_areas(src_vma: VmAreaStruct, dst_vma: VmAreaStruct) -> int:
    """``validate_move_areas`` (mm/userfaultfd.c): both private and anonymous, same
    VM_WRITE, and the destination registered."""
    src_flags, dst_flags, src_ops, dst_ops = await load_all(
        [src_vma.vm_flags, dst_vma.vm_flags, src_vma.vm_ops, dst_vma.vm_ops],
        "validate_move_areas")
    if (src_flags | dst_flags) & VM_SHARED or src_ops is not None or dst_ops is not None:
        return -EINVAL
    if (src_flags ^ dst_flags) & VM_WRITE or not dst_flags & __VM_UFFD_FLAGS:
        return -EINVAL
    return 0


async def move_pages(mm: MmStruct, dst_start: int, src_start: int, length: int) -> int:
    """``move_pages`` (mm/userfaultfd.c), UFFDIO_MOVE: ``uffd_move_lock``,
    ``validate_move_areas``, move each present PTE, ``uffd_move_unlock``.  Returns the bytes
    moved or ``-errno``."""
    locked = await uffd_move_lock(mm, dst_start, src_start)
    if isinstance(locked, int):
        return locked
    dst_vma, src_vma = locked
    err = await validate_move_areas(src_vma, dst_vma)
    moved = 0
    while not err and moved < length:
        err = await move_present_pte(src_vma, dst_vma, src_start + moved, dst_start + moved)
        if not err:
            moved += PAGE_SIZE
    await uffd_move_unlock(dst_vma, src_vma)
    return moved if moved else err
