"""Running single executions under a scheduling policy, and replaying schedules."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from vmacheck.explore import interrupt
from vmacheck.explore.core import Event, Execution, StepListener, TraceStep, ValueChooser
from vmacheck.explore.findings import RawFinding, ThreadSnapshot
from vmacheck.explore.memory import using
from vmacheck.explore.schedule import ScheduleError, format_schedule, parse_schedule_choices
from vmacheck.explore.state import NondeterministicModel

Model = Callable[[], Iterable[Any]]
Chooser = Callable[[Execution, list[int], int], "int | None"]


SHORT_REPLAY = True
"""Quiet replayed steps that run no check take :meth:`Execution.replay_prefix` (tests turn
it off to compare)."""

YOUNG_COLLECTION_THRESHOLD = 10_000
"""While exploring, the cyclic garbage collector's youngest generation is collected after
this many net allocations instead of Python's 700.  An execution allocates thousands of
objects that live until it ends (its events, its model), and closed executions are freed by
reference counting (:meth:`Execution.close` unlinks them), so the default threshold only
makes the collector traverse live objects over and over."""


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the youngest generation's collection threshold to
    :data:`YOUNG_COLLECTION_THRESHOLD` for the duration (a threshold set higher, or collection
    disabled, is left alone), and restore it after."""
    old = gc.get_threshold()
    if 0 < old[0] < YOUNG_COLLECTION_THRESHOLD:
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def run_one(
    model: Model,
    choose: Chooser,
    *,
    max_steps: int,
    record: bool = False,
    listener: StepListener | None = None,
    lockdep: Any = None,
    values: ValueChooser | None = None,
    sites: bool = True,
    quiet_until: int = 0,
    replayed: Sequence[Event] = (),
    replayed_acyclic: int = 0,
) -> tuple[Execution, list[int], bool]:
    """Run one execution to its end.  Returns it, its schedule, and whether the chooser gave
    up (returned None, e.g. a sleep-set-blocked state).  ``values`` picks the value of each
    nondeterministic choice (the first value when None); ``ex.choices`` records them.
    ``quiet_until``: the steps before it replay a prefix run and checked before
    (:attr:`Execution.quiet_until`); ``replayed``: that run's events, which schedule those
    steps (after the first, which the chooser is asked for) and give their footprints
    (:attr:`Execution.replayed`); ``replayed_acyclic``: that run found no threads waiting
    in a cycle before this step (its :attr:`Execution.cycle_from`), so that the quiet steps
    before it and before the prefix's last take :meth:`Execution.replay_prefix`."""
    interrupt.check()  # a Ctrl-C that model code swallowed stops the run here
    ex = Execution(model, max_steps=max_steps, record=record, listener=listener,
                   lockdep=lockdep, values=values, sites=sites, quiet_until=quiet_until,
                   replayed=replayed)
    replay_to = min(quiet_until, len(replayed))
    # quiet steps that run no check (the prefix's last runs them all), before the run
    # replayed found threads waiting in a cycle, under sequential consistency and unrecorded
    fast_to = 0
    if SHORT_REPLAY and not record and ex.memory is None:
        fast_to = min(replay_to, quiet_until - 1, replayed_acyclic)
    sched: list[int] = []
    gave_up = False
    threads = ex.threads
    depth = 0
    while True:
        depth = len(sched)
        if 0 < depth < fast_to:
            ex.replay_prefix(replayed, fast_to, sched)
            continue
        # ex.enabled() and ex.live() in one pass: a live thread always has a pending op
        # (a thread that exits or dies has none)
        en: list[int] = []
        stuck = False  # some live thread is disabled
        for t in threads:
            op = t.pending
            if op is None:
                continue
            if not op.blocking or op.enabled(ex, t.tid):
                en.append(t.tid)
            else:
                stuck = True
        if not en:
            break
        if stuck and ex.check_deadlock(en) and ex.cycle_from > depth:
            ex.cycle_from = depth
        if len(sched) >= max_steps:
            ex.report("step-limit",
                      f"execution exceeded {max_steps} steps (possible livelock)",
                      sched[-1] if sched else None)
            ex.truncated = True
            break
        tid: int | None
        if 0 < depth < replay_to:  # a quiet step: the run replayed says which thread
            tid = replayed[depth].tid
            if tid not in en:
                raise NondeterministicModel(
                    f"replay diverged at step {depth + 1}: thread {tid} is not runnable; "
                    "the model must build the same state on every run")
        else:
            tid = choose(ex, en, depth)
        if tid is None:
            gave_up = True
            ex.truncated = True
            ex.abandoned = True
            break
        ex.step(tid)
        sched.append(tid)
    ex.finish()
    return ex, sched, gave_up


def follow(schedule: list[int], strict: bool = True, stop: bool = False) -> Chooser:
    """A chooser that follows ``schedule`` and then runs non-preemptively (the last thread
    while it can run, else the lowest-numbered runnable thread)."""

    def choose(ex: Execution, en: list[int], depth: int) -> int | None:
        if depth < len(schedule):
            tid = schedule[depth]
            if tid not in en:
                if not strict:
                    return None
                names = {t.tid: t.name for t in ex.threads}
                what = f"thread {tid} ({names[tid]}) is not runnable" if tid in names \
                    else f"there is no thread {tid}"
                raise ScheduleError(f"schedule does not fit the model at step {depth + 1}: "
                                    f"{what}; runnable: {en}")
            return tid
        if stop:
            return None
        last = ex.events[-1].tid if ex.events else None
        if last is not None and last in en:
            return last
        return en[0]

    return choose


def by_step(choices: dict[int, int]) -> ValueChooser:
    """A value chooser that replays the values of a schedule string (step index to value;
    steps not listed take 0)."""

    def values(ex: Execution, tid: int, n: int, step: int) -> int:
        return choices.get(step, 0)

    return values


def by_thread(tape: dict[int, list[int]]) -> ValueChooser:
    """A value chooser that gives each thread's k-th choice the k-th value of its tape (0 past
    the end): the same choices whatever the interleaving, as minimising needs."""

    def values(ex: Execution, tid: int, n: int, step: int) -> int:
        k = sum(1 for s, t in ex.choice_tids.items() if t == tid and s < step)
        seq = tape.get(tid, [])
        return seq[k] if k < len(seq) and seq[k] < n else 0

    return values


@dataclass(frozen=True, slots=True)
class Replay:
    """The result of re-running one schedule."""

    schedule: str
    findings: tuple[RawFinding, ...]
    trace: tuple[TraceStep, ...]
    outcome: str
    steps: int
    threads: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunResult:
    """The result of :func:`run`: one execution under the default schedule."""

    findings: tuple[RawFinding, ...]
    outcome: str
    steps: int
    schedule: str
    returns: tuple[Any, ...]
    """Each thread's return value (None for a thread that did not finish)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}


def run(model: Model, *, max_steps: int = 100_000) -> RunResult:
    """Run ``model`` once, with no exploration: each thread runs while it can, then the
    lowest-numbered runnable one (the deterministic default schedule); checks, invariants
    and end checks run as in :func:`vmacheck.explore`.  For sequential drivers (a test that
    calls model functions one after another) where there is nothing to interleave."""
    ex, sched, _ = run_one(model, follow([]), max_steps=max_steps, sites=False)
    if any(f.kind == "invariant" for f in ex.findings):  # the same run, locating it exactly
        ex.close()
        ex, sched, _ = run_one(model, follow([]), max_steps=max_steps)
    result = RunResult(tuple(ex.findings), ex.outcome(), len(sched),
                       format_schedule(sched, ex.choices), tuple(t.result for t in ex.threads))
    ex.close(forget=False)  # the threads' results may be model objects the caller reads
    return result


def snapshot_threads(model: Model, schedule: list[int], *, max_steps: int = 10_000,
                     choices: dict[int, int] | None = None) -> tuple[ThreadSnapshot, ...]:
    """Run exactly ``schedule`` and describe every thread at that point."""
    ex, _, _ = run_one(model, follow(schedule, stop=True), max_steps=max_steps, record=True,
                       values=by_step(choices or {}))
    out = []
    for t in ex.threads:
        if t.done:
            state = "exited"
        elif t.dead:
            state = "killed"
        elif ex.is_enabled(t.tid):
            state = "runnable"
        else:
            state = "blocked"
        out.append(ThreadSnapshot(t.tid, t.name, state, ex.stack_of(t.tid) if t.live else (),
                                  tuple(h.desc for h in t.held),
                                  t.pending.describe() if t.pending is not None else ""))
    ex.close()
    return tuple(out)


def replay(model: Model, schedule: str | list[int], *, max_steps: int = 10_000,
           choices: dict[int, int] | None = None, memory_model: str | None = None) -> Replay:
    """Re-execute a schedule exactly, recording a full trace.  A schedule string carries the
    values of its choices (``"1:2"``); with a list of thread ids, give them as ``choices``
    (step index to value)."""
    from vmacheck.explore.watchdog import Watchdog

    if isinstance(schedule, str):
        tids, choices = parse_schedule_choices(schedule)
    else:
        tids = list(schedule)
    if memory_model is not None:
        with using(memory_model):
            return replay(model, tids, max_steps=max_steps, choices=choices)
    with Watchdog():  # a step that never awaits is a soft-lockup finding, not a hang
        ex, sched, _ = run_one(model, follow(tids), max_steps=max_steps, record=True,
                               values=by_step(choices or {}))
    result = Replay(format_schedule(sched, ex.choices), tuple(ex.findings), tuple(ex.trace),
                    ex.outcome(), len(sched), tuple(t.name for t in ex.threads))
    ex.close()
    return result
