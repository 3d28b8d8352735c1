"""TCP zerocopy receive scenarios: ``getsockopt(TCP_ZEROCOPY_RECEIVE)`` against munmap,
mprotect, fork and ``madvise(MADV_DONTNEED)`` of the receive VMA.

The process has a ``tcp_mmap`` VMA of two pages at ``0x8000``; the socket has one received
page to map.  Each execution's end is labelled with what the receive did.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.mm import (
    VM_READ,
    MmStruct,
    boot,
    do_mprotect_pkey,
    dup_mmap,
    kernel_state,
    setup_vma,
    sys_munmap,
)
from vmacheck.kernel.net.ipv4.tcp import (
    TCP_VM_FLAGS,
    TcpSock,
    do_tcp_getsockopt_zerocopy,
    tcp_vm_ops,
)
from vmacheck.scenarios.catalogue import Scenario, register, seed_versions

TCP_START = 0x8000
TCP_LEN = 0x2000
FUNCTIONS = ("find_tcp_vma", "vma_start_read_unlocked")

seed_versions("find_tcp_vma", ("mainline", "hansen-p5"))
seed_versions("vma_start_read_unlocked", ("posted", "fixed"))

Thread = tuple[str, Coroutine[Any, Any, Any]]


@dataclass
class TcpWorld:
    """What a TCP scenario's threads share."""

    mm: MmStruct
    child: MmStruct
    sk: TcpSock


def tcp_world() -> TcpWorld:
    """Boot the model kernel: one process with a TCP receive VMA, a socket with one page."""
    boot(vmas=5, generations=2, pages=6, threads=4)
    mm = MmStruct("mm")
    child = MmStruct("child")
    setup_vma(mm, TCP_START, TCP_START + TCP_LEN, TCP_VM_FLAGS, vm_ops=tcp_vm_ops)
    sk = TcpSock()
    state = kernel_state()
    page = state.free_pages._value[-1]
    state.free_pages._value = state.free_pages._value[:-1]
    sk.rx_pages.append(page)
    return TcpWorld(mm, child, sk)


async def receive(w: TcpWorld) -> int:
    """``getsockopt(TCP_ZEROCOPY_RECEIVE)`` of one page at the VMA's start."""
    return await do_tcp_getsockopt_zerocopy(w.sk, w.mm, TCP_START, 0x1000)


async def madvise_dontneed(w: TcpWorld) -> int:
    """``madvise(MADV_DONTNEED)`` of the receive range (mm/madvise.c: ``madvise_lock`` tries
    the per-VMA lock (``try_vma_read_lock``), else ``mmap_read_lock``; then
    ``madvise_dontneed_single_vma`` zaps the range; then unlock)."""
    mm = w.mm
    vma = await mmg.lock_vma_under_rcu(mm, TCP_START)
    if vma is not None:
        await mmg.zap_vma_range(vma, TCP_START, 0x1000)
        await mmg.vma_end_read(vma)
        return 0
    await mmg.mmap_read_lock(mm)
    vma = await mmg.vma_lookup(mm, TCP_START)
    if vma is not None:
        await mmg.zap_vma_range(vma, TCP_START, 0x1000)
    await mmg.mmap_read_unlock(mm)
    return 0


def _scenario(name: str, summary: str, build: Callable[[], list[Thread]], doc: str,
              extra: tuple[str, ...] = ()) -> None:
    register(Scenario(name, summary, build, functions=FUNCTIONS + extra, doc=doc, group="tcp",
                      max_steps=1_000))


def _munmap() -> list[Thread]:
    w = tcp_world()
    return [("receive", receive(w)), ("munmap", sys_munmap(w.mm, TCP_START, TCP_LEN))]


_scenario("tcp-zerocopy-munmap", "TCP zerocopy receive while its VMA is unmapped", _munmap,
          "The receive holds the VMA read lock (or the mmap read lock) across the inserts; "
          "munmap waits for it, or the lookup finds nothing and the receive fails.")


def _mprotect() -> list[Thread]:
    w = tcp_world()
    return [("receive", receive(w)),
            ("mprotect", do_mprotect_pkey(w.mm, TCP_START, TCP_LEN, TCP_VM_FLAGS & ~VM_READ))]


_scenario("tcp-zerocopy-mprotect", "TCP zerocopy receive while its VMA is mprotected", _mprotect,
          "mprotect write-locks the VMA: find_tcp_vma's per-VMA fast path fails and its slow "
          "path runs.")


def _fork() -> list[Thread]:
    w = tcp_world()
    return [("receive", receive(w)), ("fork", dup_mmap(w.child, w.mm))]


_scenario("tcp-zerocopy-fork", "TCP zerocopy receive while the process forks", _fork,
          "fork write-locks every parent VMA: the fast path fails transiently.",
          ("dup_mmap",))


def _madvise() -> list[Thread]:
    w = tcp_world()
    return [("receive", receive(w)), ("madvise", madvise_dontneed(w))]


_scenario("tcp-zerocopy-madvise", "TCP zerocopy receive racing madvise(MADV_DONTNEED)",
          _madvise,
          "Both are VMA readers; the zap may remove the freshly inserted page.")
