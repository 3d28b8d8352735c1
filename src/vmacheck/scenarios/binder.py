"""Binder scenarios: the shrinker, buffer allocation and page installation against address
space changes (munmap, partial munmap, a new mapping at the same address, mprotect, fork,
page faults).

Every scenario starts from a binder process whose ``mmap`` completed (``setup_binder_mapping``)
with the binder invariants of :mod:`vmacheck.kernel.drivers.android.binder_props` registered
and each execution's end labelled with the page states (``pages active:lru:free``) and the
shrinker's per-page observation and decision.  Addresses: the binder mapping starts at
``0x4000``; page N is ``0x4000 + N * 0x1000``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from vmacheck.explore import label
from vmacheck.kernel.drivers.android import binder_install
from vmacheck.kernel.drivers.android.binder import (
    BINDER_VM_FLAGS,
    setup_binder_mapping,
)
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderAlloc,
    BinderFreelist,
    binder_alloc_free_buf,
    binder_alloc_new_buf,
)
from vmacheck.kernel.drivers.android.binder_alloc_release import binder_alloc_deferred_release
from vmacheck.kernel.drivers.android.binder_buffers import PAGE_SIZE, BinderBuffer
from vmacheck.kernel.drivers.android.binder_props import (
    page_state_outcome,
    register_binder_checks,
    register_strict_checks,
)
from vmacheck.kernel.drivers.android.binder_shrinker import binder_shrink_scan
from vmacheck.kernel.mm import (
    VM_READ,
    VM_WRITE,
    MmStruct,
    VmAreaStruct,
    boot,
    do_mprotect_pkey,
    do_user_addr_fault,
    dup_mmap,
    sys_munmap,
    vm_mmap_pgoff,
)
from vmacheck.scenarios.catalogue import Scenario, register, seed_versions

BINDER_START = 0x4000
SHRINKER = ("binder_alloc_free_page",)
INSTALL = ("binder_install_single_page", "vma_start_read_unlocked")
FORK = ("dup_mmap",)

seed_versions("binder_alloc_free_page", ("mainline", "hansen-v1", "hansen-v2", "hansen-v3"))
seed_versions("binder_install_single_page",
              ("write-lock", "llamas-2024", "mainline", "hansen-p4"))

Thread = tuple[str, Coroutine[Any, Any, Any]]


@dataclass
class BinderWorld:
    """What a binder scenario's threads share."""

    mm: MmStruct
    child: MmStruct
    freelist: BinderFreelist
    alloc: BinderAlloc
    vma: VmAreaStruct
    npages: int


def binder_world(npages: int = 1, lru_pages: tuple[int, ...] = (0,), threads: int = 4,
                 mdata_pool: int = 6, strict: bool = False, vmas: int = 6,
                 pages: int = 8) -> BinderWorld:
    """Boot the model kernel and set up one binder process (plus an empty mm for fork);
    ``strict`` adds the opt-in stricter page check."""
    boot(vmas=vmas, generations=2, pages=pages, threads=threads)
    mm = MmStruct("mm")
    child = MmStruct("child")
    freelist = BinderFreelist(mdata_pool)
    alloc, vma, _ = setup_binder_mapping(mm, freelist, BINDER_START, npages,
                                         mdata_for=lru_pages)
    binder_install.reset_ghosts()
    register_binder_checks(alloc)
    if strict:
        register_strict_checks(alloc)
    page_state_outcome(alloc)
    return BinderWorld(mm, child, freelist, alloc, vma, npages)


# --------------------------------------------------------------------------- threads


async def shrinker(w: BinderWorld, nr_to_scan: int = 1) -> int:
    """Memory pressure: ``binder_shrink_scan`` over ``nr_to_scan`` freelist items."""
    return await binder_shrink_scan(w.freelist, nr_to_scan)


async def fork(w: BinderWorld) -> int:
    """The process forks: ``dup_mmap`` write-locks every parent VMA (the binder VMA too)."""
    return int(await dup_mmap(w.child, w.mm))


async def mprotect_binder(w: BinderWorld) -> int:
    """``mprotect(PROT_NONE)`` of the whole binder mapping (write-locks the binder VMA)."""
    return await do_mprotect_pkey(w.mm, BINDER_START, w.npages * PAGE_SIZE,
                                  BINDER_VM_FLAGS & ~VM_READ)


async def munmap_binder(w: BinderWorld) -> int:
    """``munmap`` of the whole binder mapping (close → ``mapped = false``)."""
    return await sys_munmap(w.mm, BINDER_START, w.npages * PAGE_SIZE)


async def munmap_last_page(w: BinderWorld) -> int:
    """``munmap`` of the binder mapping's last page only: the VMA is split, the unmapped piece
    closed (``mapped = false``) while the rest stays mapped with its pages."""
    return await sys_munmap(w.mm, BINDER_START + (w.npages - 1) * PAGE_SIZE, PAGE_SIZE)


async def munmap_and_remap(w: BinderWorld) -> int:
    """``munmap`` of the binder mapping, then an anonymous ``mmap`` at the same address."""
    await sys_munmap(w.mm, BINDER_START, w.npages * PAGE_SIZE)
    return await vm_mmap_pgoff(w.mm, None, BINDER_START, w.npages * PAGE_SIZE,
                               VM_READ | VM_WRITE)


async def user_fault(w: BinderWorld, index: int = 0) -> int:
    """A user thread touches binder page ``index`` (``binder_vm_fault``: SIGBUS if absent)."""
    return await do_user_addr_fault(w.mm, BINDER_START + index * PAGE_SIZE)


async def transaction(w: BinderWorld, size: int, tag: str = "txn", free: bool = False) -> Any:
    """A transaction's buffer: ``binder_alloc_new_buf`` (installing its pages), optionally
    freed again (``binder_alloc_free_buf``).  Labels the outcome ``<tag> ok`` or
    ``<tag> error <errno>``."""
    buf = await binder_alloc_new_buf(w.alloc, size)
    if isinstance(buf, BinderBuffer):
        label(f"{tag} ok")
        if free:
            await binder_alloc_free_buf(w.alloc, buf)
    else:
        label(f"{tag} error {buf}")
    return buf


async def release(w: BinderWorld) -> Any:
    """The binder file's last reference goes: ``binder_alloc_deferred_release``."""
    return await binder_alloc_deferred_release(w.alloc)


def _scenario(name: str, summary: str, functions: tuple[str, ...],
              build: Callable[[], list[Thread]], doc: str) -> None:
    register(Scenario(name, summary, build, functions=functions, doc=doc, group="binder",
                      max_steps=1_500))


# --------------------------------------------------------------------------- shrinker


def _shrink_fork() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("fork", fork(w))]


_scenario("binder-shrink-fork", "binder shrinker on a free mapped page while the process forks",
          SHRINKER + FORK, _shrink_fork,
          "dup_mmap write-locks the binder VMA for the whole fork, so lock_vma_under_rcu in "
          "the shrinker fails transiently although the VMA exists and maps the page.")


def _shrink_mprotect() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("mprotect", mprotect_binder(w))]


_scenario("binder-shrink-mprotect", "binder shrinker while the binder mapping is mprotected",
          SHRINKER, _shrink_mprotect,
          "mprotect_fixup write-locks the binder VMA: a transient lock_vma_under_rcu failure.")


def _shrink_munmap() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("munmap", munmap_binder(w))]


_scenario("binder-shrink-munmap", "binder shrinker while the binder mapping is unmapped",
          SHRINKER, _shrink_munmap,
          "munmap detaches the VMA, downgrades, zaps, then closes it (mapped = false).")


def _shrink_munmap_strict() -> list[Thread]:
    w = binder_world(strict=True)
    return [("shrinker", shrinker(w)), ("munmap", munmap_binder(w))]


_scenario("binder-shrink-munmap-strict",
          "binder-shrink-munmap with the stricter 'no PTE at all maps a freed page' check",
          SHRINKER, _shrink_munmap_strict,
          "The stricter variant of binder-no-page-given-up-while-mapped: in munmap's downgrade "
          "window the binder VMA is out of the tree but its PTE still maps the page; a "
          "shrinker that finds no VMA reclaims without zapping.  The PTE holds its own page "
          "reference and munmap zaps it next, so a finding here is the benign window the "
          "default check tolerates.")


def _shrink_partial_munmap() -> list[Thread]:
    w = binder_world(npages=2, lru_pages=(0,))
    return [("shrinker", shrinker(w)), ("munmap", munmap_last_page(w))]


_scenario("binder-shrink-partial-munmap",
          "binder shrinker on page 0 while page 1 of the mapping is unmapped",
          SHRINKER, _shrink_partial_munmap,
          "A partial munmap splits the binder VMA and closes the unmapped part: mapped "
          "becomes false while the remaining VMA still maps page 0.")


def _shrink_remap() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("munmap+mmap", munmap_and_remap(w))]


_scenario("binder-shrink-remap",
          "binder shrinker while the mapping is unmapped and an anonymous one takes its place",
          (*SHRINKER, "mmap_region"), _shrink_remap,
          "After the munmap, lock_vma_under_rcu at the old address may find the new, unrelated "
          "VMA; binder must recognise it is not its own (mapped is false).")


def _shrink_munmap_fork() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("munmap", munmap_binder(w)), ("fork", fork(w))]


_scenario("binder-shrink-munmap-fork",
          "binder shrinker racing munmap of the binder mapping and a fork of the process",
          SHRINKER + FORK, _shrink_munmap_fork,
          "Three threads: the shrinker's view of (VMA found, mapped) covers every combination "
          "a fork (transient lock failure) and a munmap (VMA gone, close) can produce.  Its "
          "outcome table is the one to compare shrinker versions with.")


def _shrink_fault() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("fault", user_fault(w))]


_scenario("binder-shrink-fault", "binder shrinker while a user thread touches the page",
          SHRINKER, _shrink_fault,
          "The fault holds the VMA read lock briefly (binder_vm_fault answers SIGBUS); both "
          "are readers of the binder VMA and must not disturb each other.")


# --------------------------------------------------------------------------- install


def _alloc_shrink() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("transaction", transaction(w, 64))]


_scenario("binder-alloc-shrink",
          "a transaction allocates a buffer over the page the shrinker is reclaiming",
          SHRINKER + INSTALL, _alloc_shrink,
          "binder_alloc_new_buf takes the page off the freelist under alloc->mutex and "
          "re-installs it if the shrinker took it first; the zap of the old PTE must happen "
          "before any install can see pages[0] == NULL.")


def _install_race() -> list[Thread]:
    w = binder_world(lru_pages=())
    return [("txn-a", transaction(w, 64, "txn-a")), ("txn-b", transaction(w, 64, "txn-b"))]


_scenario("binder-install-race",
          "two transactions whose buffers share one page both install it",
          INSTALL, _install_race,
          "Adjacent buffers share page 0; their installs run without alloc->mutex, so both "
          "may find pages[0] empty: one vm_insert_page gets -EBUSY (binder_install_single_page).")


def _install_munmap() -> list[Thread]:
    w = binder_world(lru_pages=())
    return [("transaction", transaction(w, 64)), ("munmap", munmap_binder(w))]


_scenario("binder-install-munmap", "a transaction installs a page while the mapping goes away",
          INSTALL, _install_munmap,
          "The install must only insert into the binder VMA while it is pinned and mapped "
          "(binder_page_insert).")


def _install_mprotect() -> list[Thread]:
    w = binder_world(lru_pages=())
    return [("transaction", transaction(w, 64)), ("mprotect", mprotect_binder(w))]


_scenario("binder-install-mprotect",
          "a transaction installs a page while the binder mapping is mprotected",
          INSTALL, _install_mprotect,
          "The VMA is write-locked for the mprotect: the per-VMA fast path fails and the slow "
          "path (mmap_read_lock fallback, or the wait helper) must run.")


def _install_fork() -> list[Thread]:
    w = binder_world(lru_pages=())
    return [("transaction", transaction(w, 64)), ("fork", fork(w))]


_scenario("binder-install-fork", "a transaction installs a page while the process forks",
          INSTALL + FORK, _install_fork,
          "fork write-locks the binder VMA: the install's per-VMA fast path fails.")


def _reclaim_readopt() -> list[Thread]:
    w = binder_world()
    return [("shrinker", shrinker(w)), ("fork", fork(w)),
            ("transaction", transaction(w, 64, free=True))]


_scenario("binder-reclaim-readopt",
          "shrinker during fork, then a transaction needs the reclaimed page again",
          SHRINKER + INSTALL + FORK, _reclaim_readopt,
          "If the shrinker gives the page up without zapping it, the next install finds "
          "the old PTE (-EBUSY) and adopts the old page through get_user_pages_remote; "
          "the transaction then frees its buffer, putting the page back on the freelist.")


def _release_shrink() -> list[Thread]:
    w = binder_world()

    async def unmap_then_release() -> Any:
        await munmap_binder(w)
        return await release(w)

    return [("shrinker", shrinker(w)), ("munmap+release", unmap_then_release())]


_scenario("binder-release-shrink",
          "the process unmaps binder and releases it while the shrinker runs",
          SHRINKER, _release_shrink,
          "binder_alloc_deferred_release frees every page under alloc->mutex after taking it "
          "off the freelist; the shrinker must not touch the alloc afterwards.")
