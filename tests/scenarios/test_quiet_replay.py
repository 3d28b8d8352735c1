"""Quiet replays (the last execution's happens-before state, no race analysis and no per-step
checks within a replayed prefix) and locating broken invariants by their ops' own sites find
exactly what full replays that locate every broken invariant by running again find:
executions, outcomes, findings with their occurrences and minimal schedules."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmacheck.explore import modes
from vmacheck.kernel.variants import load_variant_file
from vmacheck.scenarios.catalogue import run

VARIANTS = Path(__file__).resolve().parent.parent / "variants"

CASES = [
    ("binder-shrink-fork", {"binder_alloc_free_page": "hansen-v2"}, None),
    ("binder-shrink-partial-munmap", {"binder_alloc_free_page": "hansen-v3"}, None),
    ("binder-install-race", {"binder_install_single_page": "llamas-2024"}, None),
    ("tcp-zerocopy-mprotect", {"find_tcp_vma": "hansen-p5",
                               "vma_start_read_unlocked": "posted"}, None),
    ("mm-ops-uffd-register-vs-fault", {"userfaultfd_set_ctx": "no-vma-start-write"},
     "userfaultfd_set_ctx_no_vma_start_write.py"),
    ("mm-munmap-waits-for-vma-reader", {}, None),
    ("binder-reclaim-readopt", {"binder_alloc_free_page": "hansen-v2"}, None),
]


def _summary(r: object) -> tuple[object, ...]:
    return (r.executions, r.blocked, r.complete, r.outcomes,  # type: ignore[attr-defined]
            [(f.kind, f.message, f.location, f.occurrences, f.minimal_schedule)
             for f in r.findings])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("scenario", "variants", "path"), CASES, ids=[c[0] for c in CASES])
def test_quiet_replays_find_what_full_replays_find(
        scenario: str, variants: dict[str, str], path: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if path is not None:
        load_variant_file(VARIANTS / path)
    quiet = run(scenario, variants)
    monkeypatch.setattr(modes, "REPLAY_QUIET", False)
    monkeypatch.setattr(modes, "LOCATE_ONCE", False)
    full = run(scenario, variants)
    assert _summary(quiet) == _summary(full)
    assert quiet.findings or scenario == "mm-munmap-waits-for-vma-reader"
