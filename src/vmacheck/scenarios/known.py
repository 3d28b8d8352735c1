"""Expected findings: demonstrations, re-created historic bugs, and known kernel bugs.

``vmacheck check`` shows these apart from new findings and does not fail on them; an
expected finding that a complete run no longer reaches is reported (the bug was fixed, or
the model changed).  Each entry says why it is expected.
"""

from __future__ import annotations

from vmacheck.scenarios.catalogue import Expected, expect, expect_for_version

# -- demonstration scenarios: the finding is the point of the scenario ----------------------
expect("mm-recursive-read-fault", Expected(
    "deadlock", "demonstration: a fault taking mmap_read_lock again while a writer is "
    "queued on the fair rwsem (mm/mmap_lock.c) deadlocks", message="wait-for cycle"))
expect("mm-vma-reader-takes-mmap-lock", Expected(
    "deadlock", "demonstration: sleeping in mmap_read_lock with a VMA read lock held "
    "deadlocks against vma_start_write (what lock_vma_under_rcu callers must never do)",
    message="wait-for cycle"))
expect("mm-vma-reader-takes-mmap-lock", Expected(
    "lock-order", "demonstration: the same inversion as lockdep reports it "
    "(mmap_lock -> vm_lock -> mmap_lock)", message="circular locking dependency"))
expect("mm-rcu-stale-vma-pointer", Expected(
    "use-after-free", "demonstration: a VMA pointer kept past rcu_read_unlock() is freed by "
    "munmap (mm/vma.c vms_complete_munmap_vmas frees VMAs after an RCU grace period)"))
for _version in ("mainline", "hansen-v2"):  # the versions that reclaim in that window
    expect("binder-shrink-munmap-strict", Expected(
        "invariant", "demonstration: the stricter page check fires in munmap's downgrade "
        "window, where a PTE still maps a page binder has given up (mainline does it too)",
        message="binder-no-page-given-up-while-any-pte-maps-it",
        variants={"binder_alloc_free_page": _version}))

# -- versions that re-create historic kernel bugs (the fix removed) -------------------------
_VMA_LOCKS = {"PER_VMA_LOCK": True}  # the historic bugs need per-VMA locks built
expect_for_version("dup_mmap", "pre-fb49c455323f", Expected(
    "invariant", "historic bug: dup_mmap before fb49c455323f (\"fork: lock VMAs of the parent "
    "process when forking\") copies VMAs a fault may be changing",
    message="dup_mmap copies no read-locked vma", config=_VMA_LOCKS,
    required_in=("mm-fork-vs-fault",)))
expect_for_version("mmap_region", "pre-33313a747e81", Expected(
    "invariant", "historic bug: mmap_region before 33313a747e81 (\"mm: lock newly mapped VMA "
    "which can be modified after it becomes visible\") publishes an unlocked VMA",
    message="read-locked vma is fully set up", config=_VMA_LOCKS,
    required_in=("mm-mmap-vs-fault",)))
expect_for_version("expand_downwards", "pre-c137381f71ae", Expected(
    "invariant", "historic bug: expand_downwards before c137381f71ae (\"mm: lock a vma "
    "before stack expansion\") changes a VMA a per-VMA-locked fault is using",
    message="vma fields stable under a read lock", config=_VMA_LOCKS,
    required_in=("mm-stack-expand-vs-fault",)))

# -- known kernel bugs ----------------------------------------------------------------------
_BINDER_LEAK = (
    "known mainline bug: the -EBUSY loser's get_user_pages_remote() page reference is never "
    "dropped (drivers/android/binder_alloc.c; since d1716b4b78fb \"binder: concurrent page "
    "installation\", moved into binder_page_lookup by 9e2aa76549b9; see "
    "docs/findings/binder-page-lookup-leak.md)")
for _version in ("mainline", "llamas-2024", "hansen-p4"):
    # every version that keeps binder_page_lookup's get_user_pages_remote() inherits it
    expect_for_version("binder_install_single_page", _version, Expected(
        "invariant", _BINDER_LEAK, message="binder-page-references-balanced",
        required_in=("binder-install-race",)))
