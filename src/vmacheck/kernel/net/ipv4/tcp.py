"""TCP zerocopy receive's VMA locking (``net/ipv4/tcp.c``).

``tcp_mmap`` reserves a VMA with ``tcp_vm_ops``; ``getsockopt(TCP_ZEROCOPY_RECEIVE)`` runs
``tcp_zerocopy_receive`` with the socket lock held: find and lock the target VMA
(``find_tcp_vma``), zap the target range unless the caller promised it is clean, insert the
received pages (``vm_insert_pages``; on -EBUSY zap and retry once if the first zap was
skipped), then release the VMA lock at ``out:``.  Page contents, skb frags, ``copied_seq`` and
the straggler copy are not modelled.

``find_tcp_vma`` is versioned:

* ``mainline`` — before the series: ``lock_vma_under_rcu``; else ``mmap_read_lock`` +
  ``vma_lookup`` and the receive runs under the mmap read lock (the ``mmap_locked``
  out-parameter tells ``out:`` which lock to drop).
* ``hansen-p5`` — Hansen patch 5: ``vma_start_read_unlocked`` (its own version selected
  separately); the receive always ends with ``vma_end_read``.

Both versions return ``(vma, mmap_locked)``; after patch 5 ``mmap_locked`` is always False,
which is exactly the patched ``out:`` (``vma_end_read`` unconditionally).
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore import Mutex, label, report
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.include.linux.mm_types import (
    PAGE_SIZE,
    VM_MAYREAD,
    VM_MIXEDMAP,
    VM_READ,
    MmStruct,
    VmAreaStruct,
    VmOperationsStruct,
)
from vmacheck.kernel.variants import kfunc

EINVAL = -22
EBUSY = -16
TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT = 0x1

tcp_vm_ops = VmOperationsStruct("tcp_vm_ops")
TCP_VM_FLAGS = VM_READ | VM_MAYREAD | VM_MIXEDMAP


async def vma_is_tcp(vma: VmAreaStruct) -> bool:
    """``vma_is_tcp`` (net/ipv4/tcp.c): ``vma->vm_ops == &tcp_vm_ops``."""
    ops = await vma.vm_ops.load()
    return ops is tcp_vm_ops


@kfunc("mainline")
async def find_tcp_vma(mm: MmStruct, address: int) -> tuple[Any, bool]:
    """``find_tcp_vma`` (net/ipv4/tcp.c), before the series: per-VMA lock, else mmap_read_lock held
    for the whole receive (net/ipv4/tcp.c: find_tcp_vma)."""
    vma = await mmg.lock_vma_under_rcu(mm, address)
    if vma is not None:
        if not await vma_is_tcp(vma):
            await mmg.vma_end_read(vma)
            return None, False
        return vma, False
    await mmg.mmap_read_lock(mm)
    vma = await mmg.vma_lookup(mm, address)
    if vma is None or not await vma_is_tcp(vma):
        await mmg.mmap_read_unlock(mm)
        return None, False
    return vma, True


@find_tcp_vma.variant("hansen-p5")
async def _find_tcp_vma_hansen_p5(mm: MmStruct, address: int) -> tuple[Any, bool]:
    """Hansen patch 5: vma_start_read_unlocked, no mmap_lock fallback
    (net/ipv4/tcp.c: find_tcp_vma)."""
    vma = await mmg.vma_start_read_unlocked(mm, address)
    if vma is None:
        return None, False
    if not await vma_is_tcp(vma):
        await mmg.vma_end_read(vma)
        return None, False
    return vma, False


class TcpSock:
    """The socket: its lock (``lock_sock``, a sleeping lock) and the receive queue, reduced to
    the pages the next receive maps."""

    def __init__(self, name: str = "sk") -> None:
        self.sk_lock = Mutex(f"{name}->sk_lock", lock_class="sk_lock-AF_INET")
        self.rx_pages: list[Any] = []


async def tcp_zerocopy_vm_insert_batch(vma: VmAreaStruct, address: int,
                                       pages: list[Any]) -> int:
    """``tcp_zerocopy_vm_insert_batch`` → ``vm_insert_pages`` (mm/memory.c): insert the
    batch page by page; the first error stops it."""
    for i, page in enumerate(pages):
        ret: int = await mmg.vm_insert_page(vma, address + i * PAGE_SIZE, page)
        if ret:
            return ret
    return 0


async def tcp_zerocopy_receive(sk: TcpSock, mm: MmStruct, address: int, length: int,
                               flags: int = 0) -> int:
    """``tcp_zerocopy_receive`` (net/ipv4/tcp.c), its locking: the caller holds the socket
    lock; find and lock the VMA, zap unless TLB-clean, insert, retry -EBUSY once after a zap,
    release the VMA lock (or the mmap read lock) at ``out:``.  Returns 0 or -errno and labels
    the outcome."""
    if address & (PAGE_SIZE - 1):
        return EINVAL
    vma, mmap_locked = await find_tcp_vma(mm, address)
    if vma is None:
        label("tcp receive: no tcp vma (-EINVAL)")
        return EINVAL
    _, end = await mmg.vma_range(vma)
    vma_len = min(length, end - address)
    pages = sk.rx_pages[: vma_len // PAGE_SIZE]
    zap_done = False
    if not flags & TCP_RECEIVE_ZEROCOPY_FLAG_TLB_CLEAN_HINT:
        await mmg.zap_vma_range(vma, address, len(pages) * PAGE_SIZE)
        zap_done = True
    ret = await tcp_zerocopy_vm_insert_batch(vma, address, pages)
    if ret == EBUSY and not zap_done:
        await mmg.zap_vma_range(vma, address, len(pages) * PAGE_SIZE)
        ret = await tcp_zerocopy_vm_insert_batch(vma, address, pages)
    # out:
    if mmap_locked:
        await mmg.mmap_read_unlock(mm)
    else:
        await mmg.vma_end_read(vma)
    _check_nothing_held(mm, vma)
    label(f"tcp receive: mapped {len(pages)} page(s), ret {ret}"
          f" under {'mmap lock' if mmap_locked else 'vma lock'}")
    return ret


def _check_nothing_held(mm: MmStruct, vma: VmAreaStruct) -> None:
    """Model check: after ``out:`` of ``tcp_zerocopy_receive`` (net/ipv4/tcp.c) the receive holds
    neither the VMA nor the mmap lock."""
    pin = mmg.pin_token(vma)
    if pin is not None:
        report("invariant", f"invariant violated: tcp-release-matches: {pin!r} still held "
               "after tcp_zerocopy_receive's out:")


async def do_tcp_getsockopt_zerocopy(sk: TcpSock, mm: MmStruct, address: int,
                                     length: int, flags: int = 0) -> int:
    """``do_tcp_getsockopt(TCP_ZEROCOPY_RECEIVE)`` (net/ipv4/tcp.c): ``lock_sock``, receive,
    ``release_sock``."""
    await sk.sk_lock.lock()
    ret = await tcp_zerocopy_receive(sk, mm, address, length, flags)
    await sk.sk_lock.unlock()
    return ret


__all__ = ["TcpSock", "do_tcp_getsockopt_zerocopy", "find_tcp_vma", "tcp_vm_ops",
           "tcp_zerocopy_receive"]
