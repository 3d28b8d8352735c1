"""binder_mmap → binder_alloc_mmap_handler through mmap_region, and close on munmap."""

from __future__ import annotations

from typing import Any

import vmacheck
from vmacheck.kernel.drivers.android.binder import binder_open
from vmacheck.kernel.drivers.android.binder_alloc import (
    BinderFreelist,
    binder_alloc_new_buf,
)
from vmacheck.kernel.drivers.android.binder_buffers import BinderBuffer
from vmacheck.kernel.mm import VM_MAYREAD, VM_READ, VM_WRITE, MmStruct, boot, sys_munmap
from vmacheck.kernel.mm.mmap import vm_mmap_pgoff


def test_mmap_once_then_busy_and_close_unmaps() -> None:
    out: dict[str, Any] = {}

    def model() -> list[Any]:
        boot(vmas=3, generations=1, pages=4, threads=1)
        mm = MmStruct("mm")
        alloc, filp = binder_open(mm, BinderFreelist(), npages=2)

        async def t() -> None:
            out["writable"] = await vm_mmap_pgoff(mm, filp, 0x4000, 0x2000,
                                                  VM_READ | VM_WRITE | VM_MAYREAD)
            out["first"] = await vm_mmap_pgoff(mm, filp, 0x4000, 0x2000, VM_READ | VM_MAYREAD)
            out["mapped"] = await alloc.mapped.load()
            out["size"] = await alloc.buffer_size.load()
            buf = await binder_alloc_new_buf(alloc, 100)
            out["buf"] = isinstance(buf, BinderBuffer)
            out["second"] = await vm_mmap_pgoff(mm, filp, 0x8000, 0x2000, VM_READ | VM_MAYREAD)
            out["munmap"] = await sys_munmap(mm, 0x4000, 0x2000)
            out["unmapped"] = await alloc.mapped.load()
            out["after"] = await binder_alloc_new_buf(alloc, 100)

        return [("t", t())]

    r = vmacheck.explore(model)
    assert r.findings == (), [f.headline() for f in r.findings]
    assert out["writable"] < 0                      # FORBIDDEN_MMAP_FLAGS: -EPERM
    assert out["first"] == 0x4000 and out["mapped"] and out["size"] == 0x2000
    assert out["buf"]
    assert out["second"] < 0                        # one-shot: -EBUSY
    assert out["munmap"] == 0 and out["unmapped"] is False
    assert out["after"] == -3                       # -ESRCH: not mapped any more
