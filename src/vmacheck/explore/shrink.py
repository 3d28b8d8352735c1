"""Minimising the interleaving of a finding: fewest context switches, then fewest steps."""

from __future__ import annotations

import time
from collections.abc import Callable

from vmacheck.explore.core import Event, Execution, Footprint
from vmacheck.explore.findings import RawFinding
from vmacheck.explore.modes import preemption_bounded
from vmacheck.explore.runner import Model, by_step, by_thread, follow, run_one
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
    ex.close()
    if gave_up:
        return None
    raw = _hit(ex.findings, key)
    if raw is None:
        return None
    return _cut(done, raw), {k: v for k, v in ex.choices.items() if k <= raw.step}


def _better(a: list[int], b: list[int]) -> bool:
    return (context_switches(a), len(a)) < (context_switches(b), len(b))


class _Budget:
    """Executions and time minimising may still spend; ``progress`` hears of each one."""

    def __init__(self, executions: int, seconds: float,
                 progress: Callable[[int], None] | None) -> None:
        self.left = executions
        self.used = 0
        self.deadline = time.monotonic() + seconds
        self.progress = progress

    def spend(self) -> None:
        self.left -= 1
        self.used += 1
        if self.progress is not None:
            self.progress(self.used)

    def out(self) -> bool:
        return self.left <= 0 or time.monotonic() > self.deadline


def shrink(model: Model, key: tuple[object, ...], schedule: list[int], step: int, *,
           max_steps: int, max_executions: int = 2_000, max_seconds: float = 20.0,
           tape: dict[int, list[int]] | None = None,
           choices: Choices | None = None,
           progress: Callable[[int], None] | None = None) -> tuple[list[int], Choices]:
    """A schedule reaching the same finding with no more context switches than ``schedule``,
    and the values of its choices (step index to value).

    First the steps up to the finding are reordered, keeping the order of every two
    dependent steps (same thread, or one object touched by both and written by one), so
    that each thread runs as long as it can: such a reordering is the same execution up to
    the order of independent steps.  Tried with only the steps the finding depends on, then
    with all of them.  Then a greedy local search (drop a run of steps, shorten it, merge it
    with its thread's next run) while the finding still appears, each thread keeping the
    choice values of ``tape`` (per thread, the values its choices took in the original
    execution).  Then, while the budget lasts, a preemption-bounded search with growing
    bound below the best number of context switches found (the first hit has the fewest
    preemptions; it explores every choice value), polished by the local search.  At most
    ``max_executions`` executions and ``max_seconds`` seconds; ``progress`` gets the number
    of executions run so far.
    """
    budget = _Budget(max_executions, max_seconds, progress)
    best = schedule[: step + 1]
    best_choices = {k: v for k, v in (choices or {}).items() if k <= step}
    tape = tape or {}
    for order in _linearisations(model, best, best_choices, max_steps, budget):
        if budget.out():
            return best, best_choices
        budget.spend()
        hit = _reproduces(model, order, key, max_steps, tape)
        if hit is not None and _better(hit[0], best):
            best, best_choices = hit
    best, best_choices = _local(model, key, best, best_choices, max_steps, tape, budget)
    for bound in range(0, min(context_switches(best), 4)):
        if budget.out():
            break
        found = None
        found_choices: Choices = {}
        found_tids: dict[int, int] = {}
        for ex, sched, _ in preemption_bounded(model, bound=bound, max_steps=max_steps):
            budget.spend()
            raw = _hit(ex.findings, key)
            if raw is not None:
                found = _cut(sched, raw)
                found_choices = {k: v for k, v in ex.choices.items() if k <= raw.step}
                found_tids = ex.choice_tids
                break
            if budget.out():
                break
        if found is not None and _better(found, best):
            tape = _tape(found_tids, found_choices)
            best, best_choices = _local(model, key, found, found_choices, max_steps, tape,
                                        budget)
            break
    return best, best_choices


def _local(model: Model, key: tuple[object, ...], best: list[int], best_choices: Choices,
           max_steps: int, tape: dict[int, list[int]],
           budget: _Budget) -> tuple[list[int], Choices]:
    """Greedy local search: drop a run of steps, shorten it, or merge it with the thread's
    next run, while the finding still appears and the schedule gets better."""
    improved = True
    while improved and not budget.out():
        improved = False
        runs = _runs(best)
        for i in range(len(runs)):
            for trimmed in _variants(runs, i):
                budget.spend()
                cand = _reproduces(model, trimmed, key, max_steps, tape)
                if cand is not None and _better(cand[0], best):
                    best, best_choices = cand
                    improved = True
                    break
                if budget.out():
                    return best, best_choices
            if improved:
                break
    return best, best_choices


def _linearisations(model: Model, prefix: list[int], choices: Choices, max_steps: int,
                    budget: _Budget) -> list[list[int]]:
    """Reorderings of ``prefix`` (whose last step reports the finding) that keep every
    dependence and switch threads as rarely as the greedy choice allows: first of the steps
    the last one depends on, then of all of them."""
    if context_switches(prefix) == 0 or budget.out():
        return []
    budget.spend()
    steps: list[tuple[int, Footprint, int, int]] = []

    def listen(ex: Execution, ev: Event) -> None:
        steps.append((ev.tid, ev.fp, ev.spawned, ev.joined))

    try:
        ex, _, _ = run_one(model, follow(prefix, stop=True), max_steps=max_steps,
                           listener=listen, values=by_step(choices))
        ex.close()
    except ScheduleError:
        return []
    if len(steps) != len(prefix):
        return []
    deps = _dependences(steps)
    last = len(steps) - 1
    past = {last}
    for x in range(last, -1, -1):
        if x in past:
            past.update(deps[x])
    out: list[list[int]] = []
    tids = [t for t, _, _, _ in steps]
    for keep in (past, set(range(len(steps)))):
        for first in sorted({tids[x] for x in keep}):
            for longest in (False, True):
                order = _greedy(sorted(keep), deps, tids, last, longest, first)
                sched = [steps[x][0] for x in order]
                if sched != prefix and sched not in out:
                    out.append(sched)
    out.sort(key=lambda s: (context_switches(s), len(s)))
    return out


def _dependences(steps: list[tuple[int, Footprint, int, int]]) -> list[set[int]]:
    """Per step, the earlier steps it directly depends on: the thread's previous step, the
    spawn that created the thread, the last step of a joined thread, the last write of each
    object it touches and (when it writes) the reads since."""
    deps: list[set[int]] = []
    last_of: dict[int, int] = {}
    spawned_by: dict[int, int] = {}
    last_write: dict[int, int] = {}
    reads_since: dict[int, list[int]] = {}
    for x, (tid, fp, spawned, joined) in enumerate(steps):
        d: set[int] = set()
        if tid in last_of:
            d.add(last_of[tid])
        elif tid in spawned_by:
            d.add(spawned_by[tid])
        if joined >= 0 and joined in last_of:
            d.add(last_of[joined])
        for oid, w in fp:
            if oid in last_write:
                d.add(last_write[oid])
            if w:
                d.update(reads_since.pop(oid, ()))
                last_write[oid] = x
            else:
                reads_since.setdefault(oid, []).append(x)
        if spawned >= 0:
            spawned_by[spawned] = x
        last_of[tid] = x
        deps.append(d)
    return deps


def _greedy(keep: list[int], deps: list[set[int]], tids: list[int], last: int,
            longest: bool, first: int) -> list[int]:
    """An order of the steps ``keep`` that respects ``deps``, ends with ``last`` and stays
    on one thread (``first`` to begin with) while it can; on a switch, the thread whose next
    step came first (or, with ``longest``, the one that can then run the most steps)."""
    kept = set(keep)
    queues: dict[int, list[int]] = {}
    for x in keep:
        if x != last:
            queues.setdefault(tids[x], []).append(x)
    done: set[int] = set()
    order: list[int] = []

    def ready(x: int) -> bool:
        return all(d in done or d not in kept for d in deps[x])

    def run_length(t: int) -> int:
        n = 0
        q = queues[t]
        extra: set[int] = set()
        while n < len(q) and all(d in done or d in extra or d not in kept for d in deps[q[n]]):
            extra.add(q[n])
            n += 1
        return n

    cur = first
    while any(queues.values()):
        q = queues.get(cur)
        if q and ready(q[0]):
            x = q.pop(0)
        else:
            cands = [t for t, qq in queues.items() if qq and ready(qq[0])]
            if not cands:
                break
            if longest:
                cur = max(cands, key=lambda t: (run_length(t), -queues[t][0]))
            else:
                cur = min(cands, key=lambda t: queues[t][0])
            x = queues[cur].pop(0)
        done.add(x)
        order.append(x)
    order.append(last)
    return order


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
    """Candidate schedules: drop run i; shorten it by one step; or join it with the thread's
    next run, earlier or later (two context switches fewer when every step stays possible)."""
    out = [_expand(runs[:i] + runs[i + 1:])]
    t, n = runs[i]
    if n > 1:
        out.append(_expand([*runs[:i], (t, n - 1), *runs[i + 1:]]))
    j = next((k for k in range(i + 2, len(runs)) if runs[k][0] == t), None)
    if j is not None:
        merged = (t, n + runs[j][1])
        out.append(_expand([*runs[:i], merged, *runs[i + 1:j], *runs[j + 1:]]))
        out.append(_expand([*runs[:i], *runs[i + 1:j], merged, *runs[j + 1:]]))
    return out
