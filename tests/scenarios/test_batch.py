"""Running a check's plans: reused runs equal fresh explorations; -j N equals -j 1."""

from __future__ import annotations

from typing import Any

from vmacheck.scenarios.batch import differing, run_plans
from vmacheck.scenarios.catalogue import get
from vmacheck.scenarios.matrix import execute, seed_matrix


def _summary(run: Any) -> tuple[object, ...]:
    r = run.result
    return (run.scenario, tuple(sorted(run.variants.items())), r.complete, r.executions,
            r.blocked, r.steps, tuple((o.label, o.count, o.schedule) for o in r.outcomes),
            tuple((f.kind, f.message, f.location, f.minimal_schedule, f.occurrences)
                  for f in r.findings))


def _plans() -> list[Any]:
    return seed_matrix([get("binder-install-munmap")], {}, {})


def test_reused_run_equals_fresh_exploration() -> None:
    plans = _plans()
    runs, interrupted = run_plans(plans, {}, jobs=1)
    assert not interrupted
    reused = [i for i, r in enumerate(runs) if r.reused_from is not None]
    assert reused, "posted and fixed vma_start_read_unlocked differ only where not called"
    for i in reused:
        fresh = execute(plans[i])
        assert _summary(runs[i]) == _summary(fresh)
        source = next(r for r in runs if r.variants == runs[i].reused_from)
        assert not differing(plans[i], plans[runs.index(source)]) & source.called
    explored = [r for r in runs if r.reused_from is None]
    assert all(r.called for r in explored)


def test_a_version_that_is_called_is_never_reused() -> None:
    runs, _ = run_plans(_plans(), {}, jobs=1)
    p4 = [r for r in runs if r.variants["binder_install_single_page"] == "hansen-p4"]
    assert len(p4) == 2 and all(r.reused_from is None for r in p4)
    assert "vma_start_read_unlocked" in p4[0].called
    assert p4[0].result.kinds() != p4[1].result.kinds()


def test_parallel_runs_equal_sequential() -> None:
    plans = seed_matrix([get("binder-install-munmap"), get("binder-shrink-fork")], {}, {})
    one, _ = run_plans(plans, {}, jobs=1)
    two, _ = run_plans(plans, {}, jobs=2)
    assert [_summary(r) for r in one] == [_summary(r) for r in two]
    assert [r.reused_from for r in one] == [r.reused_from for r in two]
