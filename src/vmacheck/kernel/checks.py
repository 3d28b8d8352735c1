"""Built-in checks of the mm model: read-lock bookkeeping and invariants.

VMA read locks are held resources of the thread that took them (so a leaked one is a
``resource-leak`` and an unlock without one is a ``bad-unlock``).  When a read lock is taken the
fields it is meant to stabilise are remembered, and the invariants below compare them after every
step.  These are checks of the model, not kernel functions: they read state directly.

Partial-order reduction caveat: the explorer runs one interleaving per Mazurkiewicz trace, so an
invariant checked after every step only sees the intermediate states of that interleaving.  A
violation that exists only in *some* orderings of two independent steps can be missed.  The
read-lock invariants are therefore made order-sensitive on purpose: taking and dropping a VMA
read lock reads the fields the invariants compare (``VmAreaStruct.lock_view``), so every writer
of those fields is ordered against every reader's acquire and release.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import current, hold, invariant, report, unhold
from vmacheck.explore.core import Execution
from vmacheck.kernel.include.linux.mm_types import (
    STATE_KEY,
    VM_REFCNT_EXCLUDE_READERS_FLAG,
    KernelState,
    MmStruct,
    VmAreaStruct,
    vma_page_prot,
)

VMA_LOCK_CLASS = "vm_area_struct->vm_lock"


def vma_read_key(vma: VmAreaStruct) -> tuple[str, VmAreaStruct]:
    """Model check: the held-resource key of a VMA read lock."""
    return ("vma-read", vma)


def vma_write_key(vma: VmAreaStruct) -> tuple[str, VmAreaStruct]:
    """Model check: the held-resource key of a VMA writer draining readers (lockdep only)."""
    return ("vma-write", vma)


def _stable_fields(vma: VmAreaStruct) -> tuple[Any, ...]:
    return (vma.slot.vm_start._value, vma.slot.vm_end._value, vma.vm_flags._value,
            vma.vm_pgoff._value, vma.vm_page_prot._value, vma.vm_ops._value)


def note_vma_read_locked(vma: VmAreaStruct, mm: MmStruct | None = None) -> None:
    """Model check: record that the calling thread now holds a read lock (reference) on
    ``vma``, taken for address space ``mm`` (``vma_start_read``'s argument; default: the
    VMA's own)."""
    ex = current()
    tid = ex.current_tid
    assert tid is not None
    hold(vma_read_key(vma), f"{vma.name} (vma read lock)", VMA_LOCK_CLASS, trylock=True)
    ex_state = _state_of(ex)
    if ex_state is not None:
        key = (tid, vma.slot.index, vma.generation)
        ex_state.read_snapshots[key] = _stable_fields(vma)
        owner = mm if mm is not None else vma.vm_mm
        if owner is not None:
            ex_state.read_for[key] = owner


def note_vma_read_unlocked(vma: VmAreaStruct) -> bool:
    """Model check: record the release of a VMA read lock; reports ``bad-unlock`` when none was
    held."""
    if not unhold(vma_read_key(vma)):
        ex = current()
        tid = ex.current_tid
        mm = vma.vm_mm
        other = ""
        if tid is not None and mm is not None and any(
                ex.holds(tid, (mm.mmap_lock, mode)) for mode in ("R", "W")):
            other = (f" (it holds {mm.mmap_lock.name}: lock-kind mismatch, vma_end_read "
                     "after mmap_read_lock)")
        report("bad-unlock", f"vma_end_read({vma.name}) without a VMA read lock held{other}")
        return False
    return True


def holds_vma_read(vma: VmAreaStruct) -> bool:
    """Model check: whether the calling thread holds a read lock on ``vma``."""
    ex = current()
    tid = ex.current_tid
    return tid is not None and ex.holds(tid, vma_read_key(vma))


def vma_readers(ex: Execution, vma: VmAreaStruct) -> frozenset[int]:
    """Model check: threads holding a read lock on the slot of ``vma`` (any generation)."""
    out = set()
    for t in ex.threads:
        for h in t.held:
            k = h.key
            if (isinstance(k, tuple) and len(k) == 2 and k[0] == "vma-read"
                    and k[1].slot is vma.slot):
                out.add(t.tid)
    return frozenset(out)


_HOLDS: list[Any] = [None, -1, ()]
"""The last answer of :func:`_read_holds`: execution, its bookkeeping count, the holds."""


def _read_holds(ex: Execution) -> tuple[tuple[int, VmAreaStruct], ...]:
    """(thread, VMA) for every VMA read lock a live thread holds.  The checks after one step
    share the answer: it changes only with the threads' held resources and liveness, which
    ``Execution.bookkeeping`` counts."""
    cache = _HOLDS
    if cache[0] is ex and cache[1] == ex.bookkeeping:
        held: tuple[tuple[int, VmAreaStruct], ...] = cache[2]
        return held
    out = []
    for t in ex.threads:
        if not t.live:
            continue
        for h in t.held:
            k = h.key
            if isinstance(k, tuple) and len(k) == 2 and k[0] == "vma-read":
                out.append((t.tid, k[1]))
    cache[0], cache[1], cache[2] = ex, ex.bookkeeping, tuple(out)
    return cache[2]  # type: ignore[no-any-return]


def _state_of(ex: Execution) -> KernelState | None:
    state: KernelState | None = ex.model_state.get(STATE_KEY)
    return state


def _write_locked(vma: VmAreaStruct) -> bool:
    mm = vma.vm_mm
    if mm is None:
        return False
    seq = mm.mm_lock_seq._value
    return bool(seq % 2 == 1 and vma.slot.vm_lock_seq._value == seq)


def _locked_for_other_mm(state: KernelState | None, tid: int, v: VmAreaStruct) -> bool:
    """Whether thread ``tid`` read-locked ``v`` while asking for another mm's VMA."""
    if state is None:
        return False
    owner = state.read_for.get((tid, v.slot.index, v.generation))
    return owner is not None and owner is not v.vm_mm


def check_reader_writer_exclusion() -> bool:
    """Model check: a write-locked VMA (``__vma_start_write``, mm/mmap_lock.c) has no thread
    holding a read lock on it that it took for this VMA's mm.  A reader that ended up with a
    VMA of another mm (its object was freed and reused: SLAB_TYPESAFE_BY_RCU) compared the
    stamp with its own mm's sequence, not the writer's: that is reported by
    :func:`check_read_lock_own_mm`, not as an exclusion failure."""
    ex = current()
    holds = _read_holds(ex)
    if not holds:
        return True
    state = _state_of(ex)
    return not any(_write_locked(v) and not _locked_for_other_mm(state, tid, v)
                   for tid, v in holds)


def check_read_lock_own_mm() -> bool:
    """Model check: a VMA read lock a thread holds is on a VMA of the mm it asked for
    (``vma_start_read`` checks ``vma->vm_mm`` after taking its reference, commit
    9bbffee67ffd; before it, ``lock_vma_under_rcu`` checked it)."""
    ex = current()
    holds = _read_holds(ex)
    if not holds:
        return True
    state = _state_of(ex)
    return not any(_locked_for_other_mm(state, tid, v) for tid, v in holds)


def check_stable_under_read_lock() -> bool:
    """Model check: an attached VMA's bounds, flags, offset, protection and ops change only
    under its write lock, so they never change while some thread holds a read lock on it."""
    ex = current()
    holds = _read_holds(ex)
    state = _state_of(ex) if holds else None
    if state is None:
        return True
    for tid, v in holds:
        seen = state.read_snapshots.get((tid, v.slot.index, v.generation))
        if seen is not None and seen != _stable_fields(v):
            return False
    return True


def check_read_locked_vma_set_up() -> bool:
    """Model check: A VMA a reader can lock is fully set up: ``vm_page_prot`` is what
    ``vma_set_page_prot`` computes from ``vm_flags`` and ``vm_ops`` (write-notify), the last
    step of ``mmap_region`` (commit 33313a747e81)."""
    for _, v in _read_holds(current()):
        if v.alloc.freed:
            continue
        if v.vm_page_prot._value != vma_page_prot(v.vm_flags._value, v.vm_ops._value):
            return False
    return True


def check_refcount_covers_readers() -> bool:
    """Model check: ``vm_refcnt`` (include/linux/mmap_lock.h) (without the exclude flag) counts the
    attachment and every successful reader."""
    counts: dict[int, tuple[VmAreaStruct, int]] = {}
    for _, v in _read_holds(current()):
        prev = counts.get(id(v.slot), (v, 0))[1]
        counts[id(v.slot)] = (v, prev + 1)
    for v, n in counts.values():
        low = v.slot.vm_refcnt._value % VM_REFCNT_EXCLUDE_READERS_FLAG
        if low < n + 1:
            return False
    return True


def check_seq_parity(state: KernelState) -> bool:
    """Model check: ``mm_lock_seq`` (``mm_lock_seqcount_begin``/``_end``) is odd exactly while the
    mmap lock is write-held."""
    return all((mm.mm_lock_seq._value % 2 == 1) == (mm.mmap_lock.writer is not None)
               for mm in state.mms)


def check_fork_excludes_faults() -> bool:
    """Model check: fb49c455323f: while ``dup_mmap`` copies a parent VMA (its model flag
    ``model_dup_mmap`` is set), no thread holds a read lock on it (no page fault runs on it
    under the per-VMA lock)."""
    return not any(v.slot.model_dup_mmap._value for _, v in _read_holds(current()))


def leaked_vmas(state: KernelState) -> list[str]:
    """Model check: VMAs allocated by ``vm_area_alloc`` while the threads ran, never freed,
    that no address space's tree holds: nobody can reach them to free them.  (VMAs a model
    sets up before the threads start are the model's own business.)"""
    out = []
    for v in state.runtime_vmas:
        if v.alloc.freed or v.vm_mm is None:
            continue
        if not any(entry[2] is v for mm in state.mms for entry in mm.mm_mt._value):
            out.append(v.name)
    return out


def held_vma_objects() -> list[Any]:
    """Model check: what the read-lock invariants read of the VMAs threads hold read-locked:
    each one's lock view, ``vm_refcnt``, memory (freed or not) and its mm's ``mm_lock_seq``.
    Given the held locks (and the bookkeeping taken with them), nothing else changes their
    answers, so they are re-run only when one of these is written (``invariant(watch=)``)."""
    out: list[Any] = []
    for _, v in _read_holds(current()):
        out.extend(v.lock_view())
        out.append(v.slot.vm_refcnt)
        out.append(v.alloc)
        if v.vm_mm is not None:
            out.append(v.vm_mm.mm_lock_seq)
    return out


def register_builtin_checks(state: KernelState) -> None:
    """Model check: register the mm invariants for the execution being built.  The read-lock
    invariants depend on no held resource but the VMA locks (``lock_classes``); the
    ``mm_lock_seq`` parity on none (it reads the rwsem's own state)."""
    watch = held_vma_objects
    vma = (VMA_LOCK_CLASS,)
    invariant("vma reader/writer exclusion (__vma_start_write)", check_reader_writer_exclusion,
              watch=watch, lock_classes=vma)
    invariant("vma fields stable under a read lock (vma_start_write)",
              check_stable_under_read_lock, watch=watch, lock_classes=vma)
    invariant("vma read lock is on a vma of the reader's mm (9bbffee67ffd)",
              check_read_lock_own_mm, watch=watch, lock_classes=vma)
    invariant("read-locked vma is fully set up (33313a747e81)", check_read_locked_vma_set_up,
              watch=watch, lock_classes=vma)
    invariant("vm_refcnt counts readers (vma_start_read)", check_refcount_covers_readers,
              watch=watch, lock_classes=vma)
    invariant("mm_lock_seq odd iff write-locked (mm_lock_seqcount_begin)",
              lambda: check_seq_parity(state),
              watch=lambda: [x for mm in state.mms for x in (mm.mm_lock_seq, mm.mmap_lock)],
              lock_classes=())
    invariant("dup_mmap copies no read-locked vma (fb49c455323f)", check_fork_excludes_faults,
              watch=watch, lock_classes=vma)
    invariant("no vma leaked (vm_area_alloc without vm_area_free)",
              lambda: not leaked_vmas(state), at_end=True)
