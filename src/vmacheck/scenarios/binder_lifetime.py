"""Binder scenarios about lifetimes and failures: the owner process exiting while another
process installs a page and the shrinker runs (``do_exit``, ``fput``'s deferral,
``binder_release``), binder's mmap handler failing on an allocation (``--inject ENOMEM``), and
the debug readers (``binder_alloc_print_pages``/``_allocated``) as threads.  Shared set-up is in
:mod:`vmacheck.scenarios.binder`.
"""

from __future__ import annotations

from vmacheck.explore import label
from vmacheck.kernel.drivers.android import binder_install
from vmacheck.kernel.drivers.android.binder import (
    BINDER_VM_FLAGS,
    binder_inc_proc_tmpref,
    binder_open,
    binder_proc_dec_tmpref,
)
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderFreelist,
    binder_alloc_new_buf,
)
from vmacheck.kernel.drivers.android.binder_alloc_release import (
    binder_alloc_print_allocated,
    binder_alloc_print_pages,
)
from vmacheck.kernel.drivers.android.binder_buffers import PAGE_SIZE, BinderBuffer
from vmacheck.kernel.drivers.android.binder_props import (
    page_state_outcome,
    register_binder_checks,
    register_mmap_failure_checks,
)
from vmacheck.kernel.kernel.exit import do_exit
from vmacheck.kernel.mm import MmStruct, boot, vm_mmap_pgoff
from vmacheck.scenarios.binder import (
    BINDER_START,
    SHRINKER,
    Thread,
    _scenario,
    binder_world,
    munmap_binder,
    shrinker,
    transaction,
)
from vmacheck.scenarios.catalogue import Scenario, register

# --------------------------------------------------------------------------- exit


def _owner_exit_install_shrink() -> list[Thread]:
    w = binder_world(npages=1, lru_pages=(0,), threads=8, mdata_pool=2, vmas=1, pages=2)
    filp = w.vma.vm_file.peek()

    async def owner_exit() -> None:
        await do_exit(w.mm, [filp])

    async def sender() -> None:
        if not await binder_inc_proc_tmpref(w.alloc):
            label("txn: target dead")
            return
        await transaction(w, 64)
        await binder_proc_dec_tmpref(w.alloc)

    return [("sender", sender()), ("shrinker", shrinker(w)), ("owner exit", owner_exit())]


_scenario("binder-owner-exit-install-shrink",
          "the binder process exits while a sender installs page 0 and the shrinker reclaims "
          "it",
          (), _owner_exit_install_shrink,
          "Another process sends a transaction (it holds a temporary reference on the target "
          "proc, binder_inc_proc_tmpref) that allocates a buffer and installs page 0 while the "
          "shrinker reclaims it.  do_exit: exit_mm (mmput; the last mm_users reference runs "
          "exit_mmap, which closes the binder VMA and fputs its vm_file), exit_files (fput of "
          "the descriptor), exit_task_work (the last fput's ____fput: binder_release defers "
          "binder_deferred_release to a kworker, which frees every page and mmdrops the mm).  "
          "The install and the shrinker pin the address space with mmget_not_zero and let go "
          "with mmput_async, so exit_mmap may run in a kworker and the last fput from there "
          "goes to delayed_fput.")


# --------------------------------------------------------------------------- ENOMEM


def _mmap_enomem() -> list[Thread]:
    boot(vmas=2, generations=2, pages=2, threads=4)
    mm = MmStruct("mm")
    freelist = BinderFreelist(2)
    alloc, filp = binder_open(mm, freelist, 1)
    binder_install.reset_ghosts()
    register_binder_checks(alloc)
    register_mmap_failure_checks(alloc)
    page_state_outcome(alloc)

    async def do_mmap() -> None:
        ret = await vm_mmap_pgoff(mm, filp, BINDER_START, PAGE_SIZE, BINDER_VM_FLAGS)
        label("mmap ok" if ret == BINDER_START else f"mmap error {ret}")

    async def sender() -> None:
        buf = await binder_alloc_new_buf(alloc, 64)
        label("txn ok" if isinstance(buf, BinderBuffer) else f"txn error {buf}")

    return [("mmap", do_mmap()), ("sender", sender())]


register(Scenario(
    "binder-mmap-enomem",
    "binder's mmap handler fails on an allocation (--inject ENOMEM) while a sender allocates",
    _mmap_enomem, functions=("binder_alloc_mmap_handler",), config={"INJECT_ENOMEM": True},
    group="binder", max_steps=1_500,
    doc="Every allocation is a branch (vm_area_alloc, kvcalloc of pages[], kzalloc of the first "
        "buffer, the sender's alloc_page and mdata).  A failed binder_alloc_mmap_handler must "
        "undo buffer_size and vm_start and free what it allocated (binder-mmap-failure-rolled-"
        "back), mmap_region must fput vm_file and free the VMA (the built-in VMA leak check), "
        "and the sender may only install pages into a mapping that exists."))


# --------------------------------------------------------------------------- debug readers


def _debug_print_shrink_munmap() -> list[Thread]:
    w = binder_world()

    async def print_stats() -> None:
        active, lru, free = await binder_alloc_print_pages(w.alloc)
        allocated = await binder_alloc_print_allocated(w.alloc)
        label(f"print: pages {active}:{lru}:{free}, {allocated} allocated")

    return [("shrinker", shrinker(w)), ("munmap", munmap_binder(w)),
            ("debugfs reader", print_stats())]


_scenario("binder-debug-print-shrink-munmap",
          "the binder debug readers run while the shrinker reclaims and the mapping goes away",
          SHRINKER, _debug_print_shrink_munmap,
          "binder_alloc_print_pages (under alloc->mutex, only while mapped) and "
          "binder_alloc_print_allocated read pages[] and the buffers as a debugfs reader "
          "thread; they must never see a freed page's metadata.")
