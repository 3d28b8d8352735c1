"""Memory-ordering scenarios: lockless readers that only the weak memory model can break.

Run them with ``--memory-model weak`` (under ``sc`` every load sees the latest store and
they are clean whatever the orderings).

- ``mm-uffd-vma-lock-order`` (b1f02b95758d): ``userfaultfd_register`` sets
  ``VM_UFFD_MISSING`` on a VMA under the mmap write lock while a fault runs
  ``lock_vma_under_rcu``.  With the pre-fix orderings
  (``v6.5:vma_end_write_all@pre-b1f02b95758d`` and ``v6.5:vma_start_read@pre-b1f02b95758d``) the
  reader can see the write section end and still
  read the old flags: it handles the fault under the VMA lock, without userfaultfd.
- ``binder-install-publish``: a transaction installs binder page 0 while another thread finds
  it in ``pages[]`` and follows ``page_private``; ``binder_set_installed_page@no-release``
  lets the page be found before its ``page_private`` is visible.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vmacheck.explore import WARN_ON, label, thread_id
from vmacheck.kernel.drivers.android.binder_alloc import binder_get_installed_page, page_to_lru
from vmacheck.kernel.include.linux.mm_types import boot
from vmacheck.kernel.include.linux.mm_v6_5 import (
    VM_READ,
    VM_UFFD_MISSING,
    VM_WRITE,
    MmStruct2023,
    VmAreaStruct2023,
    lock_vma_under_rcu,
    userfaultfd_register,
    vma_end_read,
)
from vmacheck.scenarios.binder import binder_world, transaction
from vmacheck.scenarios.catalogue import Scenario, historic_versions, register

A = 0x1000

historic_versions("v6.5:vma_end_write_all", ("b1f02b95758d", "pre-b1f02b95758d"))
historic_versions("v6.5:vma_start_read", ("b1f02b95758d", "pre-b1f02b95758d"))

UFFD_ORDER = ("lock_vma_under_rcu used a VMA whose userfaultfd registration it saw end, "
              "with the flags from before it")


def uffd_vma_lock_order() -> Iterable[Any]:
    """``userfaultfd_register`` against a fault's ``lock_vma_under_rcu`` (v6.5 per-VMA lock).

    The writer takes the mmap write lock, write-locks the VMA (stamp ``vm_lock_seq = 0``),
    sets ``VM_UFFD_MISSING`` and drops the lock (``mm_lock_seq`` 0 → 1).  A reader whose
    ``vma_start_read`` saw the stamp 0 and ``mm_lock_seq`` 1 ran after the write section, so
    its ``userfaultfd_armed`` check must see the flag; if it returns the VMA anyway, the fault
    is handled without userfaultfd (the bug b1f02b95758d fixed)."""
    boot(vmas=0, pages=0, threads=2)
    mm = MmStruct2023("mm")
    vma = VmAreaStruct2023(mm, "vma", A, A + 0x1000, VM_READ | VM_WRITE)
    mm.mm_mt._value = vma  # published before the threads start
    mm.mm_lock_seq._value = 0

    async def register_uffd() -> None:
        await userfaultfd_register(mm, A)

    async def fault() -> None:
        got = await lock_vma_under_rcu(mm, A)
        if got is None:
            label("fault: mmap_lock path")
            return
        stamp, seq = got.model_seen[thread_id()]
        label(f"fault: vma lock (saw vm_lock_seq={stamp} mm_lock_seq={seq})")
        WARN_ON(stamp == 0 and seq == 1, UFFD_ORDER)
        await vma_end_read(got)

    return [("userfaultfd_register", register_uffd()), ("fault", fault())]


register(Scenario(
    name="mm-uffd-vma-lock-order",
    summary="userfaultfd_register vs lock_vma_under_rcu: mm_lock_seq ordering (b1f02b95758d)",
    build=uffd_vma_lock_order, doc=uffd_vma_lock_order.__doc__ or "",
    functions=("v6.5:vma_end_write_all", "v6.5:vma_start_read"), max_steps=200))


PAGE_SETUP = "a page found in pages[] has no binder metadata in page_private yet"


def binder_install_publish() -> list[tuple[str, Any]]:
    """A transaction installs binder page 0 (``binder_page_alloc`` points ``page_private`` at
    the page's shrinker metadata, then ``binder_install_single_page`` publishes the page with
    ``binder_set_installed_page``).  Another thread finds the page in ``pages[]``
    (``binder_get_installed_page``, as ``binder_alloc_get_page`` and the LRU helpers do) and
    follows ``page_private`` (``page_to_lru``).  The kernel pairs ``smp_store_release`` in
    ``binder_set_installed_page`` with ``smp_load_acquire`` in ``binder_get_installed_page``
    so that a published page is fully set up."""
    w = binder_world(lru_pages=())

    async def lookup() -> None:
        page = await binder_get_installed_page(w.alloc, 0)
        if page is None:
            label("lookup: page 0 not installed")
            return
        mdata = await page_to_lru(page)
        label(f"lookup: page 0 installed, metadata {'set' if mdata is not None else 'missing'}")
        WARN_ON(mdata is None, PAGE_SETUP)

    return [("transaction", transaction(w, 64)), ("lookup", lookup())]


register(Scenario(
    name="binder-install-publish",
    summary="a page found in pages[] has its page_private (smp_store_release in "
            "binder_set_installed_page)",
    build=binder_install_publish, doc=binder_install_publish.__doc__ or "",
    functions=("binder_set_installed_page",), group="binder", max_steps=1_500))

__all__ = ["PAGE_SETUP", "UFFD_ORDER", "VM_UFFD_MISSING", "binder_install_publish",
           "uffd_vma_lock_order"]
