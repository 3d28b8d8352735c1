"""Anonymous reverse mapping: ``struct anon_vma`` and its lock (``mm/rmap.c``,
``include/linux/rmap.h``).

An :class:`AnonVma` has the rwsem ``anon_vma->root->rwsem`` (the model has no fork hierarchy,
so every anon_vma is its own root), a reference count, ``num_active_vmas`` and the interval
tree ``rb_root`` of the VMAs linked to it through ``anon_vma_chain`` entries.  Known
simplifications: a VMA links to one anon_vma at most (``anon_vma_fork`` hierarchies and
``find_mergeable_anon_vma`` reuse are not modelled), the tree is a tuple of VMA lives, and a
folio's ``mapping`` is one :class:`~vmacheck.Var` per page.

The anon_vma objects exist only when a scenario sets them up with :func:`rmap_boot`; without it
the functions below keep the older model's behaviour (an opaque ``anon_vma`` token set by
``__anon_vma_prepare``, nothing to clone or unlink) so that scenarios written before them explore
the same states.  :func:`rmap_boot` with ``check=True`` registers the rmap invariant: every
mapped anonymous page is reachable by an rmap walk (``rmap_walk_anon``) of its anon_vma while no
thread holds that anon_vma's lock for writing.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import Allocation, RwSem, Var, current, invariant
from vmacheck.explore.core import Shared
from vmacheck.kernel.include.linux.atomic import locked_update
from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm_types import (
    MmStruct,
    Page,
    VmAreaStruct,
    kernel_state,
)
from vmacheck.kernel.include.linux.mmap_lock import vma_assert_write_locked
from vmacheck.kernel.variants import kfunc

ENOMEM = 12


class AnonVma:
    """``struct anon_vma`` (include/linux/rmap.h): ``rwsem``, ``refcount``,
    ``num_active_vmas`` and ``rb_root`` (the VMAs linked through their anon_vma_chain)."""

    def __init__(self, index: int) -> None:
        self.name = f"anon_vma{index}"
        self.alloc = Allocation(self.name)
        self.rwsem = RwSem(f"{self.name}.rwsem", lock_class="anon_vma->rwsem", alloc=self.alloc)
        self.refcount = Var(f"{self.name}.refcount", 1, alloc=self.alloc)
        self.num_active_vmas = Var(f"{self.name}.num_active_vmas", 0, alloc=self.alloc)
        self.rb_root = Var(f"{self.name}.rb_root", (), alloc=self.alloc)

    def __repr__(self) -> str:
        return self.name


class RmapState:
    """The anon_vma slab (``anon_vma_cachep``) and each page's ``folio->mapping``."""

    def __init__(self, anon_vmas: int) -> None:
        state = kernel_state()
        self.anon_vmas = [AnonVma(i) for i in range(anon_vmas)]
        self.anon_vma_cachep = Var("anon_vma_cachep", tuple(reversed(self.anon_vmas)))
        self.mapping = {p.index: Var(f"page{p.index}.mapping", None, alloc=p.alloc)
                        for p in state.pages}


STATE_KEY = "vmacheck.kernel.rmap"
"""The key of the anon_vma state in ``Execution.model_state``."""


def rmap_state() -> RmapState | None:
    """Model helper: the anon_vma objects of this execution, or None (not set up)."""
    state: RmapState | None = current().model_state.get(STATE_KEY)
    return state


def rmap_boot(anon_vmas: int = 2, check: bool = True, at_end: bool = False) -> RmapState:
    """Model set-up (not a kernel function): create the anon_vma slab for this execution and,
    with ``check``, register the rmap invariant: after every step, naming everything it reads
    (so every ordering of those writes is explored), or with ``at_end`` on the final state
    only.  Call it while the model is built, after the model kernel is booted (after creating
    the first ``MmStruct``)."""
    ex = current()
    if ex.current_tid is not None:
        raise RuntimeError("rmap_boot() is for model set-up only")
    state = RmapState(anon_vmas)
    ex.model_state[STATE_KEY] = state
    name = "rmap: every mapped anonymous page is found through its anon_vma (mm/rmap.c)"
    if check and at_end:
        invariant(name, lambda: check_rmap_reaches_mapped_pages(state), at_end=True)
    elif check:
        kstate = kernel_state()
        reads: list[Shared | int] = []
        for av in state.anon_vmas:
            reads += [av.rb_root, av.rwsem]
        reads += list(state.mapping.values())
        for mm in kstate.mms:
            reads += mm.pte.ids()  # by id: the PTEs are made when first touched
        for slot in kstate.slots:
            reads += [slot.vm_start, slot.vm_end]
        invariant(name, lambda: check_rmap_reaches_mapped_pages(state), reads=reads)
    return state


def check_rmap_reaches_mapped_pages(state: RmapState) -> bool:
    """Model check: the rmap invariant, for every PTE mapping a page whose ``folio->mapping``
    is an anon_vma not write-locked by anyone, some VMA in that anon_vma's tree belongs to the
    PTE's mm and covers the address (what ``rmap_walk_anon`` relies on to find every mapping)."""
    for mm in kernel_state().mms:
        for addr, pte in mm.pte.made_items():  # a PTE never made maps nothing
            page = pte._value
            if page is None:
                continue
            av = state.mapping[page.index]._value
            if not isinstance(av, AnonVma) or av.alloc.freed or av.rwsem.writer is not None:
                continue
            if not any(v.vm_mm is mm and v.slot.vm_start._value <= addr < v.slot.vm_end._value
                       for v in av.rb_root._value):
                return False
    return True


def setup_anon_vma(vma: VmAreaStruct, anon_vma: AnonVma | None = None) -> AnonVma:
    """Model set-up (not a kernel function): link a set-up VMA to ``anon_vma`` (a new one from
    the slab if None), as a fault's ``__anon_vma_prepare`` (or a split's ``anon_vma_clone``)
    would have left it."""
    state: RmapState = current().model_state[STATE_KEY]
    if anon_vma is None:
        free = state.anon_vma_cachep._value
        anon_vma = free[-1]
        state.anon_vma_cachep._value = free[:-1]
    vma.anon_vma._value = anon_vma
    anon_vma.rb_root._value = (*anon_vma.rb_root._value, vma)
    anon_vma.num_active_vmas._value += 1
    return anon_vma


def setup_anon_page(mm: MmStruct, vma: VmAreaStruct, address: int) -> Page:
    """Model set-up (not a kernel function): an anonymous page mapped at ``address`` of
    ``vma`` whose ``folio->mapping`` is the VMA's anon_vma."""
    from vmacheck.kernel.mm.vma import setup_page

    page = setup_page(mm, address)
    current().model_state[STATE_KEY].mapping[page.index]._value = vma.anon_vma._value
    return page


# --------------------------------------------------------------------------- the object


async def anon_vma_alloc() -> AnonVma | None:
    """``anon_vma_alloc`` (mm/rmap.c): an anon_vma with one reference, or NULL."""
    state = rmap_state()
    assert state is not None
    free = await state.anon_vma_cachep.update(lambda t: t[:-1] if t else t)
    return free[-1] if free else None


@kfunc("mainline")
async def put_anon_vma(anon_vma: AnonVma) -> None:
    """``put_anon_vma`` (include/linux/rmap.h): drop a reference; the last one frees it
    (``__put_anon_vma`` → ``anon_vma_free``)."""
    old = await anon_vma.refcount.fetch_add(-1)
    if old == 1:
        await anon_vma.alloc.free()


async def anon_vma_lock_write(anon_vma: AnonVma) -> None:
    """``anon_vma_lock_write`` (include/linux/rmap.h): ``down_write(&anon_vma->root->rwsem)``."""
    await anon_vma.rwsem.down_write()


async def anon_vma_unlock_write(anon_vma: AnonVma) -> None:
    """``anon_vma_unlock_write`` (include/linux/rmap.h): ``up_write``."""
    await anon_vma.rwsem.up_write()


async def anon_vma_lock_read(anon_vma: AnonVma) -> None:
    """``anon_vma_lock_read`` (include/linux/rmap.h): ``down_read`` (rmap walkers)."""
    await anon_vma.rwsem.down_read()


async def anon_vma_unlock_read(anon_vma: AnonVma) -> None:
    """``anon_vma_unlock_read`` (include/linux/rmap.h): ``up_read``."""
    await anon_vma.rwsem.up_read()


# --------------------------------------------------------------------------- VMA side


@kfunc("mainline")
async def __anon_vma_prepare(vma: VmAreaStruct) -> int:
    """``__anon_vma_prepare`` (mm/rmap.c): allocate an anon_vma, then under its lock and
    ``mm->page_table_lock`` install it in ``vma->anon_vma`` and link the VMA into its tree,
    unless a racing thread already did (then the new one is put).  Callers hold the mmap lock
    (read) or, on the fault path, the VMA read lock plus ``mmap_read_trylock``
    (``__vmf_anon_prepare``).  Without :func:`rmap_boot` the model installs an opaque token."""
    if rmap_state() is None:
        await vma.anon_vma.cas(None, ("anon_vma", vma.name))
        return 0
    await might_sleep("__anon_vma_prepare")
    anon_vma = await anon_vma_alloc()
    if anon_vma is None:
        return -ENOMEM
    await anon_vma_lock_write(anon_vma)

    def install(values: list[Any]) -> list[Any] | None:
        current_av, tree, active = values
        if current_av is not None:
            return None
        return [anon_vma, (*tree, vma), active + 1]

    fields = [vma.anon_vma, anon_vma.rb_root, anon_vma.num_active_vmas]
    old = await locked_update(fields, fields, install,
                              f"spin_lock(page_table_lock): {vma.name}->anon_vma = {anon_vma}")
    await anon_vma_unlock_write(anon_vma)
    if old[0] is not None:
        await put_anon_vma(anon_vma)
    return 0


@kfunc("mainline")
async def anon_vma_clone(dst: VmAreaStruct, src: VmAreaStruct) -> int:
    """``anon_vma_clone`` (mm/rmap.c): link ``dst`` to every anon_vma ``src`` is linked to,
    under the anon_vma lock (``lock_anon_vma_root``), and count ``dst`` in
    ``num_active_vmas`` if it has an anon_vma.  Used by split (``__split_vma``), merge
    (``dup_anon_vma``) and ``copy_vma``; the caller holds the mmap write lock."""
    if rmap_state() is None:
        return 0
    anon_vma = await src.anon_vma.load()
    if not isinstance(anon_vma, AnonVma):
        return 0
    await anon_vma_lock_write(anon_vma)
    await anon_vma.rb_root.update(lambda t: t if dst in t else (*t, dst))
    if await dst.anon_vma.load() is anon_vma:
        await anon_vma.num_active_vmas.fetch_add(1)
    await anon_vma_unlock_write(anon_vma)
    return 0


@kfunc("mainline")
async def unlink_anon_vmas(vma: VmAreaStruct) -> None:
    """``unlink_anon_vmas`` (mm/rmap.c): under the anon_vma lock, remove ``vma`` from the
    anon_vma's tree, drop it from ``num_active_vmas`` and clear ``vma->anon_vma``; then put the
    anon_vma if its tree became empty.  Called by ``free_pgtables`` after the range is zapped,
    by ``anon_vma_merge`` when a merge removes a VMA, and by ``move_vma`` (MREMAP_DONTUNMAP)."""
    if rmap_state() is None:
        return
    anon_vma = await vma.anon_vma.load()
    if not isinstance(anon_vma, AnonVma):
        return
    await anon_vma_lock_write(anon_vma)
    tree = await anon_vma.rb_root.update(lambda t: tuple(v for v in t if v is not vma))
    await anon_vma.num_active_vmas.fetch_add(-1)
    await vma.anon_vma.store(None)
    await anon_vma_unlock_write(anon_vma)
    if all(v is vma for v in tree):
        await put_anon_vma(anon_vma)


@kfunc("mainline")
async def dup_anon_vma(dst: VmAreaStruct, src: VmAreaStruct) -> int:
    """``dup_anon_vma`` (mm/vma.c): when a merge makes ``dst`` cover pages of ``src`` and only
    ``src`` has an anon_vma, give ``dst`` the same anon_vma and link it (``anon_vma_clone``).
    ``dst`` must be write-locked (``vma_assert_write_locked``, after d8ab9f7b644a "mm: lock VMA
    in dup_anon_vma() before setting ->anon_vma"): a fault under the VMA lock must not see the
    anon_vma before ``dst`` is in its tree."""
    src_av = await src.anon_vma.load()
    if src_av is not None and await dst.anon_vma.load() is None:
        vma_assert_write_locked(dst)
        await dst.anon_vma.store(src_av)
        err: int = await anon_vma_clone(dst, src)
        return err
    return 0


async def anon_vma_merge(vma: VmAreaStruct, next_vma: VmAreaStruct) -> None:
    """``anon_vma_merge`` (include/linux/rmap.h): the removed VMA's anon_vma is the kept one's;
    ``unlink_anon_vmas(next)``."""
    await unlink_anon_vmas(next_vma)


# --------------------------------------------------------------------------- folio side


async def folio_add_new_anon_rmap(page: Page, vma: VmAreaStruct, address: int) -> None:
    """``folio_add_new_anon_rmap`` (mm/rmap.c): a new anonymous folio's ``mapping`` becomes
    ``vma->anon_vma`` (``__folio_set_anon``), before its PTE is set.  No step without
    :func:`rmap_boot`."""
    state = rmap_state()
    if state is None:
        return
    anon_vma = await vma.anon_vma.load()
    await state.mapping[page.index].store(anon_vma)


async def folio_move_anon_rmap(page: Page, vma: VmAreaStruct) -> None:
    """``folio_move_anon_rmap`` (mm/rmap.c): an exclusive anonymous folio moved to ``vma``
    (UFFDIO_MOVE) now belongs to ``vma->anon_vma``."""
    state = rmap_state()
    if state is None:
        return
    anon_vma = await vma.anon_vma.load()
    await state.mapping[page.index].store(anon_vma)

