"""Acceptance: the binder shrinker versions (binder_alloc_free_page@...) in the scenarios where
lock_vma_under_rcu fails transiently (fork, mprotect) and in the munmap/fork race."""

from __future__ import annotations

import pytest

from vmacheck.scenarios import binder  # noqa: F401 - registers the scenarios
from vmacheck.scenarios.catalogue import run
from vmacheck.scenarios.diff import diff_results, outcome_table

GIVEN_UP = "invariant violated: binder-no-page-given-up-while-mapped"
TRANSIENT = ("binder-shrink-fork", "binder-shrink-mprotect")


def shrink(scenario: str, version: str) -> object:
    return run(scenario, {"binder_alloc_free_page": version})


@pytest.mark.parametrize("scenario", TRANSIENT)
def test_v2_gives_up_a_page_the_binder_vma_still_maps(scenario: str) -> None:
    r = shrink(scenario, "hansen-v2")
    assert r.complete
    found = [f for f in r.findings if f.message == GIVEN_UP]
    assert len(found) == 1
    # and the page is still mapped by the binder VMA when every thread has finished
    assert any(f.message.endswith("binder-given-up-page-still-mapped-at-end")
               for f in r.findings)
    f = found[0]
    assert f.thread == "shrinker"
    assert f.minimal_schedule and f.context_switches <= 2
    ops = [(s.thread, s.op) for s in f.trace]
    writer = "fork" if scenario == "binder-shrink-fork" else "mprotect"
    # the writer write-locks the binder VMA first (excludes readers from vm_refcnt or sets
    # vm_lock_seq), so the shrinker's per-VMA lock fails ...
    first_writer = next(i for i, (t, op) in enumerate(ops) if t == writer and (
        "vm_lock_seq" in op or "EXCLUDE_READERS" in op))
    shrinker_ops = [i for i, (t, _) in enumerate(ops) if t == "shrinker"]
    assert shrinker_ops and first_writer < shrinker_ops[-1]
    # ... and it reclaims without ever zapping the PTE
    assert not any("zap" in op for t, op in ops if t == "shrinker")
    assert any(loc.function == "binder_free_page" for loc in f.trace[-1].stack)
    labels = r.outcome_labels()
    assert any("vma none, mapped unread, reclaim without zap" in k for k in labels)


@pytest.mark.parametrize("scenario", TRANSIENT)
@pytest.mark.parametrize("version", ["mainline", "hansen-v1"])
def test_mainline_and_v1_never_give_up_a_mapped_page(scenario: str, version: str) -> None:
    r = shrink(scenario, version)
    assert r.complete
    assert r.findings == ()
    assert not any("reclaim without zap" in k for k in r.outcome_labels())


def test_v2_against_v1_diff_names_the_bad_outcome() -> None:
    d = diff_results(shrink("binder-shrink-fork", "hansen-v2"),
                     shrink("binder-shrink-fork", "hansen-v1"))
    assert d.complete
    assert any("reclaim without zap" in k for k in d.outcomes_only_a)
    assert any("skip (no vma lock)" in k for k in d.outcomes_only_b)
    assert "invariant" in d.kinds_only_a
    assert set(d.findings_only_a) == {
        f"invariant: {GIVEN_UP}",
        "invariant: invariant violated: binder-given-up-page-still-mapped-at-end"}


def test_outcome_tables_v2_v3_munmap_fork() -> None:
    """The shrinker's outcome table where munmap, fork and the shrinker race."""
    v2 = dict(outcome_table(shrink("binder-shrink-munmap-fork", "hansen-v2"),
                            prefix="shrink page"))
    v3 = dict(outcome_table(shrink("binder-shrink-munmap-fork", "hansen-v3"),
                            prefix="shrink page"))
    assert set(v2) == {
        "shrink page 0: vma found, mapped true, reclaim with zap",
        "shrink page 0: vma none, mapped unread, reclaim without zap",
    }
    assert set(v3) == {
        "shrink page 0: vma found, mapped true, reclaim with zap",
        "shrink page 0: vma none, mapped false, reclaim without zap",
        "shrink page 0: vma none, mapped true, skip (vma inconsistent)",
    }


@pytest.mark.parametrize("version", ["mainline", "hansen-v1", "hansen-v2", "hansen-v3"])
def test_shrinker_never_sleeps_under_the_lru_lock(version: str) -> None:
    for scenario in ("binder-shrink-munmap-fork", "binder-shrink-partial-munmap"):
        r = shrink(scenario, version)
        assert "sleep-in-atomic" not in r.kinds()
        assert "deadlock" not in r.kinds()


def test_strict_check_shows_the_benign_munmap_window_of_mainline() -> None:
    """S7: the pre-series shrinker reclaims without zap once munmap took the VMA out of the
    tree; only the opt-in strict check (any PTE, detached VMAs included) reports it."""
    r = shrink("binder-shrink-munmap-strict", "mainline")
    assert [f.message for f in r.findings] == [
        "invariant violated: binder-no-page-given-up-while-any-pte-maps-it"]
    assert shrink("binder-shrink-munmap", "mainline").findings == ()
    assert shrink("binder-shrink-munmap-strict", "hansen-v1").findings == ()
