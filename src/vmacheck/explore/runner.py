"""Running single executions under a scheduling policy, and replaying schedules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vmacheck.explore.core import Execution, StepListener, TraceStep
from vmacheck.explore.findings import RawFinding, ThreadSnapshot
from vmacheck.explore.schedule import ScheduleError, format_schedule, parse_schedule

Model = Callable[[], Iterable[Any]]
Chooser = Callable[[Execution, list[int], int], "int | None"]


class NondeterministicModel(RuntimeError):
    """The model did not repeat itself on replay (it must not depend on randomness or ids)."""


def run_one(
    model: Model,
    choose: Chooser,
    *,
    max_steps: int,
    record: bool = False,
    listener: StepListener | None = None,
    lockdep: Any = None,
) -> tuple[Execution, list[int], bool]:
    """Run one execution to its end.  Returns it, its schedule, and whether the chooser gave
    up (returned None, e.g. a sleep-set-blocked state)."""
    ex = Execution(model, max_steps=max_steps, record=record, listener=listener,
                   lockdep=lockdep)
    sched: list[int] = []
    gave_up = False
    threads = ex.threads
    while True:
        en: list[int] = []
        live = 0
        for t in threads:  # ex.enabled() and ex.live() in one pass
            if t.done or t.dead:
                continue
            live += 1
            op = t.pending
            if op is not None and (not op.blocking or op.enabled(ex, t.tid)):
                en.append(t.tid)
        if not en:
            break
        if len(en) < live:
            ex.check_deadlock()
        if len(sched) >= max_steps:
            ex.report("step-limit",
                      f"execution exceeded {max_steps} steps (possible livelock)",
                      sched[-1] if sched else None)
            ex.truncated = True
            break
        tid = choose(ex, en, len(sched))
        if tid is None:
            gave_up = True
            ex.truncated = True
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


@dataclass(frozen=True, slots=True)
class Replay:
    """The result of re-running one schedule."""

    schedule: str
    findings: tuple[RawFinding, ...]
    trace: tuple[TraceStep, ...]
    outcome: str
    steps: int
    threads: tuple[str, ...]


def snapshot_threads(model: Model, schedule: list[int], *,
                     max_steps: int = 10_000) -> tuple[ThreadSnapshot, ...]:
    """Run exactly ``schedule`` and describe every thread at that point."""
    ex, _, _ = run_one(model, follow(schedule, stop=True), max_steps=max_steps, record=True)
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
    return tuple(out)


def replay(model: Model, schedule: str | list[int], *, max_steps: int = 10_000) -> Replay:
    """Re-execute a schedule exactly, recording a full trace."""
    from vmacheck.explore.watchdog import Watchdog

    tids = parse_schedule(schedule) if isinstance(schedule, str) else list(schedule)
    with Watchdog():  # a step that never awaits is a soft-lockup finding, not a hang
        ex, sched, _ = run_one(model, follow(tids), max_steps=max_steps, record=True)
    return Replay(format_schedule(sched), tuple(ex.findings), tuple(ex.trace), ex.outcome(),
                  len(sched), tuple(t.name for t in ex.threads))
