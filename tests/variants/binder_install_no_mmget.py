"""A planted bug: binder installs a page pinning only the ``mm_struct`` (the ``mmgrab`` that
``binder_alloc_init`` took), not the address space: no ``mmget_not_zero`` before the install,
no ``mmput_async`` after it.

Select it with ``--variant binder_install_single_page@no-mmget``.  When the owner exits during
the install, ``exit_mmap`` may already have zapped the binder VMA when the page goes in, and
then frees the VMA with the page still mapped (or the install inserts into a VMA being torn
down).  Mainline's ``mmget_not_zero`` either fails (-ESRCH) or keeps ``exit_mmap`` from running
until ``mmput_async``.
"""

from typing import Any

from vmacheck.kernel.drivers.android.binder_alloc import (
    EBUSY,
    ENOMEM,
    ESRCH,
    BinderAlloc,
    binder_free_page,
    binder_page_alloc,
    binder_set_installed_page,
)
from vmacheck.kernel.drivers.android.binder_install import (
    _page_insert_mainline,
    binder_page_lookup,
)
from vmacheck.kernel.variants import variant


@variant("binder_install_single_page", "no-mmget")
async def binder_install_single_page_no_mmget(alloc: BinderAlloc, index: int,
                                              addr: int) -> Any:
    """``binder_install_single_page`` (drivers/android/binder_alloc.c) without
    ``mmget_not_zero``/``mmput_async``: the page is inserted under the per-VMA lock or the
    mmap read lock of an address space that may be exiting."""
    page = await binder_page_alloc(alloc, index)
    if page is None:
        return ENOMEM
    ret = await _page_insert_mainline(alloc, addr, page)
    return await _install_tail_no_mmput(alloc, index, addr, page, ret)


async def _install_tail_no_mmput(alloc: BinderAlloc, index: int, addr: int, page: Any,
                                 ret: int) -> int:
    """The -EBUSY / 0 / error switch at the end of ``binder_install_single_page``, without
    the ``mmput_async`` (this version took no ``mm_users`` reference)."""
    if ret == EBUSY:
        ret = 0
        await binder_free_page(alloc, page, "install lost the race (-EBUSY)")
        page = await binder_page_lookup(alloc, addr)
        if page is None:
            ret = ESRCH
        else:
            await binder_set_installed_page(alloc, index, page)
    elif ret == 0:
        await binder_set_installed_page(alloc, index, page)
    else:
        await binder_free_page(alloc, page, f"install failed ({ret})")
    return ret
