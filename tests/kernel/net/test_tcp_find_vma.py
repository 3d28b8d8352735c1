"""find_tcp_vma (net/ipv4/tcp.c) in one thread: which lock it returns with."""

from __future__ import annotations

from typing import Any

import pytest

import vmacheck
from vmacheck.kernel.mm import MmStruct, boot, setup_vma
from vmacheck.kernel.net.ipv4.tcp import TCP_VM_FLAGS, find_tcp_vma, tcp_vm_ops
from vmacheck.kernel.variants import Selection, select


def lookup(version: str, addr: int) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def model() -> list[Any]:
        boot(vmas=3, generations=1, pages=2, threads=1)
        mm = MmStruct("mm")
        setup_vma(mm, 0x8000, 0xA000, TCP_VM_FLAGS, vm_ops=tcp_vm_ops)
        setup_vma(mm, 0x2000, 0x3000, TCP_VM_FLAGS)

        async def t() -> None:
            from vmacheck.kernel.mm import mmap_read_unlock, vma_end_read

            vma, mmap_locked = await find_tcp_vma(mm, addr)
            out["found"] = vma is not None
            out["mmap_locked"] = mmap_locked
            if vma is not None:
                if mmap_locked:
                    await mmap_read_unlock(mm)
                else:
                    await vma_end_read(vma)

        return [("t", t())]

    with select(Selection({"find_tcp_vma": version})):
        r = vmacheck.explore(model)
    assert r.findings == (), [f.headline() for f in r.findings]
    return out


@pytest.mark.parametrize("version", ["mainline", "hansen-p5"])
def test_find_tcp_vma(version: str) -> None:
    assert lookup(version, 0x8000) == {"found": True, "mmap_locked": False}
    assert lookup(version, 0x2000) == {"found": False, "mmap_locked": False}
    assert lookup(version, 0x5000) == {"found": False, "mmap_locked": False}
