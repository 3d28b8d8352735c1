"""A user's variant: Carlos Llamas' 2024 concurrent page installation series *without*
the hunk that moves the shrinker's zap under ``alloc->mutex``.

``binder_alloc_free_page@llamas-zap-outside-mutex`` is the Nov 2024 shrinker callback as it
was before that series (drivers/android/binder_alloc.c: binder_alloc_free_page):
``mutex_unlock(&alloc->mutex)`` right after ``list_lru_isolate``, before ``spin_unlock`` and
the zap.  Use it with ``binder_install_single_page@llamas-2024``.

Load it with ``vmacheck.kernel.variants.load_variant_file(path)`` (or ``--variant-file``).
"""

from __future__ import annotations

from typing import Any

from vmacheck.kernel.drivers.android.binder_shrinker import free_page_mmap_trylock_era
from vmacheck.kernel.lib.list_lru import ListLru, LruStatus
from vmacheck.kernel.variants import variant


@variant("binder_alloc_free_page", "llamas-zap-outside-mutex")
async def binder_alloc_free_page_zap_outside_mutex(item: Any, lru: ListLru,
                                                   cb_arg: Any) -> LruStatus:
    """Nov 2024 shrinker: alloc->mutex dropped before the zap (that series' hunk not applied)
    (drivers/android/binder_alloc.c: binder_alloc_free_page)."""
    return await free_page_mmap_trylock_era(item, lru, zap_under_mutex=False)
