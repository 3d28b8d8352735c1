"""One DPOR exploration split into work units across processes, a Dask cluster, or resumable
from a checkpoint file.

``explore(model, workers=N)`` runs the units in N forked processes (a fork inherits the model,
closures included); ``scheduler="tcp://HOST:PORT"`` (or ``"local"``) runs them on Dask
distributed (:mod:`vmacheck.explore.cluster`); ``checkpoint=PATH`` saves the frontier and the
tallies at intervals and resumes from the file when it exists.  The coordinator
(:class:`vmacheck.explore.frontier.Frontier`) hands out units, inserts the races that escape
them, and splits a unit's frontier when workers are idle.  Every unit runs in slices of about
``slice_seconds``; a slice's result counts only once it is back, so a lost slice is re-run.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from vmacheck.explore.findings import Outcome, Result
from vmacheck.explore.frontier import Frontier
from vmacheck.explore.lockdep import LockGraph
from vmacheck.explore.pool import ForkPool, WorkerLost
from vmacheck.explore.runner import Model
from vmacheck.explore.units import SliceResult, Tally, Unit, run_slice, schedule_text

last_stats: dict[str, int] = {}
"""Counters of the last split exploration in this process (units, splits, coordinator nodes,
escaped races inserted / covered, roll-backs and discarded executions), for benchmarks."""

SLICE_SECONDS = 1.0
"""How long a unit runs before it comes back to the coordinator (to be split, saved)."""
SLICE_EXECUTIONS: int | None = None
"""At most this many executions per slice (tests set it to force many small slices)."""

WANT = 2
"""A unit split for waiting workers hands out this many items per worker (some are tiny)."""
EAGER = False
"""Forked workers: when one waits, interrupt the busy ones (after ``units.MIN_SLICE``) so that
a unit comes back to be split at once, and run full slices otherwise.  Off: with the engine's
quiet replays (executions about 1.7x cheaper) the eager splits made many more speculative
units and roll-backs (lastzero(13): 100-345 units, 5,600-9,000 executions discarded, against
~95 units and 3,100-4,100 with short slices while workers wait)."""

CHECKPOINT_SECONDS = 5.0
"""How often the checkpoint file is rewritten."""
INLINE = False
"""Run the slices in this process even with ``workers > 1`` (tests: splitting without forks)."""

class Executor(Protocol):
    """Runs slices somewhere: ``submit`` returns a handle, ``wait`` the finished handles."""

    def submit(self, unit: Unit) -> Any: ...
    def wait(self, handles: list[Any]) -> list[Any]: ...
    def result(self, handle: Any) -> SliceResult: ...
    def close(self) -> None: ...


class Inline:
    """Runs each slice in this process, when it is submitted."""

    def __init__(self, model: Model, opts: dict[str, Any]) -> None:
        self.model = model
        self.opts = opts

    def submit(self, unit: Unit) -> Future[SliceResult]:
        f: Future[SliceResult] = Future()
        try:  # on a copy, as in a worker process: the coordinator's unit stays as handed out
            unit = pickle.loads(pickle.dumps(unit, pickle.HIGHEST_PROTOCOL))
            f.set_result(run_slice(self.model, unit, **self.opts))
        except BaseException as err:  # handed to the driver, which re-raises
            f.set_exception(err)
        return f

    def wait(self, handles: list[Any]) -> list[Any]:
        return list(handles)

    def result(self, handle: Any) -> SliceResult:
        return handle.result()  # type: ignore[no-any-return]

    def close(self) -> None:
        pass


def explore_split(model: Model, *, max_steps: int, max_executions: int | None,
                  max_seconds: float | None, minimise: bool, keep_log: bool,
                  progress: Callable[[Any], None] | None, progress_every: float,
                  workers: int, scheduler: str | None, checkpoint: str | None) -> Result:
    """The split exploration behind :func:`vmacheck.explore` (mode ``dpor`` only)."""
    from vmacheck.explore import checkpoint as ckpt
    from vmacheck.explore.api import Progress

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    frontier: Frontier | None = None
    if checkpoint is not None and os.path.exists(checkpoint):
        frontier = ckpt.load(checkpoint)
        frontier.requeue_running()
    frontier = frontier or Frontier()
    ran = resumed = frontier.ran
    opts: dict[str, Any] = {"max_steps": max_steps, "seconds": SLICE_SECONDS,
                            "max_executions": SLICE_EXECUTIONS, "keep_log": keep_log}
    executor: Executor
    if scheduler is not None:
        from vmacheck.explore.cluster import DaskExecutor

        dask = DaskExecutor(model, scheduler, workers, opts)
        workers = max(workers, dask.size())
        executor = dask
    elif workers > 1 and not INLINE:
        executor = ForkPool(model, workers, opts, resident=checkpoint is None)
    else:
        executor = Inline(model, opts)
    start = time.monotonic()
    last_report = last_save = start
    stop = "exhausted"
    inflight: dict[Any, Unit] = {}
    steps = 0
    found: set[object] = set()
    pool = executor if isinstance(executor, ForkPool) else None
    try:
        while True:
            counted = frontier.counted()
            budget_left = max_executions is None or counted < max_executions
            while budget_left and len(inflight) < workers:
                unit = frontier.take(pool.can_run if pool is not None else None,
                                     patient=bool(inflight))
                if unit is None:
                    break
                # short slices while workers wait for work (a slice's return is when its
                # unit can be split), long ones when there is plenty queued
                opts["seconds"] = SLICE_SECONDS if (pool is not None and EAGER) or \
                    frontier.ready() >= workers else SLICE_SECONDS / 4
                if max_executions is not None:  # no slice runs past the budget
                    left = max(max_executions - counted, 1)
                    opts["max_executions"] = min(SLICE_EXECUTIONS or left, left)
                inflight[executor.submit(unit)] = unit
            if frontier.deferred:  # workers have work: now insert the races they sent
                frontier.insert_escaped()
                if pool is not None:  # slices of units that were rolled back end early
                    pool.cancel([u for u in frontier.running if not frontier.live(u)])
                if len(inflight) < workers and frontier.pending():
                    continue
            if not inflight:
                if not budget_left:
                    stop = "max_executions"
                break
            if pool is not None and EAGER and len(inflight) < workers and budget_left:
                pool.interrupt()  # an idle worker: a unit comes back to be split
            for handle in executor.wait(list(inflight)):
                unit = inflight.pop(handle)
                try:
                    res = executor.result(handle)
                except WorkerLost as lost:  # its units run again from their last frontier
                    frontier.lose(lost.uids)
                    continue
                ran += res.tally.executions
                frontier.ran = ran
                steps += res.tally.steps
                found.update(res.tally.findings)
                idle = workers - len(inflight) - frontier.ready()
                if res.resident:  # the worker kept the frontier: ours is the one it had
                    frontier.finish(unit, res.tally, res.escaped, idle > 0 and workers > 1,
                                    WANT * workers, resident=True,
                                    fetch=pool.fetch if pool is not None else None)
                else:
                    frontier.finish(res.unit, res.tally, res.escaped,
                                    split=idle > 0 and workers > 1, want=WANT * workers)
                if pool is not None:
                    for uid in frontier.gone:
                        pool.drop(uid)
                frontier.gone.clear()
            now = time.monotonic()
            if checkpoint is not None and now - last_save >= CHECKPOINT_SECONDS:
                last_save = now
                ckpt.save(checkpoint, frontier)
            if progress is not None and now - last_report >= progress_every:
                last_report = now
                progress(Progress(frontier.counted(), len(found), now - start, steps,
                                  "dpor"))
            if max_seconds is not None and now - start >= max_seconds:
                stop = "max_seconds"
                break
    except KeyboardInterrupt:
        stop = "interrupted"
    finally:
        executor.close()
    for unit in inflight.values():
        frontier.running.setdefault(unit.uid, unit)
    if checkpoint is not None:
        if stop == "exhausted":
            ckpt.remove(checkpoint)
        else:
            ckpt.save(checkpoint, frontier)
    stats = {**frontier.stats(), "resumed_from": resumed}
    return finalise(model, frontier.tally(), stop, time.monotonic() - start, max_steps,
                    minimise and stop != "interrupted", stats)


def finalise(model: Model, tally: Tally, stop: str, seconds: float, max_steps: int,
             minimise: bool, stats: dict[str, int]) -> Result:
    """Minimise each finding from its first witness and build the :class:`Result`."""
    from vmacheck.explore import api

    seq = api._Tally(executions=tally.executions, blocked=tally.blocked, steps=tally.steps)
    for k, s in sorted(tally.findings.items(), key=lambda kv: kv[1].key):
        seq.findings[k] = api._Seen(s.raw, s.schedule, s.choices, s.tape, s.count)
    graph = LockGraph()
    for n, (ek, (chain, _, sched, choices)) in enumerate(
            sorted(tally.edges.items(), key=lambda kv: kv[1][1]), start=1):
        graph.edges[ek] = type(chain)(chain.held, chain.acquired, chain.thread, chain.held_at,
                                      chain.acquired_at, n)
        seq.edge_schedules[n] = (sched, choices)
    complete = stop == "exhausted"
    findings, _ = api._finalise_all(model, seq, max_steps, minimise, seconds, None, None,
                                    None, "dpor")
    findings.extend(api._lock_order_findings(graph, seq, model, max_steps))
    outcomes = tuple(Outcome(label, int(v[0]), schedule_text(v[1]))
                     for label, v in sorted(tally.outcomes.items()))
    log = tuple(text for _, text in sorted(tally.log))
    result = Result("dpor", complete, tally.executions, tally.blocked, tally.steps, seconds,
                    tuple(findings), outcomes, stop, log)
    last_stats.clear()
    last_stats.update(stats)
    return result
