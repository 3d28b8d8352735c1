"""Minimising the interleaving of a finding: fewest context switches, then fewest steps."""

from __future__ import annotations

import time

from vmacheck.explore.findings import RawFinding
from vmacheck.explore.modes import preemption_bounded
from vmacheck.explore.runner import Model, by_thread, follow, run_one
from vmacheck.explore.schedule import ScheduleError, context_switches


def _hit(findings: list[RawFinding], key: tuple[object, ...]) -> RawFinding | None:
    for f in findings:
        if f.key() == key:
            return f
    return None


def _cut(sched: list[int], raw: RawFinding) -> list[int]:
    return sched[: raw.step + 1]


Choices = dict[int, int]


def _reproduces(model: Model, sched: list[int], key: tuple[object, ...], max_steps: int,
                tape: dict[int, list[int]]) -> tuple[list[int], Choices] | None:
    try:
        ex, done, gave_up = run_one(model, follow(sched, strict=False), max_steps=max_steps,
                                    values=by_thread(tape))
    except ScheduleError:
        return None
    if gave_up:
        return None
    raw = _hit(ex.findings, key)
    if raw is None:
        return None
    return _cut(done, raw), {k: v for k, v in ex.choices.items() if k <= raw.step}


def _better(a: list[int], b: list[int]) -> bool:
    return (context_switches(a), len(a)) < (context_switches(b), len(b))


def shrink(model: Model, key: tuple[object, ...], schedule: list[int], step: int, *,
           max_steps: int, max_executions: int = 2_000, max_seconds: float = 20.0,
           tape: dict[int, list[int]] | None = None,
           choices: Choices | None = None) -> tuple[list[int], Choices]:
    """A schedule reaching the same finding with no more context switches than ``schedule``,
    and the values of its choices (step index to value).

    First a preemption-bounded search with growing bound (the first hit has the fewest
    preemptions; it explores every choice value), then greedy removal of runs of steps while
    the finding still appears, each thread keeping the choice values of ``tape`` (per thread,
    the values its choices took in the original execution).
    """
    deadline = time.monotonic() + max_seconds
    best = schedule[: step + 1]
    best_choices = {k: v for k, v in (choices or {}).items() if k <= step}
    tape = tape or {}
    budget = max_executions
    for bound in range(0, min(context_switches(best), 4)):
        found = None
        found_choices: Choices = {}
        found_tids: dict[int, int] = {}
        for ex, sched, _ in preemption_bounded(model, bound=bound, max_steps=max_steps):
            budget -= 1
            raw = _hit(ex.findings, key)
            if raw is not None:
                found = _cut(sched, raw)
                found_choices = {k: v for k, v in ex.choices.items() if k <= raw.step}
                found_tids = ex.choice_tids
                break
            if budget <= 0 or time.monotonic() > deadline:
                break
        if found is not None and _better(found, best):
            best = found
            best_choices = found_choices
            tape = _tape(found_tids, found_choices)
            break
        if budget <= 0 or time.monotonic() > deadline:
            break
    improved = True
    while improved and budget > 0 and time.monotonic() < deadline:
        improved = False
        runs = _runs(best)
        for i in range(len(runs)):
            for trimmed in _variants(runs, i):
                budget -= 1
                cand = _reproduces(model, trimmed, key, max_steps, tape)
                if cand is not None and _better(cand[0], best):
                    best, best_choices = cand
                    improved = True
                    break
                if budget <= 0 or time.monotonic() > deadline:
                    return best, best_choices
            if improved:
                break
    return best, best_choices


def _tape(tids: dict[int, int], choices: Choices) -> dict[int, list[int]]:
    """Per thread, the values of its choices in step order."""
    out: dict[int, list[int]] = {}
    for step in sorted(choices):
        out.setdefault(tids[step], []).append(choices[step])
    return out


def _runs(sched: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for t in sched:
        if out and out[-1][0] == t:
            out[-1] = (t, out[-1][1] + 1)
        else:
            out.append((t, 1))
    return out


def _expand(runs: list[tuple[int, int]]) -> list[int]:
    out: list[int] = []
    for t, n in runs:
        out.extend([t] * n)
    return out


def _variants(runs: list[tuple[int, int]], i: int) -> list[list[int]]:
    """Candidate schedules: drop run i; or shorten it by one step."""
    out = [_expand(runs[:i] + runs[i + 1:])]
    t, n = runs[i]
    if n > 1:
        out.append(_expand([*runs[:i], (t, n - 1), *runs[i + 1:]]))
    return out
