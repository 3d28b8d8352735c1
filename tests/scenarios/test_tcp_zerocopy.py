"""Acceptance: find_tcp_vma versions, and the wait helper's versions through TCP."""

from __future__ import annotations

import pytest

from vmacheck.scenarios import tcp  # noqa: F401 - registers the scenarios
from vmacheck.scenarios.catalogue import run

SCENARIOS = ("tcp-zerocopy-munmap", "tcp-zerocopy-mprotect", "tcp-zerocopy-fork",
             "tcp-zerocopy-madvise")


@pytest.mark.parametrize("scenario", ("tcp-zerocopy-mprotect", "tcp-zerocopy-fork",
                                      "tcp-zerocopy-munmap"))
def test_p5_with_posted_helper_dereferences_null(scenario: str) -> None:
    r = run(scenario, {"find_tcp_vma": "hansen-p5", "vma_start_read_unlocked": "posted"})
    assert r.complete
    nulls = r.by_kind("null-deref")
    assert len(nulls) == 1 and nulls[0].thread == "receive"
    stack = [loc.function for loc in nulls[0].trace[-1].stack]
    assert "_find_tcp_vma_hansen_p5" in stack and "vma_start_read_unlocked_posted" in stack


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("version", ["mainline", "hansen-p5"])
def test_find_tcp_vma_clean(scenario: str, version: str) -> None:
    r = run(scenario, {"find_tcp_vma": version, "vma_start_read_unlocked": "fixed"})
    assert r.complete
    assert r.findings == ()
    labels = r.outcome_labels()
    if version == "hansen-p5":
        assert not any("under mmap lock" in k for k in labels)


def test_mainline_falls_back_to_mmap_lock_while_vma_write_locked() -> None:
    r = run("tcp-zerocopy-mprotect", {"find_tcp_vma": "mainline"})
    assert any("under mmap lock" in k for k in r.outcome_labels())
    assert any("under vma lock" in k for k in r.outcome_labels())
