"""The memory-management model: mm_struct, VMAs, mmap_lock, per-VMA locks, RCU, pages.

One Python coroutine per kernel function, with the kernel's name and branch structure (see each
docstring for the kernel file and function).  Build a model by creating objects while the model
is set up, then run kernel functions from threads::

    mm = MmStruct("mm")                       # boots the model kernel (slab, pages, RCU)
    vma = setup_vma(mm, 0x1000, 0x3000, VM_READ | VM_WRITE)
    async def fault(): await do_user_addr_fault(mm, 0x1000)

Public API (all ``async`` unless marked *plain*):

* types (:mod:`vmacheck.kernel.include.linux.mm_types`): ``MmStruct(name, task_size)``,
  ``VmAreaStruct`` (``vm_refcnt``, ``vm_lock_seq``, ``vm_start``, ``vm_end``, ``vm_flags``,
  ``vm_page_prot``, ``vm_pgoff``, ``anon_vma``, ``vm_ops``, ``vm_file``, ``vm_private_data``
  are Vars; ``vm_mm`` is the owner), ``VmOperationsStruct(name, open, close, fault,
  page_mkwrite)``, ``FileOperations(name, mmap)``, ``File(f_op, private_data)``, ``Page``,
  ``boot(vmas, generations, pages, threads)`` *plain*, ``VM_*``, ``PAGE_SIZE``, errnos.
* set-up helpers *plain*: ``setup_vma(mm, start, end, vm_flags, vm_ops=, vm_file=,
  vm_private_data=, anon_vma=)``, ``setup_page(mm, address)``.
* mmap_lock: ``mmap_read_lock(mm)``, ``mmap_read_lock_killable(mm) -> int``,
  ``mmap_read_trylock(mm) -> bool``, ``mmap_read_unlock(mm)``, ``mmap_write_lock(mm)``,
  ``mmap_write_lock_killable(mm) -> int``, ``mmap_write_unlock(mm)``,
  ``mmap_write_downgrade(mm)``, ``mmap_lock_is_contended(mm) -> bool``,
  ``mmap_assert_locked(mm)``/``mmap_assert_write_locked(mm)`` *plain*.
* mm references: ``mmget(mm)``, ``mmget_not_zero(mm) -> bool``, ``mmput(mm)``,
  ``mmput_async(mm)``, ``mmgrab(mm)``, ``mmdrop(mm)``.
* VMA tree: ``vma_lookup(mm, addr)``, ``find_vma(mm, addr)``, ``find_vma_range(mm, addr)``.
* RCU (:mod:`vmacheck.kernel.rcu`): ``rcu_read_lock()``, ``rcu_read_unlock()``,
  ``synchronize_rcu()``, ``call_rcu(func, *args)``.
* per-VMA locks: ``lock_vma_under_rcu(mm, addr) -> vma | None`` (kfunc),
  ``vma_start_read(mm, vma)``, ``vma_start_read_locked(vma) -> bool``,
  ``vma_start_read_locked_nested(vma, subclass) -> bool``, ``vma_end_read(vma)``,
  ``vma_start_write(vma)`` (kfunc), ``vma_start_write_killable(vma) -> int``,
  ``vma_mark_attached(vma)``, ``vma_mark_detached(vma)``, ``vma_assert_write_locked``,
  ``vma_assert_locked``, ``vma_assert_stabilised``, ``vma_assert_attached``,
  ``vma_assert_detached`` *plain*; ``lock_vma_under_rcu_wait(mm, addr)``,
  ``vma_start_read_unlocked(mm, addr)`` (kfunc: ``fixed``, ``posted``); ``per_vma_lock()``
  *plain* (configuration ``SERIES_APPLIED`` / ``PER_VMA_LOCK``).
* pages: ``alloc_page() -> Page | None``, ``get_page(page)``, ``put_page(page)``,
  ``__free_page(page)``, ``vm_insert_page(vma, addr, page) -> int``,
  ``zap_vma_range(vma, address, size)``, ``get_user_pages_remote(mm, start, nr_pages,
  gup_flags) -> (int, pages)`` (``FOLL_NOFAULT``).
* address-space operations: ``mmap_region(mm, file, addr, length, vm_flags, pgoff)``
  (kfunc; caller holds the write lock), ``vm_mmap_pgoff(mm, file, addr, length, vm_flags)``,
  ``sys_munmap(mm, addr, length)``, ``vm_munmap(mm, start, length)``,
  ``do_vmi_munmap(mm, start, length, unlock)``, ``do_mprotect_pkey(mm, start, length,
  newflags)``, ``mprotect_fixup(mm, vma, start, end, newflags)``, ``dup_mmap(mm, oldmm)``
  (kfunc), ``exit_mmap(mm)``, ``expand_downwards(vma, address)`` (kfunc),
  ``vm_flags_set(vma, flags)``, ``vma_set_page_prot(vma)``.
* ``might_sleep(where)`` (:mod:`vmacheck.kernel.include.linux.kernel`): called by the
  functions that may sleep (``alloc_page``, ``vm_insert_page``, ``zap_vma_range``,
  ``get_user_pages_remote``, ``mmput``, ``remove_vma``) so that calling them in atomic context
  is reported even when they do not block.
* faults: ``do_user_addr_fault(mm, address, write=False, user_mode=True, has_fixup=True,
  user_gate=False) -> VM_FAULT_*``, ``lock_mm_and_find_vma(mm, addr)``,
  ``handle_mm_fault(vma, address, flags)``.

Built-in checks (:mod:`vmacheck.kernel.checks`) are registered when the model
kernel boots: reader/writer exclusion, VMA fields stable under a read lock, read-locked VMAs
fully set up, ``vm_refcnt`` covering readers, ``mm_lock_seq`` parity, no fault during fork's
copy; VMA read locks are held resources (leaks, bad unlocks); freed VMAs and pages are
allocations (use-after-free); sleeping under RCU is sleep-in-atomic; VMA writers waiting for
readers and the rwsem queue feed the wait-for graph (deadlock).
"""

from vmacheck.kernel.include.linux.kernel import might_sleep
from vmacheck.kernel.include.linux.mm import (
    __free_page,
    alloc_page,
    find_vma,
    find_vma_range,
    get_page,
    put_page,
    vma_lookup,
)
from vmacheck.kernel.include.linux.mm_types import (
    EAGAIN,
    EBUSY,
    EFAULT,
    EINTR,
    EINVAL,
    ENOMEM,
    PAGE_SHIFT,
    PAGE_SIZE,
    VM_DONTCOPY,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_MAYREAD,
    VM_MAYWRITE,
    VM_MIXEDMAP,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    File,
    FileOperations,
    MmStruct,
    Page,
    VmAreaStruct,
    VmOperationsStruct,
    boot,
    kernel_state,
)
from vmacheck.kernel.include.linux.mmap_lock import (
    KernelConfigError,
    mmap_assert_locked,
    mmap_assert_write_locked,
    mmap_lock_is_contended,
    mmap_read_lock,
    mmap_read_lock_killable,
    mmap_read_trylock,
    mmap_read_unlock,
    mmap_write_downgrade,
    mmap_write_lock,
    mmap_write_lock_killable,
    mmap_write_unlock,
    per_vma_lock,
    vma_assert_attached,
    vma_assert_detached,
    vma_assert_locked,
    vma_assert_stabilised,
    vma_assert_write_locked,
    vma_end_read,
    vma_mark_attached,
    vma_start_read_locked,
    vma_start_read_locked_nested,
)
from vmacheck.kernel.include.linux.sched_mm import mmdrop, mmget, mmget_not_zero, mmgrab
from vmacheck.kernel.mm.fault import do_user_addr_fault, lock_mm_and_find_vma
from vmacheck.kernel.mm.fork import dup_mmap, mmput, mmput_async
from vmacheck.kernel.mm.gup import FOLL_NOFAULT, FOLL_WRITE, get_user_pages_remote
from vmacheck.kernel.mm.memory import (
    VM_FAULT_COMPLETED,
    VM_FAULT_RETRY,
    VM_FAULT_SIGBUS,
    VM_FAULT_SIGSEGV,
    handle_mm_fault,
    vm_insert_page,
    zap_vma_range,
)
from vmacheck.kernel.mm.mmap import (
    exit_mmap,
    expand_downwards,
    mmap_region,
    sys_munmap,
    vm_flags_set,
    vm_mmap_pgoff,
    vm_munmap,
    vma_set_page_prot,
)
from vmacheck.kernel.mm.mmap_lock import (
    lock_vma_under_rcu,
    lock_vma_under_rcu_wait,
    vma_mark_detached,
    vma_start_read,
    vma_start_read_unlocked,
    vma_start_write,
    vma_start_write_killable,
)
from vmacheck.kernel.mm.mprotect import do_mprotect_pkey, mprotect_fixup
from vmacheck.kernel.mm.vma import do_vmi_munmap, setup_page, setup_vma
from vmacheck.kernel.rcu import call_rcu, rcu_read_lock, rcu_read_unlock, synchronize_rcu

mm_struct = MmStruct
vm_area_struct = VmAreaStruct

__all__ = [
    "EAGAIN", "EBUSY", "EFAULT", "EINTR", "EINVAL", "ENOMEM", "FOLL_NOFAULT", "FOLL_WRITE",
    "PAGE_SHIFT", "PAGE_SIZE", "VM_DONTCOPY", "VM_EXEC", "VM_FAULT_COMPLETED", "VM_FAULT_RETRY",
    "VM_FAULT_SIGBUS", "VM_FAULT_SIGSEGV", "VM_GROWSDOWN", "VM_MAYREAD", "VM_MAYWRITE",
    "VM_MIXEDMAP", "VM_READ", "VM_SHARED", "VM_WRITE", "File", "FileOperations",
    "KernelConfigError", "MmStruct", "Page", "VmAreaStruct", "VmOperationsStruct",
    "__free_page", "alloc_page", "boot", "call_rcu", "do_mprotect_pkey", "do_user_addr_fault",
    "do_vmi_munmap", "dup_mmap", "exit_mmap", "expand_downwards", "find_vma", "find_vma_range",
    "get_page", "get_user_pages_remote", "handle_mm_fault", "kernel_state",
    "lock_mm_and_find_vma", "lock_vma_under_rcu", "lock_vma_under_rcu_wait", "might_sleep",
    "mm_struct",
    "mmap_assert_locked", "mmap_assert_write_locked", "mmap_lock_is_contended",
    "mmap_read_lock", "mmap_read_lock_killable", "mmap_read_trylock", "mmap_read_unlock",
    "mmap_region", "mmap_write_downgrade", "mmap_write_lock", "mmap_write_lock_killable",
    "mmap_write_unlock", "mmdrop", "mmget", "mmget_not_zero", "mmgrab", "mmput", "mmput_async",
    "mprotect_fixup", "per_vma_lock", "put_page", "rcu_read_lock", "rcu_read_unlock",
    "setup_page", "setup_vma", "synchronize_rcu", "sys_munmap", "vm_area_struct",
    "vm_flags_set", "vm_insert_page", "vm_mmap_pgoff", "vm_munmap", "vma_assert_attached",
    "vma_assert_detached", "vma_assert_locked", "vma_assert_stabilised",
    "vma_assert_write_locked", "vma_end_read", "vma_lookup", "vma_mark_attached",
    "vma_mark_detached", "vma_set_page_prot", "vma_start_read", "vma_start_read_locked",
    "vma_start_read_locked_nested", "vma_start_read_unlocked", "vma_start_write",
    "vma_start_write_killable", "zap_vma_range",
]
