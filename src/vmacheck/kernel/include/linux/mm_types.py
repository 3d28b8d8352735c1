"""``struct mm_struct``, ``struct vm_area_struct``, ``struct page`` and the model's memory.

Models ``include/linux/mm_types.h`` (the structures), the ``vm_area_struct`` slab of
``mm/vma_init.c`` (``vm_area_cachep``, SLAB_TYPESAFE_BY_RCU since 6.15, commit 3104138517fc)
and the page allocator's pool.  Every object the model can ever use gets its identity when the
model is built (:func:`boot`), so that identities do not depend on the schedule; the shared
fields of slab slots, VMA lives and pages are made when first used, with ids reserved then
(:class:`~vmacheck.explore.lazy.lazy_field`), since most of them are never used:

* a VMA slab *slot* owns the fields RCU readers may read through a stale pointer
  (``vm_refcnt``, ``vm_lock_seq``, ``vm_mm``, ``vm_start``, ``vm_end``: what ``lock_vma_under_rcu``
  reads before it holds a reference); every life of the slot (a *generation*) is its own
  :class:`VmAreaStruct` whose payload (``vm_flags``, ``vm_page_prot``, ``vm_pgoff``, ``anon_vma``,
  ``vm_ops``, ``vm_file``, ``vm_private_data``) belongs to an :class:`~vmacheck.Allocation` that
  ``vm_area_free`` frees: touching the payload through a pointer kept past the free is a
  ``use-after-free`` finding, while reusing the slot for a new VMA (generation + 1) is what
  SLAB_TYPESAFE_BY_RCU allows.
* pages come from a pool; a page's memory is freed when its last reference is put.

Addresses are byte addresses; ``PAGE_SIZE`` is 4096.  Page tables are one
:class:`~vmacheck.Var` per (mm, page address) holding the mapped :class:`Page` or None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vmacheck.explore import Allocation, RwSem, Var, at_close, current
from vmacheck.explore.lazy import lazy_field, make_fields

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
UINT_MAX = (1 << 32) - 1

# vm_flags (include/linux/mm.h)
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_GROWSDOWN = 0x100
VM_PFNMAP = 0x400
VM_DONTCOPY = 0x20000
VM_DONTEXPAND = 0x40000
VM_MIXEDMAP = 0x10000000
VM_SOFTDIRTY = 0x8000000

# vm_refcnt encoding (include/linux/mmap_lock.h, 7.0 names)
VM_REFCNT_EXCLUDE_READERS_FLAG = 1 << 30
VM_REFCNT_LIMIT = VM_REFCNT_EXCLUDE_READERS_FLAG - 1

EAGAIN = 11
ENOMEM = 12
EFAULT = 14
EBUSY = 16
EINVAL = 22
EINTR = 4


# PTE protection bits of the model (arch pgprot_t)
PTE_READ = 0x1
PTE_WRITE = 0x2
PTE_EXEC = 0x4


def vm_get_page_prot(vm_flags: int) -> int:
    """``vm_get_page_prot`` (mm/mmap.c, ``protection_map``): the PTE bits for ``vm_flags``;
    a private writable mapping is mapped read-only (copy-on-write)."""
    prot = 0
    if vm_flags & VM_READ:
        prot |= PTE_READ
    if vm_flags & VM_WRITE and vm_flags & VM_SHARED:
        prot |= PTE_WRITE
    if vm_flags & VM_EXEC:
        prot |= PTE_EXEC
    return prot


def vma_wants_writenotify(vm_flags: int, vm_ops: VmOperationsStruct | None) -> bool:
    """``vma_wants_writenotify`` (mm/mmap.c): a shared writable mapping whose driver wants
    ``page_mkwrite`` must start write-protected."""
    shared_write = vm_flags & (VM_WRITE | VM_SHARED) == VM_WRITE | VM_SHARED
    return bool(shared_write and vm_ops is not None and vm_ops.page_mkwrite is not None)


def vma_page_prot(vm_flags: int, vm_ops: VmOperationsStruct | None) -> int:
    """Model helper: what ``vma_set_page_prot`` (mm/mmap.c) stores in ``vm_page_prot``."""
    if vma_wants_writenotify(vm_flags, vm_ops):
        vm_flags &= ~VM_SHARED
    return vm_get_page_prot(vm_flags)


VmaHook = Callable[["VmAreaStruct"], Awaitable[None]]


@dataclass(frozen=True)
class VmOperationsStruct:
    """``struct vm_operations_struct`` (include/linux/mm.h): the hooks a driver installs.

    ``fault`` gets ``(vma, address, flags)`` and returns a ``VM_FAULT_*`` code.
    """

    name: str
    open: VmaHook | None = None
    close: VmaHook | None = None
    fault: Callable[[VmAreaStruct, int, int], Awaitable[int]] | None = None
    page_mkwrite: Callable[[VmAreaStruct, int], Awaitable[int]] | None = None

    def __repr__(self) -> str:
        """As the kernel's source names the table (``vma->vm_ops = &shmem_vm_ops``): a trace
        step that stores it shows this, the same in every run (not the hooks' addresses)."""
        return f"&{self.name}"


@dataclass(frozen=True)
class FileOperations:
    """``struct file_operations`` (include/linux/fs.h): ``mmap`` and ``release``.

    ``mmap(file, vma)`` is the driver hook ``mmap_region`` calls before the VMA is inserted
    (e.g. ``binder_mmap``); it returns 0 or ``-errno``.  ``release(file)`` runs from ``__fput``
    when the last reference to the file is gone (e.g. ``binder_release``).
    """

    name: str
    mmap: Callable[[File, VmAreaStruct], Awaitable[int]] | None = None
    release: Callable[[File], Awaitable[int]] | None = None


class File:
    """``struct file``: its operations, the driver's ``private_data`` and ``f_count`` (the
    references: the descriptor table's, each VMA's ``vm_file``).  ``f_count`` starts at
    ``refs``; the memory dies in ``__fput`` (``file_free``)."""

    def __init__(self, f_op: FileOperations, private_data: Any = None, refs: int = 1) -> None:
        self.f_op = f_op
        self.private_data = private_data
        self.memory = Allocation(f"file {f_op.name}")
        self.f_count = Var(f"file {f_op.name}.f_count", refs, alloc=self.memory)

    def __repr__(self) -> str:
        return f"file {self.f_op.name}"


class Page:
    """``struct page``: ``_refcount`` and ``private``; freed when the last reference goes.
    Its shared fields are made when first used (``lazy_field``: most pages of the pool are
    never allocated in an execution)."""

    alloc = lazy_field(0, lambda p, oid: Allocation(p.name, oid=oid))
    _refcount = lazy_field(1, lambda p, oid: Var(f"{p.name}._refcount", 1, alloc=p.alloc,
                                                 oid=oid))
    private = lazy_field(2, lambda p, oid: Var(f"{p.name}.private", None, alloc=p.alloc,
                                               oid=oid))

    def __init__(self, index: int) -> None:
        self.index = index
        self.name = f"page{index}"
        self._oid_base = current().reserve(3)
        make_fields(self)

    def __repr__(self) -> str:
        return f"page{self.index}"


class VmaSlot:
    """One object of the ``vm_area_cachep`` slab: the fields that stay readable under RCU
    after a free (the slab is SLAB_TYPESAFE_BY_RCU), shared by all its generations.  Its
    shared fields, and those of its lives, are made when first used (``lazy_field``: most
    slots are never allocated in an execution)."""

    vm_refcnt = lazy_field(0, lambda s, oid: Var(f"{s.name}.vm_refcnt", 0, oid=oid))
    vm_lock_seq = lazy_field(1, lambda s, oid: Var(f"{s.name}.vm_lock_seq", UINT_MAX, oid=oid))
    vm_mm = lazy_field(2, lambda s, oid: Var(f"{s.name}.vm_mm", None, oid=oid))
    vm_start = lazy_field(3, lambda s, oid: Var(f"{s.name}.vm_start", 0, oid=oid))
    vm_end = lazy_field(4, lambda s, oid: Var(f"{s.name}.vm_end", 0, oid=oid))
    model_dup_mmap = lazy_field(5, lambda s, oid: Var(f"{s.name}.model:dup_mmap copying",
                                                      False, oid=oid))

    def __init__(self, index: int, generations: int) -> None:
        self.index = index
        self.name = f"vma{index}"
        self._oid_base = current().reserve(6)
        make_fields(self)
        self.lives = [VmAreaStruct(self, g) for g in range(generations)]
        self.current: VmAreaStruct | None = None
        """The life the slot's memory holds now: what any pointer to the slot points to."""


class VmAreaStruct:
    """``struct vm_area_struct``: one generation (life) of a slab slot.

    ``vm_mm`` is the owner this life was allocated for (set by ``vm_area_alloc`` before the VMA
    is published, constant afterwards); lockless readers must use ``slot.vm_mm`` instead.
    """

    alloc = lazy_field(0, lambda v, oid: Allocation(v.name, oid=oid))
    vm_flags = lazy_field(1, lambda v, oid: _payload(v, oid, "vm_flags", 0))
    vm_page_prot = lazy_field(2, lambda v, oid: _payload(v, oid, "vm_page_prot", None))
    vm_pgoff = lazy_field(3, lambda v, oid: _payload(v, oid, "vm_pgoff", 0))
    anon_vma = lazy_field(4, lambda v, oid: _payload(v, oid, "anon_vma", None))
    vm_ops = lazy_field(5, lambda v, oid: _payload(v, oid, "vm_ops", None))
    vm_file = lazy_field(6, lambda v, oid: _payload(v, oid, "vm_file", None))
    vm_private_data = lazy_field(7, lambda v, oid: _payload(v, oid, "vm_private_data", None))

    def __init__(self, slot: VmaSlot, generation: int) -> None:
        self.slot = slot
        self.generation = generation
        self.name = f"vma{slot.index}" + (f"'{generation}" if generation else "")
        self._oid_base = current().reserve(8)
        make_fields(self)
        self.vm_mm: MmStruct | None = None

    # the RCU-readable fields live in the slot
    @property
    def vm_refcnt(self) -> Var:
        return self.slot.vm_refcnt

    @property
    def vm_lock_seq(self) -> Var:
        return self.slot.vm_lock_seq

    @property
    def vm_start(self) -> Var:
        return self.slot.vm_start

    @property
    def vm_end(self) -> Var:
        return self.slot.vm_end

    def lock_view(self) -> tuple[Var, ...]:
        """What a VMA lock stabilises: the stamp, bounds and payload (and the model's fork
        marker).  Read-lock acquisition and release read these in their step so that the
        explorer orders them against the writers of these fields: the built-in invariants
        about read locks depend on that order (a state-based invariant over independent steps
        is not preserved by partial-order reduction)."""
        s = self.slot
        return (s.vm_lock_seq, s.vm_start, s.vm_end, s.model_dup_mmap, self.vm_flags,
                self.vm_pgoff, self.vm_page_prot, self.vm_ops)

    def payload(self) -> tuple[Var, ...]:
        """The fields ``vm_area_dup`` copies (``vm_area_init_from``)."""
        return (self.vm_flags, self.vm_page_prot, self.vm_pgoff, self.anon_vma, self.vm_ops,
                self.vm_file, self.vm_private_data)

    def __repr__(self) -> str:
        return self.name


def _payload(vma: VmAreaStruct, oid: int, field: str, initial: Any) -> Var:
    """A payload field of ``vma`` (dies with its memory), made on first use."""
    return Var(f"{vma.name}.{field}", initial, alloc=vma.alloc, oid=oid)


TreeEntry = tuple[int, int, VmAreaStruct]
"""A maple-tree range: ``(start, end, vma)`` with ``end`` exclusive."""


class PageTable(Mapping[int, Var]):
    """The page tables of an mm, one PTE per page of its address space: address -> the PTE
    (a Var holding the mapped page or None).  A PTE is made the first time it is looked up,
    with an id reserved when the mm is built (as a ``lazy_field``): most PTEs of an address
    space are never touched.  Code that scans every PTE for what is mapped uses
    :meth:`made_items` (a PTE never made maps nothing); ``reads=`` takes :meth:`ids`."""

    def __init__(self, mm_name: str, task_size: int) -> None:
        self.name = mm_name
        self.pages = len(range(0, task_size, PAGE_SIZE))  # a PTE per page begun
        self._base = current().reserve(self.pages)
        self._ptes: list[Var | None] = [None] * self.pages
        if current().record:  # a recording run makes everything at set-up (make_fields)
            for i in range(self.pages):
                self._make(i)

    def _index(self, addr: int) -> int:
        i = addr >> PAGE_SHIFT
        if addr % PAGE_SIZE or not 0 <= i < self.pages:
            raise KeyError(addr)
        return i

    def __getitem__(self, addr: int) -> Var:
        i = self._index(addr)
        pte = self._ptes[i]
        return self._make(i) if pte is None else pte

    def _make(self, i: int) -> Var:
        pte = self._ptes[i] = Var(f"{self.name}.pte[{i}]", None, oid=self._base + i)
        return pte

    def __contains__(self, addr: object) -> bool:
        return isinstance(addr, int) and not addr % PAGE_SIZE and 0 <= addr < self.pages * PAGE_SIZE

    def __iter__(self) -> Iterator[int]:
        return iter(range(0, self.pages * PAGE_SIZE, PAGE_SIZE))

    def __len__(self) -> int:
        return self.pages

    def made(self, addr: int) -> Var | None:
        """The PTE at ``addr`` if it was made, else None (it maps nothing; nor does an address
        outside the table), without making it."""
        return self._ptes[addr >> PAGE_SHIFT] if addr in self else None

    def made_items(self) -> Iterator[tuple[int, Var]]:
        """(address, PTE) for the PTEs made so far, by address."""
        return ((i << PAGE_SHIFT, pte) for i, pte in enumerate(self._ptes) if pte is not None)

    def ids(self) -> range:
        """The object ids of every PTE, made or not (for ``invariant(reads=)``)."""
        return range(self._base, self._base + self.pages)


class MmStruct:
    """``struct mm_struct``: ``mmap_lock`` (a fair rwsem whose ``seq`` is ``mm_lock_seq``),
    ``mm_users``/``mm_count``, the VMA tree ``mm_mt`` (an immutable tuple of
    :data:`TreeEntry` sorted by address), ``vma_writer_wait`` (the ``struct rcuwait`` a VMA
    writer sleeps on until readers drain; a reader's ``vma_refcount_put`` wakes it) and the
    page tables (``pte[address]``).  All but the page tables die with the struct (the last
    ``mmdrop``)."""

    def __init__(self, name: str = "mm", task_size: int = 16 * PAGE_SIZE) -> None:
        self.kernel = kernel_state()
        self.name = name
        self.alloc = Allocation(name)
        self.mm_lock_seq = Var(f"{name}.mm_lock_seq", 0, alloc=self.alloc)
        self.mmap_lock = RwSem(f"{name}.mmap_lock", seq=self.mm_lock_seq,
                               lock_class="mmap_lock", alloc=self.alloc)
        self.mm_users = Var(f"{name}.mm_users", 1, alloc=self.alloc)
        self.mm_count = Var(f"{name}.mm_count", 1, alloc=self.alloc)
        self.mm_mt = Var(f"{name}.mm_mt", (), alloc=self.alloc)
        self.vma_writer_wait = Var(f"{name}.vma_writer_wait", None, alloc=self.alloc)
        self.task_size = task_size
        self.pte = PageTable(name, task_size)
        self.kernel.mms.append(self)

    def __repr__(self) -> str:
        return self.name


class KernelState:
    """Everything global of one model kernel: the VMA slab, the page pool and the per-thread
    RCU read-side state.  One per execution, built with the model (:func:`boot`)."""

    def __init__(self, vmas: int, generations: int, pages: int, threads: int) -> None:
        self.slots = [VmaSlot(i, generations) for i in range(vmas)]
        self.vm_area_cachep = Var("vm_area_cachep",
                                  tuple(s.lives[0] for s in reversed(self.slots)))
        self.pages = [Page(i) for i in range(pages)]
        self.free_pages = Var("free_pages", tuple(reversed(self.pages)))
        self.rcu_readers = [Var(f"rcu_read_lock_nesting[{t}]", (0, 0)) for t in range(threads)]
        self.mms: list[MmStruct] = []
        self.read_snapshots: dict[tuple[int, int, int], tuple[Any, ...]] = {}
        self.read_for: dict[tuple[int, int, int], MmStruct] = {}
        self.runtime_vmas: list[VmAreaStruct] = []
        """VMAs ``vm_area_alloc`` handed out while threads ran (for the VMA leak check)."""
        self.kthreads: set[int] = set()
        """Threads that are kernel threads (kworkers, RCU callbacks): no task work."""
        self.task_works: dict[int, list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...]]]
                              | None] = {}
        """Per user task: its pending ``task_work`` callbacks (None once ``exit_task_work``
        ran: ``task_work_add`` then fails)."""
        """Per read lock held (thread, slot, generation): the mm the reader locked it for."""
        self.vma_lock_events: dict[str, int] = {}

    def unlink(self) -> None:
        """At the end of the execution (:meth:`Execution.close`): drop the links that make
        cycles (slots and their lives, mms and their kernel), so that the model's objects are
        freed without the cyclic garbage collector."""
        for slot in self.slots:
            slot.lives = []
            slot.current = None
        self.mms.clear()
        self.read_for.clear()
        self.runtime_vmas.clear()


STATE_KEY = "vmacheck.kernel"
"""The key of the model kernel's state in ``Execution.model_state``."""


def boot(vmas: int = 6, generations: int = 2, pages: int = 6, threads: int = 8) -> KernelState:
    """Model set-up: build the model kernel of the execution being set up (call it from the
    model function, before creating any :class:`MmStruct`; creating one boots with the
    defaults)."""
    ex = current()
    if ex.current_tid is not None:
        raise RuntimeError("boot() must run while the model is built, not from a thread")
    if STATE_KEY in ex.model_state:
        raise RuntimeError("the model kernel is already booted")
    state = KernelState(vmas, generations, pages, threads)
    ex.model_state[STATE_KEY] = state
    at_close(state.unlink)
    from vmacheck.kernel.checks import register_builtin_checks

    register_builtin_checks(state)
    return state


def kernel_state() -> KernelState:
    """Model helper: the model kernel of the running execution (booted with defaults if needed)."""
    ex = current()
    state: KernelState | None = ex.model_state.get(STATE_KEY)
    if state is None:
        if ex.current_tid is not None:
            raise RuntimeError("the model kernel was not booted: call boot() or create an "
                               "MmStruct while the model is built")
        return boot()
    return state
