"""The explorer's entry point: run a strategy under budgets and collect a :class:`Result`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from vmacheck.explore import interrupt
from vmacheck.explore.findings import Finding, Outcome, RawFinding, Result, ThreadSnapshot
from vmacheck.explore.lockdep import LockGraph
from vmacheck.explore.memory import active_memory_model, using
from vmacheck.explore.modes import Run, dpor, pct, preemption_bounded, random_walk
from vmacheck.explore.runner import Model, fewer_collections, replay, snapshot_threads
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
    phase: str = "explore"
    """``"explore"``, or ``"minimise"`` while the findings' interleavings are minimised
    (``executions`` then counts the minimising executions)."""


@dataclass(slots=True)
class _Seen:
    raw: RawFinding
    schedule: list[int]
    choices: dict[int, int]
    tape: dict[int, list[int]]
    count: int = 1


@dataclass(slots=True)
class _Tally:
    findings: dict[tuple[object, ...], _Seen] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    first: dict[str, bytes | str] = field(default_factory=dict)
    """Per outcome, its first schedule (see :func:`_compact`)."""
    executions: int = 0
    blocked: int = 0
    steps: int = 0
    log: list[str] = field(default_factory=list)
    edge_schedules: dict[int, tuple[list[int], dict[int, int]]] = field(default_factory=dict)


def explore(model: Model, *, memory_model: str | None = None, **options: Any) -> Result:
    """Explore ``model`` (see :func:`_explore_options` for the options) under ``memory_model``:
    ``"sc"`` (sequential consistency, the default) or ``"weak"``
    (:mod:`vmacheck.explore.memory`); None keeps the one a ``with using(...)`` block set.
    Findings are minimised and replayed under the same model."""
    with using(memory_model or active_memory_model()), fewer_collections():
        return _explore_options(model, **options)


def _explore_options(
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
    workers: int = 1,
    scheduler: str | None = None,
    checkpoint: str | None = None,
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

    ``workers``, ``scheduler`` and ``checkpoint`` split a ``dpor`` exploration into work units
    (:mod:`vmacheck.explore.parallel`): run in ``workers`` forked processes, on a Dask
    scheduler (``"tcp://HOST:PORT"``, or ``"local"`` for a local cluster), and/or saved to and
    resumed from a checkpoint file.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode in ("random", "pct") and max_executions is None and max_seconds is None:
        raise ValueError(f"mode {mode!r} samples forever: give max_executions or max_seconds")
    if workers != 1 or scheduler is not None or checkpoint is not None:
        if mode != "dpor" or workers < 1:
            raise ValueError("workers, scheduler and checkpoint split a dpor exploration: "
                             "use mode 'dpor' and workers >= 1")
        from vmacheck.explore.parallel import explore_split

        return explore_split(model, max_steps=max_steps, max_executions=max_executions,
                             max_seconds=max_seconds, minimise=minimise, keep_log=keep_log,
                             progress=progress, progress_every=progress_every,
                             workers=workers, scheduler=scheduler, checkpoint=checkpoint)
    limit = soft_lockup_seconds or DEFAULT_LIMIT
    if max_seconds is not None:
        limit = min(limit, max(max_seconds / 4, 0.5))  # not below: a busy machine pauses
    with interrupt.catching(), Watchdog(limit):
        return _explore_run(model, mode, seed, max_executions, max_steps, max_seconds, pct_depth,
                        preemption_bound, minimise, keep_log, progress, progress_every)


def _explore_run(model: Model, mode: str, seed: int, max_executions: int | None, max_steps: int,
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
                    tally.findings[key] = _Seen(raw, sched, dict(ex.choices),
                                                ex.thread_choices())
                else:
                    seen.count += 1
            # a sleep-set-blocked execution stopped part way: it reached no end state
            label = "" if blocked else ex.outcome()
            if not blocked and (label or ex.outcome_fns or ex.labels):
                n = tally.outcomes.get(label)
                if n is None:
                    tally.outcomes[label] = 1
                    tally.first[label] = _compact(sched, ex.choices)
                else:
                    tally.outcomes[label] = n + 1
            if keep_log:
                tally.log.append(format_schedule(sched, ex.choices))
            if len(graph.edges) != edges_seen:
                edges_seen = len(graph.edges)
                tally.edge_schedules[tally.executions] = (sched, dict(ex.choices))
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
        interrupt.handled()
    finally:
        # a strategy stopped early closes the execution it stopped at when it is closed; the
        # garbage collector does not close a generator compiled with mypyc
        close = getattr(runs, "close", None)
        if close is not None:
            close()
    seconds = time.monotonic() - start
    deadline = None if max_seconds is None else start + max_seconds
    findings, interrupted = _finalise_all(model, tally, max_steps, minimise and stop not in (
        "interrupted", "soft-lockup"), seconds, max_executions, deadline, progress, mode)
    if interrupted:
        stop = "interrupted"
    findings.extend(_lock_order_findings(graph, tally, model, max_steps))
    seconds = time.monotonic() - start
    complete = stop == "exhausted" and mode == "dpor"
    outcomes = tuple(Outcome(label, tally.outcomes[label], _text(tally.first.pop(label)))
                     for label in sorted(tally.outcomes))
    return Result(mode, complete, tally.executions, tally.blocked, tally.steps, seconds,
                  tuple(findings), outcomes, stop, tuple(tally.log), active_memory_model())


def _compact(sched: list[int], choices: dict[int, int]) -> bytes | str:
    """A schedule as one byte per step when it can be (an outcome table keeps one schedule
    per distinct outcome, and some models have tens of thousands of outcomes)."""
    if not choices and (not sched or max(sched) < 256):
        return bytes(sched)
    return format_schedule(sched, choices)


def _text(first: bytes | str) -> str:
    return format_schedule(list(first)) if isinstance(first, bytes) else first


def _strategy(model: Model, mode: str, seed: int, max_steps: int, depth: int, bound: int,
              graph: LockGraph) -> Iterator[Run]:
    if mode == "dpor":
        return dpor(model, max_steps=max_steps, lockdep=graph)
    if mode == "random":
        return random_walk(model, seed=seed, max_steps=max_steps, lockdep=graph)
    if mode == "pct":
        return pct(model, seed=seed, depth=depth, max_steps=max_steps, lockdep=graph)
    return preemption_bounded(model, bound=bound, max_steps=max_steps, lockdep=graph)


MINIMISE_SHARE = 10
"""Minimising every finding of a run costs at most 1/MINIMISE_SHARE of the exploration."""
MINIMISE_FLOOR = 200
"""Executions minimising may always spend, however short the exploration was."""


def _finalise_all(model: Model, tally: _Tally, max_steps: int, minimise: bool, seconds: float,
                  max_executions: int | None, deadline: float | None,
                  progress: Callable[[Progress], None] | None,
                  mode: str) -> tuple[list[Finding], bool]:
    """Every finding with its minimised interleaving, and whether Ctrl-C stopped minimising
    (the findings not minimised yet are then kept as found).  Minimising all findings
    together costs at most a tenth of the exploration's executions (at least
    ``MINIMISE_FLOOR``, at most ``max_executions``), and at most half its time (at least 5 s:
    a safety net that seldom binds, so that minimal schedules do not depend on the machine's
    load) and never past ``deadline`` (the run's ``max_seconds``); each finding gets an equal
    share of what is left."""
    executions = max(MINIMISE_FLOOR, tally.executions // MINIMISE_SHARE)
    if max_executions is not None:
        executions = min(executions, max(max_executions, 1))
    start = time.monotonic()
    time_left = max(5.0, seconds / 2)
    if deadline is not None:
        time_left = min(time_left, max(deadline - start, 0.0))
    used = 0
    out: list[Finding] = []
    interrupted = False
    items = list(tally.findings.items())
    for n, (key, seen) in enumerate(items):
        share = max((executions - used) // (len(items) - n), 1)
        secs = max(time_left - (time.monotonic() - start), 0.0) / (len(items) - n)
        shrinking = (minimise and not interrupted and seen.raw.kind != "soft-lockup"
                     and secs > 0)

        def report(k: int, base: int = used) -> None:
            if progress is not None:
                progress(Progress(base + k, len(items), time.monotonic() - start, 0, mode,
                                  "minimise"))

        try:
            finding, spent = _finalise(model, key, seen, max_steps, shrinking, share, secs,
                                       report if progress is not None else None)
        except KeyboardInterrupt:  # Ctrl-C while minimising: keep the finding as found
            interrupted = True
            interrupt.handled()
            finding, spent = _finalise(model, key, seen, max_steps, False)
        used += spent
        out.append(finding)
    return out, interrupted


def _finalise(model: Model, key: tuple[object, ...], seen: _Seen, max_steps: int,
              minimise: bool, budget: int = 2_000, seconds: float = 20.0,
              progress: Callable[[int], None] | None = None) -> tuple[Finding, int]:
    raw = seen.raw
    original = seen.schedule
    spent = [0]

    def count(k: int) -> None:
        spent[0] = k
        if progress is not None:
            progress(k)

    if minimise:
        minimal, choices = shrink(model, key, original, raw.step, max_steps=max_steps,
                                  tape=seen.tape, choices=seen.choices,
                                  max_executions=budget, max_seconds=seconds, progress=count)
    else:
        minimal = original[: raw.step + 1]
        choices = {k: v for k, v in seen.choices.items() if k <= raw.step}
    rep = replay(model, minimal, max_steps=max_steps, choices=choices)
    found = next((f for f in rep.findings if f.key() == key), None)
    if found is None and minimise:  # never report a minimal schedule that does not replay
        minimal = original[: raw.step + 1]
        choices = {k: v for k, v in seen.choices.items() if k <= raw.step}
        rep = replay(model, minimal, max_steps=max_steps, choices=choices)
        found = next((f for f in rep.findings if f.key() == key), None)
    hit = raw if found is None else found
    trace = tuple(s for s in rep.trace if s.index <= hit.step)
    cut = minimal[: min(len(minimal), hit.step + 1)]
    threads: tuple[ThreadSnapshot, ...] = ()
    if raw.kind != "soft-lockup":  # re-running the loop would wait for the watchdog again
        threads = _at_violation(snapshot_threads(model, cut, max_steps=max_steps,
                                                 choices=choices), hit)
    # the instance the minimal trace shows (one bug may show in several threads: the same
    # check at the same place, with other ids in its message)
    return Finding(raw.kind, hit.message, hit.thread, hit.location or raw.location,
                   format_schedule(original, seen.choices), format_schedule(minimal, choices),
                   trace, seen.count, context_switches(minimal), context_switches(original),
                   {**raw.extra, **hit.extra}, threads), spent[0]


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
        sched, choices = tally.edge_schedules.get(cycle[-1].execution, ([], {}))
        rep = replay(model, sched, max_steps=max_steps, choices=choices)
        text = format_schedule(sched, choices)
        out.append(Finding(
            "lock-order", f"possible circular locking dependency: {names}", cycle[-1].thread,
            cycle[-1].acquired_at, text, text, rep.trace,
            1, context_switches(sched), context_switches(sched),
            {"chains": chains, "cycle": [c.held for c in cycle]}))
    return out
