"""Sampling modes: PCT finds a depth-2 ordering bug in a long 3-thread model within 1,000
runs; random walk works too; both are seeded and deterministic."""

from __future__ import annotations

from typing import Any

import vmacheck as vc

NOISE = 50  # private steps per thread, on top of the few shared ones


def depth2_model() -> list[Any]:
    """An atomicity violation of depth 2: the user checks ``ptr`` (1), the closer clears it
    (2), the user dereferences it (3).  Two ordering constraints, (1) before (2) before (3),
    buried in 50+ independent steps per thread."""
    ptr = vc.Var("ptr", "buffer")
    scratch = [vc.Var(f"scratch{t}", 0) for t in range(3)]

    async def noise(t: int, n: int) -> None:
        for i in range(n):
            await scratch[t].store(i)

    async def user() -> None:
        await noise(0, NOISE // 2)
        if await ptr.load() is not None:  # (1) check
            await noise(0, 3)
            p = await ptr.load()  # (3) use
            vc.BUG_ON(p is None, "ptr cleared between check and use")
        await noise(0, NOISE // 2)

    async def closer() -> None:
        await noise(1, NOISE // 2)
        await ptr.store(None)  # (2) clear
        await noise(1, NOISE // 2)

    async def bystander() -> None:
        await noise(2, NOISE + 3)

    return [("user", user()), ("closer", closer()), ("bystander", bystander())]


def steps_per_thread() -> list[int]:
    r = vc.replay(depth2_model, "")
    counts = [0, 0, 0]
    for step in r.trace:
        counts[step.tid] += 1
    return counts


def first_hit(r: vc.Result) -> int:
    """1-based index of the first execution that hit the bug."""
    f = r.by_kind("assertion")[0]
    return r.execution_log.index(f.schedule) + 1


def test_model_is_long_enough_and_needs_two_orderings() -> None:
    assert all(n >= 50 for n in steps_per_thread())
    # the default (non-preemptive) schedule and one preemption after the check are safe ...
    assert not vc.replay(depth2_model, "").findings
    # ... the bug needs the closer to run inside the user's window
    hit = vc.replay(depth2_model, f"0*{NOISE // 2 + 1},1*{NOISE // 2 + 1},0*4")
    assert [f.kind for f in hit.findings] == ["assertion"]


def test_pct_depth2_finds_the_bug_within_1000_runs() -> None:
    r = vc.explore(depth2_model, mode="pct", pct_depth=2, seed=1, max_executions=1000,
                   minimise=False, keep_log=True)
    f = r.by_kind("assertion")
    assert len(f) == 1 and f[0].thread == "user"
    assert "between check and use" in f[0].message
    assert first_hit(r) <= 1000
    assert not r.complete and r.stop_reason == "max_executions" and r.executions == 1000


def test_pct_is_reliable_across_seeds() -> None:
    found = 0
    for seed in range(5):
        r = vc.explore(depth2_model, mode="pct", pct_depth=2, seed=seed, max_executions=1000,
                       minimise=False)
        found += bool(r.by_kind("assertion"))
    assert found >= 4


def test_random_walk_finds_the_bug() -> None:
    r = vc.explore(depth2_model, mode="random", seed=1, max_executions=1000, minimise=False,
                   keep_log=True)
    assert r.by_kind("assertion")
    assert r.stop_reason == "max_executions" and not r.complete
    assert len(set(r.execution_log)) > 900  # it really samples different interleavings


def test_sampling_is_seeded_and_deterministic() -> None:
    for mode in ("pct", "random"):
        runs = [vc.explore(depth2_model, mode=mode, seed=seed, max_executions=100,
                           minimise=False, keep_log=True) for seed in (7, 7, 8)]
        assert runs[0].execution_log == runs[1].execution_log
        assert runs[0].execution_log != runs[2].execution_log
        assert [f.schedule for f in runs[0].findings] == [f.schedule for f in runs[1].findings]
