"""Running a work unit for a slice of time, and merging what units find.

:func:`run_slice` is what a worker process (or a Dask worker) runs: it explores a unit
(:class:`vmacheck.explore.frontier.Unit`) from its frontier until it is done or its time is
up, always stopping at an execution boundary, and returns a :class:`SliceResult`: counters,
the first execution (in the sequential order of the unit) that showed each finding, outcome and
lock-order edge, the races that escaped the unit, and the unit's remaining frontier.  Nothing
is kept per execution beyond counters.  A slice's result is applied only when the slice
completes, so a slice lost with its worker is simply run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from vmacheck.explore.dpor import Seq
from vmacheck.explore.findings import RawFinding
from vmacheck.explore.lockdep import Chain, LockGraph
from vmacheck.explore.modes import DporState, dpor
from vmacheck.explore.runner import Model, fewer_collections
from vmacheck.explore.schedule import format_schedule


class SplitError(ValueError):
    """A split exploration cannot run: an unreadable checkpoint, an unreachable scheduler."""


MIN_SLICE = 0.05
"""A slice runs at least this long before an interruption ends it."""

FindingKey = tuple[object, ...]
Key = tuple[int, ...]
"""Order key: where an execution comes in the sequential explorer's order (roughly)."""


@dataclass(slots=True)
class Unit:
    """A work unit: its id, the order key of its executions and its exploration frontier."""

    uid: int
    key: Key
    state: DporState
    counter: int = 0
    barren: float = 0.0
    """When (``time.monotonic``) a split last found nothing to hand out in it."""


@dataclass(slots=True)
class Seen:
    """The first execution (by order key) that showed a finding, and how many did."""

    raw: RawFinding
    schedule: list[int]
    choices: dict[int, int]
    tape: dict[int, list[int]]
    key: Key
    count: int = 1


@dataclass(slots=True)
class Tally:
    """Counters and first witnesses, merged over slices."""

    executions: int = 0
    blocked: int = 0
    steps: int = 0
    findings: dict[FindingKey, Seen] = field(default_factory=dict)
    outcomes: dict[str, list[Any]] = field(default_factory=dict)  # [count, schedule, key]
    edges: dict[tuple[str, str], tuple[Chain, Key, list[int], dict[int, int]]] = field(
        default_factory=dict)
    log: list[tuple[Key, str]] = field(default_factory=list)

    def merge(self, other: Tally) -> None:
        self.executions += other.executions
        self.blocked += other.blocked
        self.steps += other.steps
        for k, s in other.findings.items():
            mine = self.findings.get(k)
            if mine is None:
                self.findings[k] = s
            else:
                count = mine.count + s.count
                if s.key < mine.key:
                    self.findings[k] = s
                self.findings[k].count = count
        for label, (count, sched, key) in other.outcomes.items():
            entry = self.outcomes.get(label)
            if entry is None:
                self.outcomes[label] = [count, sched, key]
            else:
                entry[0] += count
                if key < entry[2]:
                    entry[1], entry[2] = sched, key
        for ek, edge in other.edges.items():
            if ek not in self.edges or edge[1] < self.edges[ek][1]:
                self.edges[ek] = edge
        self.log.extend(other.log)


@dataclass(slots=True)
class SliceResult:
    """What one slice of a unit found; ``unit`` is the unit as it is left (done or not)."""

    unit: Unit
    tally: Tally
    escaped: list[tuple[int, Seq]]
    seconds: float
    resident: bool = False
    """The worker kept the unit's frontier (``unit.state`` is a stand-in)."""


@fewer_collections()
def run_slice(model: Model, unit: Unit, *, max_steps: int, seconds: float,
              max_executions: int | None = None, keep_log: bool = False,
              interrupt: Callable[[], bool] | None = None) -> SliceResult:
    """Explore ``unit`` for about ``seconds`` (at least one execution), or until
    ``interrupt()`` says the coordinator wants it back (checked after each execution once
    :data:`MIN_SLICE` seconds have passed); mutates ``unit``."""
    start = time.monotonic()
    st = unit.state
    st.escaped = []
    graph = LockGraph()
    graph.execution = 0
    tally = Tally()
    edges_seen = 0
    # closed when the slice ends, so that dpor closes the execution it stopped at (the
    # garbage collector does not close a generator compiled with mypyc)
    with closing(dpor(model, max_steps=max_steps, lockdep=graph, state=st)) as runs:
        for ex, sched, blocked in runs:
            key = (*unit.key, unit.counter)
            unit.counter += 1
            tally.executions += 1
            tally.steps += len(sched)
            if blocked:
                tally.blocked += 1
            for raw in ex.findings:
                fk = raw.key()
                seen = tally.findings.get(fk)
                if seen is None:
                    tally.findings[fk] = Seen(raw, sched, dict(ex.choices), ex.thread_choices(),
                                              key)
                else:
                    seen.count += 1
            # a sleep-set-blocked execution stopped part way: it reached no end state
            label = "" if blocked else ex.outcome()
            if not blocked and (label or ex.outcome_fns or ex.labels):
                entry = tally.outcomes.get(label)
                if entry is None:
                    # one byte per step when it can be (text at the end: :func:`schedule_text`)
                    tally.outcomes[label] = [1, compact_schedule(sched, ex.choices), key]
                else:
                    entry[0] += 1
            if keep_log:
                tally.log.append((key, format_schedule(sched, ex.choices)))
            if len(graph.edges) != edges_seen:
                for ek, chain in graph.edges.items():
                    if ek not in tally.edges:
                        tally.edges[ek] = (chain, key, sched, dict(ex.choices))
                edges_seen = len(graph.edges)
            took = time.monotonic() - start
            if st.done or took >= seconds or (
                    max_executions is not None and tally.executions >= max_executions) or (
                    interrupt is not None and took >= MIN_SLICE and interrupt()):
                break
    return SliceResult(unit, tally, _escaped(unit), time.monotonic() - start)


def compact_schedule(sched: list[int], choices: dict[int, int]) -> bytes | str:
    """A schedule as one byte per step when it can be, else as text."""
    if not choices and (not sched or max(sched) < 256):
        return bytes(sched)
    return format_schedule(sched, choices)


def schedule_text(first: bytes | str) -> str:
    """The text of a schedule kept by :func:`compact_schedule`."""
    return format_schedule(list(first)) if isinstance(first, bytes) else first


def _escaped(unit: Unit) -> list[tuple[int, Seq]]:
    """The slice's escaped races, each once (those redundant with the sleep set at their
    node, which the unit has from the coordinator, were never collected)."""
    st = unit.state
    out: list[tuple[int, Seq]] = []
    seen: set[tuple[int, tuple[tuple[int, Any], ...]]] = set()
    for e, v in st.escaped:
        k = (e, tuple(v))
        if k not in seen:
            seen.add(k)
            out.append((e, v))
    st.escaped = []
    return out
