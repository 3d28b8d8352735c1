"""The explorer's entry point: run a strategy under budgets and collect a :class:`Result`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from vmacheck.explore.findings import Finding, Outcome, RawFinding, Result, ThreadSnapshot
from vmacheck.explore.lockdep import LockGraph
from vmacheck.explore.modes import Run, dpor, pct, preemption_bounded, random_walk
from vmacheck.explore.runner import Model, replay, snapshot_threads
from vmacheck.explore.schedule import context_switches, format_schedule
from vmacheck.explore.shrink import shrink
from vmacheck.explore.watchdog import DEFAULT_LIMIT, Watchdog

MODES = ("dpor", "random", "pct", "bounded")


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report handed to the ``progress`` callback during a run."""

    executions: int
    findings: int
    elapsed: float
    steps: int
    mode: str


@dataclass(slots=True)
class _Seen:
    raw: RawFinding
    schedule: list[int]
    count: int = 1


@dataclass(slots=True)
class _Tally:
    findings: dict[tuple[object, ...], _Seen] = field(default_factory=dict)
    outcomes: dict[str, list[object]] = field(default_factory=dict)
    executions: int = 0
    blocked: int = 0
    steps: int = 0
    log: list[str] = field(default_factory=list)
    edge_schedules: dict[int, list[int]] = field(default_factory=dict)


def explore(
    model: Model,
    *,
    mode: str = "dpor",
    seed: int = 0,
    max_executions: int | None = None,
    max_steps: int = 5_000,
    max_seconds: float | None = None,
    pct_depth: int = 3,
    preemption_bound: int = 2,
    minimise: bool = True,
    keep_log: bool = False,
    progress: Callable[[Progress], None] | None = None,
    progress_every: float = 0.5,
    soft_lockup_seconds: float | None = None,
) -> Result:
    """Explore the interleavings of ``model`` and report what was found.

    ``mode`` is ``"dpor"`` (every Mazurkiewicz trace exactly once), ``"random"`` (uniform random
    walk), ``"pct"`` (PCT with depth ``pct_depth``) or ``"bounded"`` (every schedule with at
    most ``preemption_bound`` preemptions).  The sampling modes need ``max_executions`` or
    ``max_seconds``.  ``max_seconds`` bounds minimising too: findings get whatever time is
    left.  A KeyboardInterrupt (while exploring or minimising) stops the run and still
    returns what was found, marked incomplete.  A step that runs model code without
    awaiting for ``soft_lockup_seconds`` (default 1 s; with ``max_seconds`` at most a quarter
    of it, at least 0.5 s) is stopped and reported as a ``soft-lockup``; the exploration
    then stops.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode in ("random", "pct") and max_executions is None and max_seconds is None:
        raise ValueError(f"mode {mode!r} samples forever: give max_executions or max_seconds")
    limit = soft_lockup_seconds or DEFAULT_LIMIT
    if max_seconds is not None:
        limit = min(limit, max(max_seconds / 4, 0.5))  # not below: a busy machine pauses
    with Watchdog(limit):
        return _explore(model, mode, seed, max_executions, max_steps, max_seconds, pct_depth,
                        preemption_bound, minimise, keep_log, progress, progress_every)


def _explore(model: Model, mode: str, seed: int, max_executions: int | None, max_steps: int,
             max_seconds: float | None, pct_depth: int, preemption_bound: int,
             minimise: bool, keep_log: bool, progress: Callable[[Progress], None] | None,
             progress_every: float) -> Result:
    graph = LockGraph()
    graph.execution = 1
    runs = _strategy(model, mode, seed, max_steps, pct_depth, preemption_bound, graph)
    tally = _Tally()
    start = time.monotonic()
    last_report = start
    stop = "exhausted"
    edges_seen = 0
    try:
        for ex, sched, blocked in runs:
            tally.executions += 1
            tally.steps += len(sched)
            if blocked:
                tally.blocked += 1
            for raw in ex.findings:
                if raw.kind == "soft-lockup":
                    stop = "soft-lockup"
                key = raw.key()
                seen = tally.findings.get(key)
                if seen is None:
                    tally.findings[key] = _Seen(raw, sched)
                else:
                    seen.count += 1
            label = ex.outcome()
            if label or ex.outcome_fns or ex.labels:
                entry = tally.outcomes.setdefault(label, [0, format_schedule(sched)])
                entry[0] = int(entry[0]) + 1  # type: ignore[call-overload]
            if keep_log:
                tally.log.append(format_schedule(sched))
            if len(graph.edges) != edges_seen:
                edges_seen = len(graph.edges)
                tally.edge_schedules[tally.executions] = sched
            graph.execution = tally.executions + 1
            now = time.monotonic()
            if progress is not None and now - last_report >= progress_every:
                last_report = now
                progress(Progress(tally.executions, len(tally.findings), now - start,
                                  tally.steps, mode))
            if stop == "soft-lockup":
                break
            if max_executions is not None and tally.executions >= max_executions:
                stop = "max_executions"
                break
            if max_seconds is not None and now - start >= max_seconds:
                stop = "max_seconds"
                break
    except KeyboardInterrupt:
        stop = "interrupted"
    if stop == "exhausted":
        # a finished generator: make sure the next() that ended it was consumed
        pass
    deadline = None if max_seconds is None else start + max_seconds
    findings: list[Finding] = []
    for key, seen in tally.findings.items():
        left = None if deadline is None else deadline - time.monotonic()
        shrinking = (minimise and stop != "interrupted" and seen.raw.kind != "soft-lockup"
                     and (left is None or left > 0))
        try:
            findings.append(_finalise(model, key, seen, max_steps, shrinking, left))
        except KeyboardInterrupt:  # Ctrl-C while minimising: keep the unminimised one
            stop = "interrupted"
            findings.append(_finalise(model, key, seen, max_steps, False, None))
    findings.extend(_lock_order_findings(graph, tally, model, max_steps))
    seconds = time.monotonic() - start
    complete = stop == "exhausted" and mode == "dpor"
    outcomes = tuple(Outcome(label, int(v[0]), str(v[1]))  # type: ignore[call-overload]
                     for label, v in sorted(tally.outcomes.items()))
    return Result(mode, complete, tally.executions, tally.blocked, tally.steps, seconds,
                  tuple(findings), outcomes, stop, tuple(tally.log))


def _strategy(model: Model, mode: str, seed: int, max_steps: int, depth: int, bound: int,
              graph: LockGraph) -> Iterator[Run]:
    if mode == "dpor":
        return dpor(model, max_steps=max_steps, lockdep=graph)
    if mode == "random":
        return random_walk(model, seed=seed, max_steps=max_steps, lockdep=graph)
    if mode == "pct":
        return pct(model, seed=seed, depth=depth, max_steps=max_steps, lockdep=graph)
    return preemption_bounded(model, bound=bound, max_steps=max_steps, lockdep=graph)


def _finalise(model: Model, key: tuple[object, ...], seen: _Seen, max_steps: int,
              minimise: bool, seconds_left: float | None) -> Finding:
    raw = seen.raw
    original = seen.schedule
    if minimise:
        bound = 20.0 if seconds_left is None else min(20.0, seconds_left)
        minimal = shrink(model, key, original, raw.step, max_steps=max_steps,
                         max_seconds=bound)
    else:
        minimal = original[: raw.step + 1]
    rep = replay(model, minimal, max_steps=max_steps)
    hit = next((f for f in rep.findings if f.key() == key), raw)
    trace = tuple(s for s in rep.trace if s.index <= hit.step)
    cut = minimal[: min(len(minimal), hit.step + 1)]
    threads: tuple[ThreadSnapshot, ...] = ()
    if raw.kind != "soft-lockup":  # re-running the loop would wait for the watchdog again
        threads = _at_violation(snapshot_threads(model, cut, max_steps=max_steps), hit)
    return Finding(raw.kind, raw.message, raw.thread, hit.location or raw.location,
                   format_schedule(original), format_schedule(minimal), trace, seen.count,
                   context_switches(minimal), context_switches(original),
                   {**raw.extra, **hit.extra}, threads)


def _at_violation(threads: tuple[ThreadSnapshot, ...],
                  hit: RawFinding) -> tuple[ThreadSnapshot, ...]:
    """The snapshots with the reporting thread's stack as it was when the finding was
    reported (the snapshot is taken after the violating step, when it has moved on)."""
    if not hit.stack or hit.tid is None:
        return threads
    return tuple(replace(t, stack=hit.stack) if t.tid == hit.tid else t for t in threads)


def _lock_order_findings(graph: LockGraph, tally: _Tally, model: Model,
                         max_steps: int) -> list[Finding]:
    out: list[Finding] = []
    for cycle in graph.cycles():
        names = " -> ".join([c.held for c in cycle] + [cycle[0].held])
        chains = [
            f"{c.thread} took {c.acquired} at {c.acquired_at} while holding {c.held} "
            f"(taken at {c.held_at})" for c in cycle
        ]
        sched = tally.edge_schedules.get(cycle[-1].execution, [])
        rep = replay(model, sched, max_steps=max_steps)
        out.append(Finding(
            "lock-order", f"possible circular locking dependency: {names}", cycle[-1].thread,
            cycle[-1].acquired_at, format_schedule(sched), format_schedule(sched), rep.trace,
            1, context_switches(sched), context_switches(sched),
            {"chains": chains, "cycle": [c.held for c in cycle]}))
    return out
