"""The mm operations (merge/expand, mremap, madvise, userfaultfd, /proc readers): clean at
mainline, and each planted bug (a variant file dropping one VMA lock the kernel takes) found
with its kind and minimal schedule."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import pytest

from vmacheck.explore import replay
from vmacheck.kernel.variants import Selection, load_variant_file, select
from vmacheck.scenarios import catalogue

sys.path.insert(0, str(Path(__file__).parent))
from mm_helpers import BEFORE_OFF, BEFORE_ON, run_mm

VARIANTS = Path(__file__).resolve().parents[1] / "variants"

OPS_SCENARIOS = [s.name for s in catalogue.all_scenarios() if s.name.startswith("mm-ops-")]


@functools.cache
def mainline(name: str) -> Any:
    """The exhaustive run of ``name`` at mainline (shared by the tests of this module)."""
    return run_mm(name)


def test_every_operation_has_scenarios() -> None:
    assert len(OPS_SCENARIOS) >= 16
    for op in ("mremap", "madvise", "uffd-register", "uffd-copy", "uffd-move", "proc-maps",
               "procmap-query"):
        assert any(op in name for name in OPS_SCENARIOS), op
    for racer in ("fault", "munmap"):
        assert sum(name.endswith(f"-vs-{racer}") or f"-vs-{racer}-" in name
                   for name in OPS_SCENARIOS) >= 5


@pytest.mark.parametrize("name", OPS_SCENARIOS)
def test_mainline_is_clean(name: str) -> None:
    r = mainline(name)
    assert r.findings == (), [(f.kind, f.message) for f in r.findings]
    assert r.executions > 1


@pytest.mark.parametrize("name", ["mm-ops-mremap-vs-fault", "mm-ops-madvise-vs-munmap",
                                  "mm-ops-proc-maps-vs-munmap", "mm-ops-uffd-move-vs-munmap"])
@pytest.mark.parametrize("config", [BEFORE_ON, BEFORE_OFF])
def test_clean_in_the_older_configurations(name: str, config: dict[str, bool]) -> None:
    assert run_mm(name, config).findings == ()


def test_mremap_fault_outcomes() -> None:
    labels = set(mainline("mm-ops-mremap-vs-fault").outcome_labels())
    assert labels == {"mremap=0x8000; fault=0; pages 0x8000,0x9000",
                      "mremap=0x8000; fault=64; pages 0x8000"}


def test_madvise_runs_under_the_vma_lock_or_falls_back() -> None:
    assert set(mainline("mm-ops-madvise-vs-munmap").outcome_labels()) == {
        "madvise=-12; pages ", "madvise=0; pages "}
    labels = set(mainline("mm-ops-madvise-vs-fault").outcome_labels())
    assert {"fault=0; madvise=0; pages ", "madvise=0; fault=0; pages 0x2000"} <= labels


def test_uffd_move_and_copy_outcomes() -> None:
    assert set(mainline("mm-ops-uffd-move-vs-munmap").outcome_labels()) == {
        "move=-2; pages ", "move=4096; pages "}
    assert set(mainline("mm-ops-uffd-copy-vs-munmap").outcome_labels()) == {
        "copy=-2; pages ", "copy=4096; pages "}


def test_maps_reader_may_show_a_moved_vma_twice_but_sorted() -> None:
    labels = set(mainline("mm-ops-proc-maps-vs-mremap").outcome_labels())
    assert "maps: 0x1000-0x2000 0x3000-0x4000 0x6000-0x7000" in labels
    assert "maps: 0x1000-0x2000 0x6000-0x7000" in labels


# (scenario, variant file, function@version, kind, message part, minimal schedule,
#  ordered (thread, op part) steps the minimal trace must contain)
PLANTED = [
    ("mm-ops-mremap-vs-fault", "move_vma_no_vma_start_write.py",
     "move_vma@no-vma-start-write", "invariant", "has its page moved", "0*31,1*20,0*21",
     [("mremap", "move_ptes 0x6000 -> 0x9000"), ("fault", "cas mm.pte[6] None->page"),
      ("mremap", "zap_pte_range mm [0x5000, 0x7000)")]),
    ("mm-ops-mremap-merge-vs-fault", "vma_expand_no_target_lock.py",
     "vma_expand@no-target-lock", "invariant", "vma fields stable", "1*6,0*18",
     [("fault on A", "vma_start_read: seq recheck"), ("mremap", "vma_set_range vma0")]),
    ("mm-ops-uffd-register-merge-vs-fault", "vma_merge_existing_range_no_prev_lock.py",
     "vma_merge_existing_range@no-prev-lock", "invariant", "vma fields stable", "1*6,0*19",
     [("fault on A", "vma_start_read: seq recheck"), ("register B", "vma_set_range vma0")]),
    ("mm-ops-madvise-vs-munmap", "try_vma_read_lock_no_vma_start_read.py",
     "try_vma_read_lock@no-vma-start-read", "use-after-free",
     "madvise_dontneed_free_valid_vma touches vma0.vm_flags", "0*5,1*28,0",
     [("madvise", "load mm.mm_mt"), ("munmap A", "free vma0"),
      ("madvise", "madvise_dontneed_free_valid_vma")]),
    ("mm-ops-uffd-register-vs-fault", "userfaultfd_set_ctx_no_vma_start_write.py",
     "userfaultfd_set_ctx@no-vma-start-write", "invariant", "vma fields stable", "1*6,0*8",
     [("fault on B", "vma_start_read: seq recheck"), ("register", "store vma0.vm_flags")]),
    ("mm-ops-uffd-copy-vs-munmap", "uffd_lock_vma_no_vma_start_read_locked.py",
     "uffd_lock_vma@no-vma-start-read-locked", "use-after-free",
     "validate_dst_vma touches vma0.vm_flags", "0*20,1*26,0",
     [("UFFDIO_COPY", "up_read mm.mmap_lock"), ("munmap B", "free vma0"),
      ("UFFDIO_COPY", "validate_dst_vma")]),
    ("mm-ops-uffd-move-vs-munmap-src", "uffd_move_lock_src_unlocked.py",
     "uffd_move_lock@src-unlocked", "use-after-free",
     "validate_move_areas touches vma0.vm_flags", "0*13,1*28,0",
     [("munmap S", "free vma0"), ("UFFDIO_MOVE", "validate_move_areas")]),
    ("mm-ops-uffd-move-vs-munmap", "uffd_move_lock_src_uffd_lock_vma.py",
     "uffd_move_lock@src-uffd-lock-vma", "deadlock", "wait-for cycle", "1*7,0*16,1*8",
     [("UFFDIO_MOVE", "vma_start_read: seq recheck"), ("UFFDIO_MOVE", "down_read mm.mmap_lock"),
      ("munmap S..D", "store vma0.vm_lock_seq"),
      ("munmap S..D", "EXCLUDE_READERS_FLAG) vma1.vm_refcnt")]),
    ("mm-ops-proc-maps-vs-munmap", "lock_next_vma_no_vma_start_read.py",
     "lock_next_vma@no-vma-start-read", "use-after-free", "show_map_vma vma1 touches",
     "0*4,1*20,0", [("munmap B", "free vma1"), ("cat maps", "show_map_vma vma1")]),
    ("mm-ops-procmap-query-vs-munmap", "lock_next_vma_no_vma_start_read.py",
     "lock_next_vma@no-vma-start-read", "use-after-free", "show_map_vma vma1 touches",
     "0*3,1*18,0", [("munmap B", "free vma1"), ("PROCMAP_QUERY", "show_map_vma vma1")]),
    # not a lock: a split that does not link the new VMA to the anon_vma (rmap invariant)
    ("mm-ops-split-anon-vs-fault", "anon_vma_clone_no_link.py", "anon_vma_clone@no-link",
     "invariant", "rmap: every mapped anonymous page", "0*19,1*26",
     [("fault", "cas mm.pte[2] None->page"),
      ("munmap first page", "vma_set_range vma0 [0x1000, 0x2000)")]),
]


@pytest.mark.parametrize(("scenario", "path", "selected", "kind", "part", "schedule", "steps"),
                         PLANTED, ids=[p[2] + ":" + p[0] for p in PLANTED])
def test_planted_bug_is_found(scenario: str, path: str, selected: str, kind: str, part: str,
                              schedule: str, steps: list[tuple[str, str]]) -> None:
    ids = load_variant_file(VARIANTS / path)
    assert selected in ids or ids == []
    fn, version = selected.split("@")
    r = run_mm(scenario, variants={fn: version})
    hits = [f for f in r.findings if f.kind == kind and part in f.message]
    assert hits, [(f.kind, f.message) for f in r.findings]
    found = hits[0]
    assert found.minimal_schedule == schedule
    # a real trace: replaying the minimal schedule reproduces the finding, and the steps
    # that make the race happen appear in this order, from both threads
    s = catalogue.get(scenario)
    with select(Selection({fn: version}, dict(s.config))):
        again = replay(s.build, schedule, max_steps=s.max_steps)
    assert any(f.kind == kind and f.message == found.message for f in again.findings)
    ops = [(st.thread, st.op) for st in found.trace]
    at = 0
    for thread, op in steps:
        at = next(i for i in range(at, len(ops)) if ops[i][0] == thread and op in ops[i][1])
    assert len({t for t, _ in ops}) == 2


def test_anon_vma_prepare_race_installs_one_anon_vma() -> None:
    labels = set(mainline("mm-ops-anon-prepare-vs-fault").outcome_labels())
    assert {label.rsplit("; ", 1)[1] for label in labels} == {"anon_vma anon_vma0",
                                                              "anon_vma anon_vma1"}
    assert set(mainline("mm-ops-split-anon-vs-fault").outcome_labels()) == {
        "fault=0; anon_vma anon_vma0"}


def test_at_least_eight_planted_bugs_across_the_operations() -> None:
    lock_drops = [p for p in PLANTED if p[2] != "anon_vma_clone@no-link"]
    assert len({p[2] for p in lock_drops}) >= 8
    functions = {p[2].split("@")[0] for p in PLANTED}
    assert {"move_vma", "vma_expand", "vma_merge_existing_range", "try_vma_read_lock",
            "userfaultfd_set_ctx", "uffd_lock_vma", "uffd_move_lock",
            "lock_next_vma"} <= functions


def test_binder_shrinker_and_madvise_share_the_vma_read_lock() -> None:
    r = run_mm("binder-shrink-madvise")
    assert r.findings == ()
    assert all("reclaim with zap" in x for x in r.outcome_labels())


def test_binder_mapping_moved_by_mremap_keeps_a_page_binder_gave_up() -> None:
    # expected finding (see the scenario's doc): after mremap the old VMA is closed and the
    # page is mapped at the new address; the shrinker reclaims it without a zap
    r = run_mm("binder-shrink-mremap")
    assert r.kinds() == {"invariant"}
    given_up = [f for f in r.findings
                if f.message == "invariant violated: binder-no-page-given-up-while-mapped"]
    # mremap's copy takes a vm_file reference (get_file) and remove_vma drops the old one
    assert given_up and given_up[0].minimal_schedule == "1*44,0*20"
    ops = [(s.thread, s.op) for s in given_up[0].trace]
    moved = next(i for i, (t, op) in enumerate(ops)
                 if t == "mremap" and "move_ptes 0x4000 -> 0x8000" in op)
    assert any(t == "shrinker" for t, _ in ops[moved:])
    assert "mremap=0x8000; shrink page 0: vma none, mapped unread, reclaim without zap; " \
           "pages 0:0:1" in r.outcome_labels()
