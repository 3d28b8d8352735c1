"""A DPOR exploration split into work units gives the sequential explorer's results.

Units are made tiny (a few executions per slice) so that every exploration is split many
times, escaped races are inserted at coordinator nodes, and entries are rolled back; the
counts, outcome tables, finding keys and minimal schedules must still equal the sequential
run's, with no execution blocked by its sleep set.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks.dpor_programs import build, cases
from hypothesis import HealthCheck, given, settings
from tests.explore import test_choice as choice_cases

import vmacheck as vc
from vmacheck.explore import parallel, pool
from vmacheck.scenarios import catalogue

SMALL = cases(include_large=False)


@pytest.fixture
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 2)
    yield


def summary(r: vc.Result) -> tuple[Any, ...]:
    """What must not depend on the split.  A split run explores the same traces but may run
    another interleaving of one, so labels recorded in step order (``vc.label``) are compared
    as sets of parts."""
    outcomes: dict[str, int] = {}
    for o in r.outcomes:
        label = "; ".join(sorted(o.label.split("; ")))
        outcomes[label] = outcomes.get(label, 0) + o.count
    return (r.complete, r.executions, r.blocked, sorted(outcomes.items()),
            sorted((f.kind, f.message, f.minimal_schedule, f.occurrences) for f in r.findings))


@pytest.mark.parametrize(("program", "n", "published"), SMALL,
                         ids=[f"{p}-{n}" for p, n, _ in SMALL])
def test_two_worker_processes_match_the_sequential_explorer(
        tiny_slices: None, program: str, n: int, published: int) -> None:
    seq = vc.explore(build(program, n), max_steps=100_000)
    par = vc.explore(build(program, n), max_steps=100_000, workers=2)
    assert par.executions == published
    assert summary(par) == summary(seq)


def test_splitting_actually_happens_and_rollbacks_are_counted(
        tiny_slices: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "INLINE", True)
    r = vc.explore(build("lastzero", 5), workers=3, minimise=False)
    assert (r.executions, r.blocked) == (64, 0)
    stats = parallel.last_stats
    assert stats["splits"] > 0 and stats["units"] > 1 and stats["nodes"] > 0
    assert stats["inserted"] > 0
    # entries were handed out before an earlier sibling grew their wakeup subtree, rolled
    # back and run again: the count above is still exact
    assert stats["rollbacks"] > 0 and stats["discarded_executions"] > 0


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(choice_cases.programs)
def test_split_exploration_with_choices_matches_sequential(
        monkeypatch: pytest.MonkeyPatch, program: list[list[tuple[Any, ...]]]) -> None:
    monkeypatch.setattr(parallel, "INLINE", True)
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 1)
    logs: list[Any] = []
    model = choice_cases.build(program, logs)
    seq = vc.explore(model, minimise=False)
    par = vc.explore(model, workers=3, minimise=False)
    assert par.blocked == seq.blocked  # 0 unless a choice changes which ops run next
    assert summary(par) == summary(seq)


BINDER = [
    ("binder-shrink-munmap-strict", {}),
    ("binder-install-munmap", {}),
    ("binder-shrink-fork", {"binder_alloc_free_page": "hansen-v2"}),
]


@pytest.mark.parametrize(("scenario", "variants"), BINDER, ids=[s for s, _ in BINDER])
def test_binder_scenarios_split_match_sequential(
        scenario: str, variants: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 5)
    catalogue.load_all()
    seq = catalogue.run(scenario, variants)
    par = catalogue.run(scenario, variants, workers=2)
    assert par.complete and par.blocked == 0
    assert summary(par) == summary(seq)
    assert [o.label for o in par.outcomes] == [o.label for o in seq.outcomes]


def test_bad_combinations_are_refused() -> None:
    with pytest.raises(ValueError, match="dpor"):
        vc.explore(build("lastzero", 2), mode="random", max_executions=3, workers=2)
    with pytest.raises(ValueError, match="workers"):
        vc.explore(build("lastzero", 2), workers=0)


def test_a_forked_worker_killed_mid_run_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Units stay resident on their worker between slices; when the worker dies, what their
    slices found since the coordinator last had their frontier is discarded and they run
    again from it.  One worker (the first to get there) kills itself in its 15th slice."""
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 50)
    flag = str(tmp_path / "killed")
    calls = [0]
    run_slice = pool.run_slice

    def dying(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 15:
            try:
                os.close(os.open(flag, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return run_slice(*args, **kwargs)

    monkeypatch.setattr(pool, "run_slice", dying)
    seq = vc.explore(build("lastzero", 10), minimise=False)
    par = vc.explore(build("lastzero", 10), workers=2, minimise=False)
    assert os.path.exists(flag), "no worker was killed"
    assert summary(par) == summary(seq)
    assert parallel.last_stats["discarded_executions"] > 0
