"""Optimal DPOR runs exactly the published number of traces on the classic benchmarks."""

from __future__ import annotations

import pytest
from benchmarks.dpor_programs import build, cases, lastzero, philosophers, readers

import vmacheck as vc

SMALL = cases(include_large=False)


@pytest.mark.parametrize(("program", "n", "published"), SMALL,
                         ids=[f"{p}-{n}" for p, n, _ in SMALL])
def test_published_trace_count(program: str, n: int, published: int) -> None:
    r = vc.explore(build(program, n), max_steps=100_000, minimise=False)
    assert r.complete and r.stop_reason == "exhausted"
    assert r.executions == published
    assert r.blocked == 0


def test_sharp_cases() -> None:
    # source-DPOR without wakeup trees: 33 sleep-set-blocked runs on lastzero(5)
    r = vc.explore(lastzero(5), minimise=False)
    assert (r.executions, r.blocked) == (64, 0)
    # classic persistent-set DPOR: 314 executions on readers(6)
    r = vc.explore(readers(6), minimise=False)
    assert (r.executions, r.blocked) == (64, 0)
    # each trace is a different outcome: every reader sees 0 or 42 independently
    assert len(r.outcome_labels()) == 64
    assert all(count == 1 for count in r.outcome_labels().values())


@pytest.mark.parametrize("n", [2, 3, 4])
def test_naive_philosophers_have_exactly_one_deadlocking_trace(n: int) -> None:
    r = vc.explore(philosophers(n), minimise=False)
    deadlocks = r.by_kind("deadlock")
    assert len(deadlocks) == 1
    assert deadlocks[0].occurrences == 1
    assert sorted(deadlocks[0].extra["cycle"]) == [f"p{i}" for i in range(n)]
    # the one deadlocking trace: every philosopher holds its left fork
    rep = vc.replay(philosophers(n), deadlocks[0].schedule)
    assert sorted(step.thread for step in rep.trace) == [f"p{i}" for i in range(n)]
    assert any(f.kind == "deadlock" for f in rep.findings)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_ordered_philosophers_never_deadlock(n: int) -> None:
    r = vc.explore(philosophers(n, ordered=True), minimise=False)
    assert r.complete
    assert r.findings == ()


def test_counter_outcomes() -> None:
    unlocked = vc.explore(build("counter-unlocked", 3), minimise=False)
    assert set(unlocked.outcome_labels()) == {"x=1", "x=2", "x=3"}
    locked = vc.explore(build("counter-locked", 3), minimise=False)
    assert locked.outcome_labels() == {"x=3": 6}


def test_lastzero_outcomes_match_trace_structure() -> None:
    r = vc.explore(lastzero(3), minimise=False)
    labels = r.outcome_labels()
    assert sum(labels.values()) == 12
    # the scanner always finds a zero; a[0] is never written
    assert all("zero at" in label for label in labels)
