"""A planted bug: ``binder_alloc_mmap_handler`` that returns -ENOMEM when the first buffer
cannot be allocated without its rollback (no ``kvfree(alloc->pages)``, ``vm_start`` and
``buffer_size`` left set, so the alloc also refuses every later mmap with -EBUSY).

Select it with ``--variant binder_alloc_mmap_handler@no-rollback --inject ENOMEM`` in
``binder-mmap-enomem``: ``binder-mmap-failure-rolled-back`` reports it.
"""

from typing import Any

from vmacheck.kernel.drivers.android import binder_buffers as bb
from vmacheck.kernel.drivers.android import mm_glue as mmg
from vmacheck.kernel.drivers.android.binder_alloc import (
    EBUSY,
    EINVAL,
    ENOMEM,
    PAGE_SIZE,
    BinderAlloc,
    binder_alloc_set_mapped,
)
from vmacheck.kernel.include.linux.fault_inject import should_failslab
from vmacheck.kernel.variants import variant


@variant("binder_alloc_mmap_handler", "no-rollback")
async def binder_alloc_mmap_handler_no_rollback(alloc: BinderAlloc, vma: Any) -> int:
    """``binder_alloc_mmap_handler`` (drivers/android/binder_alloc.c) whose
    ``kzalloc(binder_buffer)`` failure path returns without ``err_alloc_buf_struct_failed``
    and ``err_alloc_pages_failed``."""
    if mmg.vma_mm(vma) is not alloc.mm:
        return EINVAL
    await alloc.freelist.mmap_lock.lock()
    if await alloc.buffer_size.load():
        await alloc.freelist.mmap_lock.unlock()
        return EBUSY
    start, end = await mmg.vma_range(vma)
    size = min(end - start, bb.SZ_4M, alloc.npages * PAGE_SIZE)
    await alloc.buffer_size.store(size)
    await alloc.freelist.mmap_lock.unlock()
    await alloc.vm_start.store(start)
    alloc.vm_start_hint = start
    if await should_failslab("binder_alloc_mmap_handler: kvcalloc(alloc->pages)"):
        await alloc.vm_start.store(0)
        await alloc.freelist.mmap_lock.lock()
        await alloc.buffer_size.store(0)
        await alloc.freelist.mmap_lock.unlock()
        return ENOMEM
    await alloc.pages_array.store(("pages", alloc.npages))
    if await should_failslab("binder_alloc_mmap_handler: kzalloc(binder_buffer)"):
        return ENOMEM  # the bug: no kvfree, vm_start and buffer_size stay set
    await alloc.buffers.store(bb.initial_layout(start))
    await alloc.free_async_space.store(size // 2)
    await alloc.vma.store(vma)
    await binder_alloc_set_mapped(alloc, True)
    return 0
