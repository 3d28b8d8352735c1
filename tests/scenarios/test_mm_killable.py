"""``*_killable`` lock variants return -EINTR when a fatal signal arrives (an explored
branch, ``FATAL_SIGNALS``), and leave nothing held or half-done."""

from __future__ import annotations

from vmacheck.scenarios import catalogue

SCENARIO = "mm-killable-writer-vs-readers"


def test_both_killable_waits_are_interrupted_in_some_execution_and_all_is_clean() -> None:
    r = catalogue.run(SCENARIO)
    assert r.complete and not r.findings
    labels = set(r.outcome_labels())
    assert {"writer: killed in mmap_write_lock_killable",
            "writer: killed in vma_start_write_killable",
            "writer: write-locked A"} <= labels


def test_without_fatal_signals_the_writer_always_gets_its_locks() -> None:
    r = catalogue.run(SCENARIO, config={"FATAL_SIGNALS": False})
    assert r.complete and not r.findings
    assert set(r.outcome_labels()) == {"writer: write-locked A"}
