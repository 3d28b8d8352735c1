"""Allocation failure injection (``--inject ENOMEM``): every allocation site becomes a branch.

Models the kernel's fault injection (``should_failslab``, mm/failslab.c, and
``should_fail_alloc_page``, mm/page_alloc.c, with ``CONFIG_FAULT_INJECTION``): when the run's
configuration has ``INJECT_ENOMEM`` (the command line's ``--inject ENOMEM``), each allocation
asks the explorer for a choice (succeed / fail), named after the site in the trace, and DPOR
explores both.  Off by default: no choice, no extra step.
"""

from __future__ import annotations

from vmacheck.explore import choice
from vmacheck.kernel.variants import config

INJECT_ENOMEM = "INJECT_ENOMEM"


def injecting_enomem() -> bool:
    """Model helper: whether allocation failures are injected in this run."""
    return config(INJECT_ENOMEM)


async def should_failslab(site: str) -> bool:
    """``should_failslab`` (mm/failslab.c): whether the allocation at ``site`` fails.  With
    ``INJECT_ENOMEM`` a choice the explorer makes both ways ("``site``: fail?"); otherwise
    never (no step)."""
    if not injecting_enomem():
        return False
    return bool(await choice(2, f"{site}: ENOMEM?") == 1)
