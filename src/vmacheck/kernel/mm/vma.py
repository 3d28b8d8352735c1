"""VMA allocation, split and munmap (``mm/vma.c``, ``mm/vma_init.c``).

Known simplifications: allocation-failure and error paths that re-attach VMAs
(``reattach_vmas``, ``vms_abort_munmap_vmas``) are not modelled (the model's allocations only
fail when the slab is exhausted); userfaultfd, accounting, mempolicy and file reference counts
are not modelled.  anon_vma objects (mm/rmap.py) are linked by split (``anon_vma_clone``) and
unlinked after munmap's zap (``unlink_anon_vmas``) when a scenario sets them up.
"""

from __future__ import annotations

from vmacheck.explore import current, report
from vmacheck.kernel.fs.file_table import fput, get_file
from vmacheck.kernel.include.linux.atomic import copy_vars, load_all, store_all
from vmacheck.kernel.include.linux.fault_inject import should_failslab
from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm import find_vma_range, vma_iter_clear, vma_iter_store
from vmacheck.kernel.include.linux.mm_types import (
    ENOMEM,
    PAGE_SHIFT,
    UINT_MAX,
    File,
    MmStruct,
    Page,
    VmAreaStruct,
    VmOperationsStruct,
    kernel_state,
    vma_page_prot,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    mmap_read_unlock,
    mmap_write_downgrade,
    mmap_write_unlock,
    per_vma_lock,
    vma_assert_detached,
    vma_mark_attached,
)
from vmacheck.kernel.mm.memory import tlb_finish_mmu, unmap_page_range
from vmacheck.kernel.mm.mmap_lock import vma_mark_detached, vma_start_write
from vmacheck.kernel.mm.rmap import anon_vma_clone, unlink_anon_vmas
from vmacheck.kernel.rcu import call_rcu
from vmacheck.kernel.variants import config

# --------------------------------------------------------------------------- slab


async def vm_area_alloc(mm: MmStruct) -> VmAreaStruct | None:
    """``vm_area_alloc`` (mm/vma_init.c): take an object from ``vm_area_cachep`` (a freed
    one is reused at once: SLAB_TYPESAFE_BY_RCU) and ``vma_init`` it: ``vm_mm = mm``,
    detached (``vm_refcnt`` stays 0), ``vm_lock_seq = UINT_MAX``."""
    if await should_failslab("vm_area_alloc: kmem_cache_alloc(vm_area_cachep)"):
        return None
    state = kernel_state()
    free = await state.vm_area_cachep.update(lambda t: t[:-1] if t else t)
    if not free:
        return None
    vma: VmAreaStruct = free[-1]
    vma.vm_mm = mm
    vma.slot.current = vma
    state.runtime_vmas.append(vma)
    await store_all([(vma.slot.vm_mm, mm), (vma.slot.vm_lock_seq, UINT_MAX)], "vma_init")
    return vma


async def vm_area_dup(orig: VmAreaStruct) -> VmAreaStruct | None:
    """``vm_area_dup`` (mm/vma_init.c): a detached copy of ``orig`` (``vm_area_init_from``)."""
    assert orig.vm_mm is not None
    new = await vm_area_alloc(orig.vm_mm)
    if new is None:
        return None
    await copy_vars((*orig.payload(), orig.vm_start, orig.vm_end),
                    (*new.payload(), new.vm_start, new.vm_end), "vm_area_init_from")
    return new


VMA_FREE_RCU = "VMA_FREE_RCU"
"""The VMA free regime (a ``--config`` switch).  ``VMA_FREE_RCU=y``: kernels 6.4 - 6.14 with
per-VMA locks, where ``vm_area_free`` defers the free with ``call_rcu`` (so a VMA found under
``rcu_read_lock`` stays valid memory until ``rcu_read_unlock``, and its slab object is reused
only after a grace period).  ``n`` (the default): 6.15 and later, where ``vm_area_cachep`` is
SLAB_TYPESAFE_BY_RCU (commit 3104138517fc) and the VMA is freed at once: its object may be
reused immediately, by this mm or another one, and only the fields ``vma_start_read`` checks
(``vm_refcnt``, ``vm_lock_seq``, ``vm_mm``, bounds) may be read before the reader holds a
reference."""


def vma_free_rcu() -> bool:
    """Model helper: whether the selected kernel frees VMAs through RCU (6.4 - 6.14 with
    per-VMA locks) rather than at once into a SLAB_TYPESAFE_BY_RCU cache (6.15+)."""
    return config(VMA_FREE_RCU) and per_vma_lock()


async def __vm_area_free(vma: VmAreaStruct) -> None:
    """``__vm_area_free`` (mm/vma_init.c; ``kernel/fork.c`` before 6.15): free the object.
    Its payload dies now; the slab object goes back to ``vm_area_cachep`` and may be reused for
    a new VMA (the model's next generation of the slot)."""
    state = kernel_state()
    await vma.alloc.free()
    if vma.slot.current is vma:
        vma.slot.current = None
    lives = vma.slot.lives
    if vma.generation + 1 < len(lives):
        nxt = lives[vma.generation + 1]
        await state.vm_area_cachep.update(lambda t: (*t, nxt))


async def vm_area_free_rcu_cb(vma: VmAreaStruct) -> None:
    """``vm_area_free_rcu_cb`` (kernel/fork.c, 6.4 - 6.14): the RCU callback that frees the
    VMA after a grace period (``__vm_area_free``)."""
    await __vm_area_free(vma)


async def vm_area_free(vma: VmAreaStruct) -> None:
    """``vm_area_free`` (mm/vma_init.c; kernel/fork.c before 6.15): the VMA must be detached
    (``vma_assert_detached``).  6.15+: ``__vm_area_free`` at once (the object may be reused
    at once: SLAB_TYPESAFE_BY_RCU); 6.4 - 6.14 with per-VMA locks (``VMA_FREE_RCU=y``):
    ``call_rcu(&vma->vm_rcu, vm_area_free_rcu_cb)``.  The model also checks that the VMA is
    out of the tree and no PTE is left in its range (``_check_vma_gone``)."""
    vma_assert_detached(vma)
    _check_vma_gone(vma)
    if vma_free_rcu():
        await call_rcu(vm_area_free_rcu_cb, vma)
        return
    await __vm_area_free(vma)


def _check_vma_gone(vma: VmAreaStruct) -> None:
    """Model check: a VMA is freed (``vm_area_free``, mm/vma_init.c) only when out of the tree and
    zapped."""
    mm = vma.vm_mm
    if mm is None or current().current_tid is None:
        return
    if any(v is vma for _, _, v in mm.mm_mt._value):
        report("invariant", f"vm_area_free({vma.name}) while it is still in {mm.name}'s tree")
    start, end = vma.slot.vm_start._value, vma.slot.vm_end._value
    tree = mm.mm_mt._value  # a merge frees a VMA whose pages the kept VMA now maps
    mapped = [a for a, pte in mm.pte.made_items() if start <= a < end and pte._value
              and not any(s <= a < e and v is not vma for s, e, v in tree)]
    if mapped:
        report("invariant", f"vm_area_free({vma.name}) with PTEs still mapped at "
                            f"{', '.join(hex(a) for a in mapped)}")


async def vma_set_range(vma: VmAreaStruct, start: int, end: int, pgoff: int) -> None:
    """``vma_set_range`` (mm/vma.h): ``vm_start``, ``vm_end``, ``vm_pgoff``."""
    await store_all([(vma.slot.vm_start, start), (vma.slot.vm_end, end), (vma.vm_pgoff, pgoff)],
                    f"vma_set_range {vma.name} [{start:#x}, {end:#x})")


def setup_vma(mm: MmStruct, start: int, end: int, vm_flags: int,
              vm_ops: VmOperationsStruct | None = None, vm_file: File | None = None,
              vm_private_data: object = None, anon_vma: bool = False) -> VmAreaStruct:
    """Model set-up (not a kernel function): an attached VMA present before the threads
    start, as ``mmap`` would have left it."""
    if current().current_tid is not None:
        raise RuntimeError("setup_vma() is for model set-up only")
    state = kernel_state()
    free = state.vm_area_cachep._value
    vma: VmAreaStruct = free[-1]
    state.vm_area_cachep._value = free[:-1]
    vma.vm_mm = mm
    slot = vma.slot
    slot.current = vma
    slot.vm_mm._value = mm
    slot.vm_start._value = start
    slot.vm_end._value = end
    slot.vm_refcnt._value = 1
    vma.vm_flags._value = vm_flags
    vma.vm_page_prot._value = vma_page_prot(vm_flags, vm_ops)
    vma.vm_pgoff._value = start >> PAGE_SHIFT
    vma.vm_ops._value = vm_ops
    vma.vm_file._value = vm_file
    vma.vm_private_data._value = vm_private_data
    vma.anon_vma._value = ("anon_vma", vma.name) if anon_vma else None
    tree = (*mm.mm_mt._value, (start, end, vma))
    mm.mm_mt._value = tuple(sorted(tree, key=lambda x: x[0]))
    return vma


def setup_page(mm: MmStruct, address: int) -> Page:
    """Model set-up (not a kernel function): a page already mapped at ``address``; the PTE
    owns the page's reference."""
    state = kernel_state()
    free = state.free_pages._value
    page: Page = free[-1]
    state.free_pages._value = free[:-1]
    mm.pte[address]._value = page
    return page


# --------------------------------------------------------------------------- split


async def __split_vma(mm: MmStruct, vma: VmAreaStruct, addr: int,
                      new_below: bool) -> int:
    """``__split_vma`` (mm/vma.c): split ``vma`` at ``addr``; the new VMA takes the lower
    part if ``new_below``.  Both are write-locked before either range changes; the new one
    is attached and stored by ``vma_complete``."""
    start, end, pgoff = await load_all([vma.vm_start, vma.vm_end, vma.vm_pgoff], "__split_vma")
    new = await vm_area_dup(vma)
    if new is None:
        return -ENOMEM
    vm_file = new.vm_file._value  # copied from vma, constant: no scheduling point
    if vm_file is not None:
        await get_file(vm_file)
    delta = (addr - start) >> PAGE_SHIFT
    if new_below:
        await vma_set_range(new, start, addr, pgoff)
    else:
        await vma_set_range(new, addr, end, pgoff + delta)
    vm_ops: VmOperationsStruct | None = await new.vm_ops.load()
    if vm_ops is not None and vm_ops.open is not None:
        await vm_ops.open(new)
    await vma_start_write(vma)
    await vma_start_write(new)
    await anon_vma_clone(new, vma)
    if new_below:
        await vma_set_range(vma, addr, end, pgoff + delta)
    else:
        await vma_set_range(vma, start, addr, pgoff)
    # vma_complete -> vma_iter_store_new: attach, then store (the old range is overwritten)
    await vma_mark_attached(new)
    nstart, nend = (start, addr) if new_below else (addr, end)
    await vma_iter_store(mm, nstart, nend, new)
    return 0


# --------------------------------------------------------------------------- munmap


VMA_DUMMY_VM_OPS = VmOperationsStruct("vma_dummy_vm_ops")
"""``vma_dummy_vm_ops`` (declared in include/linux/mm.h): the ops of a closed VMA."""


async def vma_close(vma: VmAreaStruct) -> None:
    """``vma_close`` (mm/internal.h): call ``vm_ops->close`` if there is one, then install
    ``vma_dummy_vm_ops`` so that close never runs twice (MAP_FIXED closes the old VMAs in
    ``vms_clean_up_area`` and frees them later with ``remove_vma``)."""
    vm_ops: VmOperationsStruct | None = await vma.vm_ops.load()
    if vm_ops is not None and vm_ops.close is not None:
        await vm_ops.close(vma)
        await vma.vm_ops.store(VMA_DUMMY_VM_OPS)


async def remove_vma(vma: VmAreaStruct) -> None:
    """``remove_vma`` (mm/vma.c): ``might_sleep``, ``vma_close``, ``fput(vma->vm_file)``,
    ``vm_area_free``.  (``vm_file`` is set before the VMA is published and never changes: the
    model reads it without a scheduling point.)"""
    await might_sleep("remove_vma")
    await vma_close(vma)
    vm_file = vma.vm_file._value  # constant since the VMA was set up: no scheduling point
    if vm_file is not None:
        await fput(vm_file)
    await vm_area_free(vma)


async def vms_gather_munmap_vmas(mm: MmStruct, vma: VmAreaStruct, start: int,
                                 end: int) -> list[VmAreaStruct] | int:
    """``vms_gather_munmap_vmas`` (mm/vma.c): split at the edges, then write-lock and detach
    every VMA in ``[start, end)``; they stay in the mm tree until the caller clears it."""
    vm_start = await vma.vm_start.load()
    if start > vm_start:
        err = await __split_vma(mm, vma, start, True)
        if err:
            return err
    detached: list[VmAreaStruct] = []
    addr = start
    while addr < end:
        entry = await find_vma_range(mm, addr)
        if entry is None or entry[0] >= end:
            break
        _, nend, nxt = entry
        if nend > end:
            err = await __split_vma(mm, nxt, end, False)
            if err:
                return err
            nend = end
        await vma_start_write(nxt)
        detached.append(nxt)
        await vma_mark_detached(nxt)
        addr = nend
    return detached


async def vms_clear_ptes(mm: MmStruct, vmas: list[VmAreaStruct]) -> None:
    """``vms_clear_ptes`` (mm/vma.c): ``unmap_vmas`` over the removed VMAs, then
    ``tlb_finish_mmu`` drops the page references and ``free_pgtables`` unlinks each VMA from
    its anon_vma (``unlink_anon_vmas``; no step unless anon_vmas are set up, mm/rmap.py)."""
    pages: list[Page] = []
    for vma in vmas:
        start, end = await load_all([vma.vm_start, vma.vm_end], "unmap_vmas")
        pages += await unmap_page_range(mm, start, end)
    await tlb_finish_mmu(pages)
    for vma in vmas:  # free_pgtables
        await unlink_anon_vmas(vma)


async def vms_complete_munmap_vmas(mm: MmStruct, vmas: list[VmAreaStruct],
                                   unlock: bool) -> None:
    """``vms_complete_munmap_vmas`` (mm/vma.c): downgrade (if ``unlock``), zap the range,
    ``remove_vma`` each VMA (``vm_ops->close`` after the zap), then ``mmap_read_unlock``."""
    if unlock:
        await mmap_write_downgrade(mm)
    await vms_clear_ptes(mm, vmas)
    for vma in vmas:
        await remove_vma(vma)
    if unlock:
        await mmap_read_unlock(mm)


async def do_vmi_align_munmap(mm: MmStruct, vma: VmAreaStruct, start: int, end: int,
                              unlock: bool) -> int:
    """``do_vmi_align_munmap`` (mm/vma.c): gather, clear the range from the mm tree (point
    of no return), complete."""
    detached = await vms_gather_munmap_vmas(mm, vma, start, end)
    if isinstance(detached, int):
        if unlock:
            await mmap_write_unlock(mm)
        return detached
    await vma_iter_clear(mm, start, end)
    await vms_complete_munmap_vmas(mm, detached, unlock)
    return 0


async def do_vmi_munmap(mm: MmStruct, start: int, length: int, unlock: bool) -> int:
    """``do_vmi_munmap`` (mm/vma.c): find the first VMA below ``start + len``; none → done
    (drop the lock if ``unlock``)."""
    end = start + length
    entry = await find_vma_range(mm, start)
    if entry is None or entry[0] >= end:
        if unlock:
            await mmap_write_unlock(mm)
        return 0
    return await do_vmi_align_munmap(mm, entry[2], start, end, unlock)
