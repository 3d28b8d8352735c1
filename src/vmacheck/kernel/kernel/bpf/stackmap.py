"""BPF stackmap build-id lookup's VMA locking (``kernel/bpf/stackmap.c``).

The sleepable path (``stack_map_get_build_id_offset_sleepable``) locks the VMA covering each
IP (``stack_map_lock_vma``), reads ``vm_pgoff``/``vm_start``/``vm_file``, pins the file,
unlocks (``stack_map_unlock_vma``), and parses the build id (``build_id_parse_file``, may block
on I/O) with no mm lock held.

``stack_map_lock_vma`` is versioned; its two halves share the preprocessor switch, so
``stack_map_unlock_vma`` follows the version of ``stack_map_lock_vma``:

* ``mainline`` — pre-series: ``#ifdef CONFIG_PER_VMA_LOCK`` (the ``PER_VMA_LOCK`` config
  switch): lock hands off from the mmap read lock to the VMA lock, unlock is ``vma_end_read``;
  without it, lock keeps the mmap read lock and unlock is ``mmap_read_unlock``.
* ``hansen-p1`` — Hansen patch 1 applied (per-VMA locks unconditional, ``CONFIG_PER_VMA_LOCK``
  no longer defined) with stackmap.c untouched: both ``#else`` branches compile while
  ``lock_vma_under_rcu`` is real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vmacheck.explore import label, report
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.include.linux.mm_types import MmStruct, VmAreaStruct
from vmacheck.kernel.variants import active, kfunc


@dataclass
class StackMapVmaLock:
    """``struct stack_map_vma_lock``: the mm and the VMA currently locked."""

    mm: MmStruct
    vma: Any = None


def CONFIG_PER_VMA_LOCK_defined() -> bool:
    """Model helper: whether ``#ifdef CONFIG_PER_VMA_LOCK`` is true for the stackmap code being run:
    before the series iff the ``PER_VMA_LOCK`` config switch is on; never after patch 1."""
    if stack_map_lock_vma.active() == "hansen-p1":
        return False
    return bool(active().config.get("PER_VMA_LOCK", True))


@kfunc("mainline")
async def stack_map_lock_vma(lock: StackMapVmaLock, ip: int) -> Any:
    """``stack_map_lock_vma`` (kernel/bpf/stackmap.c), before the series: lock_vma_under_rcu, else
    mmap_read_trylock + vma_lookup and, under #ifdef CONFIG_PER_VMA_LOCK, hand off to
    vma_start_read_locked (kernel/bpf/stackmap.c: stack_map_lock_vma)."""
    return await _stack_map_lock_vma(lock, ip)


@stack_map_lock_vma.variant("hansen-p1")
async def _stack_map_lock_vma_hansen_p1(lock: StackMapVmaLock, ip: int) -> Any:
    """Patch 1 applied, stackmap.c unchanged: the #else branch compiles (no hand-off)
    (kernel/bpf/stackmap.c: stack_map_lock_vma)."""
    return await _stack_map_lock_vma(lock, ip)


async def _stack_map_lock_vma(lock: StackMapVmaLock, ip: int) -> Any:
    """The body both versions share; the ``#ifdef`` is :func:`CONFIG_PER_VMA_LOCK_defined`.
    ``lock_vma_under_rcu`` is the no-op stub when per-VMA locks are not built."""
    mm = lock.mm
    vma = await mmg.lock_vma_under_rcu(mm, ip)
    if vma is not None:
        lock.vma = vma
        return vma
    if not await mmg.mmap_read_trylock(mm):
        return None
    vma = await mmg.vma_lookup(mm, ip)
    if vma is None:
        await mmg.mmap_read_unlock(mm)
        return None
    if CONFIG_PER_VMA_LOCK_defined():
        if not await mmg.vma_start_read_locked(vma):
            await mmg.mmap_read_unlock(mm)
            return None
        await mmg.mmap_read_unlock(mm)
    lock.vma = vma
    return vma


async def stack_map_unlock_vma(lock: StackMapVmaLock) -> None:
    """``stack_map_unlock_vma`` (kernel/bpf/stackmap.c): ``vma_end_read`` under
    ``#ifdef CONFIG_PER_VMA_LOCK``, else ``mmap_read_unlock(lock->mm)``."""
    if CONFIG_PER_VMA_LOCK_defined():
        await mmg.vma_end_read(lock.vma)
    else:
        await mmg.mmap_read_unlock(lock.mm)
    lock.vma = None


async def build_id_parse_file(file: Any, mm: MmStruct, vma: VmAreaStruct) -> None:
    """``build_id_parse_file`` (lib/buildid.c): may block on I/O.  Model check: no mm lock
    may be held here (the reason stackmap drops the VMA lock first)."""
    held = mmg.pin_token(vma)
    if held is not None:
        report("invariant", f"invariant violated: stackmap-no-mm-lock-across-build-id-parse: "
               f"{held!r} held")


async def stack_map_get_build_id_offset_sleepable(mm: MmStruct, ips: list[int]) -> list[str]:
    """``stack_map_get_build_id_offset_sleepable`` (kernel/bpf/stackmap.c), one IP at a time:
    lock, read the VMA's file and offset, unlock, parse.  Returns per IP ``"build-id"`` or
    ``"ip"`` (raw IP reported when no VMA could be locked)."""
    out: list[str] = []
    lock = StackMapVmaLock(mm)
    for ip in ips:
        vma = await stack_map_lock_vma(lock, ip)
        if vma is None:
            out.append("ip")
            label(f"stackmap {ip:#x}: raw ip")
            continue
        vm_file = await vma.vm_file.load()
        await vma.vm_pgoff.load()
        await stack_map_unlock_vma(lock)
        await build_id_parse_file(vm_file, mm, vma)
        out.append("build-id")
        label(f"stackmap {ip:#x}: build id")
    return out
