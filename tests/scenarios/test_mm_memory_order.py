"""Memory-ordering scenarios: the weak model finds the orderings b1f02b95758d fixed and the
binder page publication's release, and nothing when the kernel's orderings are in place;
under sequential consistency both are clean whatever the orderings."""

from __future__ import annotations

import pytest

from vmacheck.explore.runner import replay
from vmacheck.kernel.variants import Selection, select
from vmacheck.scenarios.catalogue import get, run
from vmacheck.scenarios.mm_memory_order import PAGE_SETUP, UFFD_ORDER

PRE_FIX = {"v6.5:vma_end_write_all": "pre-b1f02b95758d", "v6.5:vma_start_read": "pre-b1f02b95758d"}
NO_RELEASE = {"binder_set_installed_page": "no-release"}


def test_pre_b1f02b95758d_reader_uses_the_vma_with_old_flags() -> None:
    r = run("mm-uffd-vma-lock-order", PRE_FIX, memory_model="weak")
    assert r.complete
    assert [(f.kind, f.message) for f in r.findings] == [
        ("assertion", f"WARN_ON({UFFD_ORDER})")]
    f = r.findings[0]
    # the writer's whole write section, then the reader, whose flags load reads the older
    # of the two vm_flags stores (choice 1)
    assert f.minimal_schedule == "0*11,1*7,1:1,1*2"
    assert f.thread == "fault"
    assert "fault: vma lock (saw vm_lock_seq=0 mm_lock_seq=1)" in r.outcome_labels()
    with select(Selection(PRE_FIX)):
        rep = replay(get("mm-uffd-vma-lock-order").build, f.minimal_schedule,
                     memory_model="weak")
    assert [x.kind for x in rep.findings] == ["assertion"]
    assert rep.trace[18].op == "load vma.vm_flags"  # step 19, the one that chose 1


@pytest.mark.parametrize(("variants", "memory_model"), [
    ({}, "weak"), ({}, "sc"), (PRE_FIX, "sc")])
def test_uffd_vma_lock_order_clean(variants: dict[str, str], memory_model: str) -> None:
    r = run("mm-uffd-vma-lock-order", variants, memory_model=memory_model)
    assert r.complete and r.findings == ()
    # the reader does get the VMA lock in some executions (before the writer's section)
    assert "fault: vma lock (saw vm_lock_seq=-1 mm_lock_seq=0)" in r.outcome_labels()


def test_binder_page_published_without_release_is_found() -> None:
    r = run("binder-install-publish", NO_RELEASE, memory_model="weak")
    assert r.complete
    assert [(f.kind, f.message) for f in r.findings] == [("assertion", f"WARN_ON({PAGE_SETUP})")]
    assert r.findings[0].minimal_schedule == "0*29,1,1:1"


@pytest.mark.parametrize(("variants", "memory_model"), [
    ({}, "weak"), ({}, "sc"), (NO_RELEASE, "sc")])
def test_binder_install_publish_clean(variants: dict[str, str], memory_model: str) -> None:
    r = run("binder-install-publish", variants, memory_model=memory_model)
    assert r.complete and r.findings == ()
    assert any("lookup: page 0 installed, metadata set" in o for o in r.outcome_labels())


@pytest.mark.parametrize("name", ["mm-munmap-waits-for-vma-reader", "mm-rcu-sync-read",
                                  "mm-rcu-locked-vma-pointer", "bpf-stackmap-munmap"])
def test_kernel_scenarios_stay_clean_under_weak(name: str) -> None:
    """Lockless readers that re-walk after reading an old VMA tree (a wait loop whose value
    was stale, though the thread has since seen newer stores) go round again: no false
    deadlock, and the kernel's orderings keep these scenarios clean."""
    sc = run(name)
    weak = run(name, memory_model="weak")
    assert weak.complete and weak.findings == () and sc.findings == ()
    assert weak.memory_model == "weak" and sc.memory_model == "sc"
    assert weak.executions >= sc.executions
