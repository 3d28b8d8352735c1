"""Running a check's plans: each distinct behaviour explored once, on several processes.

A run records which versioned model functions its executions called
(:data:`vmacheck.kernel.variants.CALLED`).  Two plans of one scenario and configuration whose
versions differ only in functions that no execution of the first called behave identically
(the model never reaches the code that differs), so the second is reported with the first's
result, marked ``reused_from``, instead of being explored again.

The decision is the same however many processes run the plans: plan *i* reuses the earliest
earlier plan that covers it, and is decided only once every earlier plan that might cover it
has finished.  An earlier plan is known not to cover *i* before it finishes when one execution
of it (a probe, the default interleaving) already called a function whose version differs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

from vmacheck.explore.runner import follow, run_one
from vmacheck.kernel.variants import CALLED, REGISTRY, Selection, select
from vmacheck.scenarios.catalogue import ScenarioRun
from vmacheck.scenarios.matrix import Plan, execute, shown_variants

_PLANS: list[Plan] = []
_OPTIONS: dict[str, Any] = {}


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover (not Linux)
        return max(os.cpu_count() or 1, 1)


def _version(plan: Plan, fn: str) -> str:
    if fn in plan.variants:
        return plan.variants[fn]
    k = REGISTRY.get(fn)
    return k.default if k is not None else ""


def differing(a: Plan, b: Plan) -> set[str]:
    """The functions whose selected versions differ between two plans."""
    return {fn for fn in set(a.variants) | set(b.variants) if _version(a, fn) != _version(b, fn)}


def _group(plan: Plan) -> tuple[str, tuple[tuple[str, bool], ...]]:
    return plan.scenario.name, tuple(sorted(plan.config.items()))


def probe(plan: Plan, max_steps: int | None = None) -> frozenset[str]:
    """The versioned functions one execution of ``plan`` (its default interleaving) calls: a
    subset of what its exploration calls."""
    CALLED.clear()
    with select(Selection(plan.variants, plan.config)):
        ex, _, _ = run_one(plan.scenario.build, follow([]),
                           max_steps=max_steps or plan.scenario.max_steps)
        ex.close()
    return frozenset(CALLED)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(index: int) -> tuple[int, ScenarioRun]:
    return index, execute(_PLANS[index], **_OPTIONS)


class _Batch:
    """The reuse bookkeeping of one list of plans."""

    def __init__(self, plans: list[Plan], max_steps: int | None) -> None:
        self.plans = plans
        self.max_steps = max_steps
        self.runs: dict[int, ScenarioRun] = {}
        self.running: set[int] = set()
        self._probes: dict[int, frozenset[str]] = {}
        self._diff: dict[tuple[int, int], set[str]] = {}

    def _probe(self, j: int) -> frozenset[str]:
        if j not in self._probes:
            self._probes[j] = probe(self.plans[j], self.max_steps)
        return self._probes[j]

    def _d(self, i: int, j: int) -> set[str]:
        key = (i, j)
        if key not in self._diff:
            self._diff[key] = differing(self.plans[i], self.plans[j])
        return self._diff[key]

    def decide(self, i: int) -> str | int:
        """``"wait"``, ``"run"``, or the index of the explored run whose result plan ``i``
        reuses."""
        group = _group(self.plans[i])
        earlier = [j for j in range(i) if _group(self.plans[j]) == group]
        for j in earlier:
            if j not in self.runs and self._d(i, j) & self._probe(j) == set():
                return "wait"
        for j in earlier:
            run = self.runs.get(j)
            if run is not None and not self._d(i, j) & run.called:
                return j
        return "run"

    def reuse(self, i: int, j: int) -> None:
        source = self.runs[j]
        plan = self.plans[i]
        origin = source.reused_from or source.variants
        self.runs[i] = replace(source, variants=shown_variants(plan), config=plan.config,
                               reused_from=dict(origin))


def run_plans(plans: list[Plan], options: dict[str, Any], *, jobs: int = 1,
              on_start: Callable[[Plan], None] | None = None,
              on_done: Callable[[ScenarioRun], None] | None = None,
              on_progress: Callable[[Any], None] | None = None,
              ) -> tuple[list[ScenarioRun], bool]:
    """Explore ``plans`` (reusing results where versions cannot matter) on ``jobs``
    processes; returns the runs in plan order and whether the user interrupted.  (Splitting
    one exploration across processes is asked for separately, with ``workers=``: measured,
    it is not faster on two cores yet.)"""
    batch = _Batch(plans, options.get("max_steps"))
    interrupted = False
    try:
        if jobs <= 1 or len(plans) <= 1:
            interrupted = _inline(batch, options, on_start, on_done, on_progress)
        else:
            interrupted = _pooled(batch, options, jobs, on_done)
    except KeyboardInterrupt:
        interrupted = True
    return [batch.runs[i] for i in sorted(batch.runs)], interrupted


def _pending(batch: _Batch) -> list[int]:
    return [i for i in range(len(batch.plans)) if i not in batch.runs and i not in batch.running]


def _inline(batch: _Batch, options: dict[str, Any],
            on_start: Callable[[Plan], None] | None,
            on_done: Callable[[ScenarioRun], None] | None,
            on_progress: Callable[[Any], None] | None) -> bool:
    for i in range(len(batch.plans)):
        d = batch.decide(i)
        assert d != "wait"  # every earlier plan has finished
        if isinstance(d, int):
            batch.reuse(i, d)
        else:
            if on_start is not None:
                on_start(batch.plans[i])
            batch.runs[i] = execute(batch.plans[i], on_progress=on_progress, **options)
        if on_done is not None:
            on_done(batch.runs[i])
        if batch.runs[i].result.stop_reason == "interrupted":
            return True
    return False


def _pooled(batch: _Batch, options: dict[str, Any], jobs: int,
            on_done: Callable[[ScenarioRun], None] | None) -> bool:
    global _OPTIONS
    _PLANS[:] = batch.plans
    _OPTIONS = dict(options)
    context = multiprocessing.get_context("fork")
    futures: dict[Future[tuple[int, ScenarioRun]], int] = {}
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_ignore_sigint) as pool:
        try:
            while len(batch.runs) < len(batch.plans):
                for i in _pending(batch):
                    d = batch.decide(i)
                    if isinstance(d, int):
                        batch.reuse(i, d)
                        if on_done is not None:
                            on_done(batch.runs[i])
                    elif d == "run" and len(futures) < jobs:
                        batch.running.add(i)
                        futures[pool.submit(_work, i)] = i
                if not futures:
                    continue
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    futures.pop(fut)
                    i, run = fut.result()
                    batch.running.discard(i)
                    batch.runs[i] = run
                    if on_done is not None:
                        on_done(run)
        except KeyboardInterrupt:
            for fut in futures:
                fut.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            return True
    return False
