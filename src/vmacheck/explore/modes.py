"""Exploration strategies: optimal DPOR, random walk, PCT and preemption-bounded search.

Each strategy is a generator of finished executions ``(execution, schedule, blocked)``; the
driver in :mod:`vmacheck.explore.api` applies budgets and aggregates findings.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from vmacheck.explore.core import Event, Execution, Footprint
from vmacheck.explore.dpor import (
    LEAF,
    PrefixNode,
    Seq,
    WakeupNode,
    analyse_races,
    conflict,
    copy_tree,
    expand,
)
from vmacheck.explore.happens_before import HappensBefore
from vmacheck.explore.runner import Model, by_step, follow, run_one
from vmacheck.explore.state import NondeterministicModel

Run = tuple[Execution, list[int], bool]

LOCATE_ONCE = True
"""Run an execution again to locate its broken invariants only when one of them is new (the
others are located by the site each op notes when awaited); tests turn it off to compare."""

REPLAY_QUIET = True
"""Replay each execution's prefix quietly: the last execution's happens-before state cut to
the prefix, no race analysis within it, no per-step checks until its end or until the step
after which the last execution's checks failed, whichever comes first (tests turn it off to
compare)."""


@dataclass(slots=True)
class DporState:
    """The frontier of an optimal-DPOR exploration at an execution boundary.

    ``stack`` holds one :class:`PrefixNode` per step of the current prefix; the next execution
    replays its first ``replay_len`` steps and branches at node ``replay_len``.  A work unit of
    a split exploration (:mod:`vmacheck.explore.parallel`) explores the subtree under one step
    of node ``root``: nodes above ``root`` replay a fixed path, races whose reversal point is at
    or above ``root`` are handed back in ``escaped`` (the coordinator owns those nodes), and at
    ``root`` only the values below ``stop`` (0: every value) of the chosen step are explored.
    The sequential explorer is the unit with ``root = -1``.
    """

    stack: list[PrefixNode]
    replay_len: int = 0
    root: int = -1
    stop: int = 0
    escaped: list[tuple[int, Seq]] = field(default_factory=list)
    shape: tuple[tuple[str, ...], int] | None = None
    done: bool = False


OBSERVE_FRONTIER: Callable[[DporState], None] | None = None
"""Called with the exploration state after each execution's backtracking, when set
(``benchmarks/memory.py`` samples the size of the pending wakeup trees with it: compiled code
calls :func:`backtrack` directly, so wrapping it would see nothing)."""


def dpor(model: Model, *, max_steps: int, lockdep: Any = None,
         state: DporState | None = None) -> Generator[Run, None, None]:
    """Optimal DPOR (source sets + wakeup trees); one execution per Mazurkiewicz trace.

    With ``state``, explore from that frontier (and keep it up to date: after each yielded run
    it describes exactly what is left to explore)."""
    st = DporState([PrefixNode({}, [])]) if state is None else state
    stack = st.stack
    # one footprint object per distinct footprint: the wakeup trees and sleep sets that hold
    # thousands of them share it (memory, and smaller pickles of work units)
    interned: dict[Footprint, Footprint] = {}
    pairs: dict[tuple[int, Footprint], tuple[int, Footprint]] = {}
    # the last execution and its happens-before state: the next one replays a prefix of it,
    # whose clocks and checks need not be computed again
    prev: tuple[Execution, HappensBefore] | None = None
    # keys of the broken invariants already located with their whole stack: an execution
    # that breaks only those (located by its ops' own sites) need not run again
    located: set[tuple[object, ...]] = set()
    trust_sites = LOCATE_ONCE
    while not st.done:
        blocked = False
        replay_len = st.replay_len
        # the replayed steps before the first one after which a check failed are quiet (the
        # checks passed there); from that step on the replay is checked as usual
        quiet = 0
        if REPLAY_QUIET and prev is not None and 0 < replay_len <= len(prev[0].events):
            first_failed = min(prev[0].check_failed_at, default=replay_len + 1)
            quiet = max(0, min(replay_len, first_failed - 1))
        if quiet and prev:
            hb = prev[1]  # the last execution's, cut to the quiet prefix (nothing else reads it)
            hb.truncate(quiet, prev[0].events)
        else:
            hb = HappensBefore()

        def choose(ex: Execution, en: list[int], depth: int) -> int | None:
            nonlocal blocked
            if depth == 0:
                now = (tuple(t.name for t in ex.threads), len(ex.objects))
                if st.shape is None:
                    st.shape = now
                elif now != st.shape:
                    raise NondeterministicModel(
                        f"the model built {len(now[0])} threads {list(now[0])} and "
                        f"{now[1]} shared objects, but {len(st.shape[0])} threads "
                        f"{list(st.shape[0])} and {st.shape[1]} objects on its first run; "
                        "the model must build the same state on every run")
            node = stack[depth]
            if node.revalue:  # the same step again, with its choice's next value
                node.revalue = False
                assert node.chosen is not None and node.saved is not None
                node.chosen.children = copy_tree(node.saved)
                return node.chosen.tid
            if depth < replay_len:
                assert node.chosen is not None
                if node.chosen.tid not in en:
                    raise NondeterministicModel(
                        f"replay diverged at step {depth + 1}: thread {node.chosen.tid} is not "
                        "runnable; the model must build the same state on every run")
                return node.chosen.tid
            if node.wut:
                child = node.wut.pop(0)
            else:
                cands = [t for t in en if t not in node.sleep]
                if not cands:
                    blocked = True
                    return None
                child = WakeupNode(cands[0], ())
            if child.tid not in en:
                blocked = True
                return None
            node.chosen = child
            node.value = node.nvalues = 0
            node.saved = None
            return child.tid

        def values(ex: Execution, tid: int, n: int, step: int) -> int:
            node = stack[step]
            if node.nvalues == 0:  # first time this step chooses: explore value 0 first
                node.nvalues = n
                node.value = 0
            elif node.nvalues != n:
                raise NondeterministicModel(
                    f"replay diverged at step {step + 1}: a choice had {node.nvalues} values "
                    f"before and {n} now; the model must build the same state on every run")
            return node.value

        def listener(ex: Execution, ev: Event) -> None:
            d = ev.index
            node = stack[d]
            chosen = node.chosen
            assert chosen is not None
            if d < replay_len:  # a replayed step: its footprint is interned already
                if chosen.fp != ev.fp:
                    raise NondeterministicModel(
                        f"replay diverged at step {d + 1}: thread {ev.tid} touched different "
                        "objects than before; the model must build the same state on every "
                        "run")
                ev.fp = chosen.fp
            else:
                ev.fp = chosen.fp = interned.setdefault(ev.fp, ev.fp)
            if d >= quiet:
                hb.on_step(ex, ev)
            if chosen.tail:
                expand(chosen)
            if node.nvalues > 1 and node.saved is None:
                node.saved = copy_tree(chosen.children)
            if d + 1 == len(stack):
                sleep = {q: f for q, f in node.sleep.items() if q != ev.tid
                         and not conflict(f, ev.fp)}
                stack.append(PrefixNode(sleep, chosen.children or []))
                chosen.children = LEAF

        # invariant sites are not noted on the way (a walk of the coroutine chain per step);
        # an execution whose invariant fired is run again below to locate it exactly
        ex, sched, _ = run_one(model, choose, max_steps=max_steps, listener=listener,
                               lockdep=lockdep, values=values, sites=False, quiet_until=quiet,
                               replayed=prev[0].events if quiet and prev else (),
                               replayed_acyclic=prev[0].cycle_from if quiet and prev else 0)
        if not blocked:
            # a thread left waiting at the end races with the step that disabled it (an
            # execution cut by the step limit is taken as it is: its runnable threads' next
            # ops are not raced, else every livelock would explode into all its prefixes)
            for t in ex.threads:
                if t.live and t.pending is not None and not ex.is_enabled(t.tid):
                    hb.on_pending(ex, t.tid)
        analyse_races(stack, hb, ex, root=st.root, escaped=st.escaped, pairs=pairs)
        backtrack(st)
        if OBSERVE_FRONTIER is not None:
            OBSERVE_FRONTIER(st)
        if prev is not None:
            prev[0].close()
        prev = (ex, hb)
        inv = [f.key() for f in ex.findings if f.kind == "invariant"]
        if inv and not (trust_sites and located.issuperset(inv)):
            again = _located(model, ex, sched, max_steps, blocked)
            keys = [f.key() for f in again.findings if f.kind == "invariant"]
            if sorted(map(repr, keys)) != sorted(map(repr, inv)):
                trust_sites = False  # a location disagreed: from now on always run again
            located.update(keys)
            ex = again
        try:
            yield ex, sched, blocked
        except GeneratorExit:  # the consumer stopped early: nothing reads it any more
            prev[0].close()
            raise
        finally:
            if ex is not prev[0]:  # a located re-run: nothing reads it any more
                ex.close()
    if prev is not None:
        prev[0].close()


def _located(model: Model, ex: Execution, sched: list[int], max_steps: int,
             blocked: bool) -> Execution:
    """``ex`` run again along its schedule and choices with invariant sites noted, so that a
    broken invariant is located where the step that broke it was awaited.  Up to the first
    step after which a check failed, the run is quiet (no checks, no sites: they passed the
    first time); there every check runs, then the run goes on as usual.  (Lock-order edges
    were recorded by the first run; this one has no lockdep.)"""
    first = min(ex.check_failed_at, default=0)
    again, _, _ = run_one(model, follow(sched, stop=blocked), max_steps=max_steps,
                          values=by_step(dict(ex.choices)), quiet_until=first,
                          replayed=ex.events, replayed_acyclic=ex.cycle_from)
    again.truncated = ex.truncated
    again.abandoned = ex.abandoned
    return again


def backtrack(st: DporState) -> None:
    """After an execution: move ``st`` to the next branch (the next value of a choice, else
    the next wakeup-tree child of the deepest node that has one), or mark it done."""
    assert not LEAF, "a wakeup-tree leaf was given children in place"
    stack = st.stack
    while len(stack) > st.root + 1 and stack[-1].chosen is None:
        stack.pop()
    while stack and len(stack) > st.root:
        d = len(stack) - 1
        node = stack[-1]
        c = node.chosen
        assert c is not None
        limit = node.nvalues if d != st.root or not st.stop else min(node.nvalues, st.stop)
        if node.value + 1 < limit:
            node.value += 1
            node.revalue = True
            st.replay_len = d
            return
        if d == st.root:
            break
        node.sleep[c.tid] = c.fp
        node.chosen = None
        node.value = node.nvalues = 0
        node.saved = None
        if node.wut:
            st.replay_len = d
            return
        stack.pop()
    st.done = True


def _closed_after(ex: Execution, sched: list[int]) -> Iterator[Run]:
    """Yield one run; close its execution once the consumer is done with it (it asks for the
    next run, or stops)."""
    try:
        yield ex, sched, False
    finally:
        ex.close()


def random_walk(model: Model, *, seed: int, max_steps: int, lockdep: Any = None) -> Iterator[Run]:
    """Uniform random scheduling: at every step any runnable thread, equally likely."""
    rng = random.Random(seed)

    def values(ex: Execution, tid: int, n: int, step: int) -> int:
        return rng.randrange(n)

    while True:
        ex, sched, _ = run_one(model, lambda ex, en, d: rng.choice(en), max_steps=max_steps,
                               lockdep=lockdep, values=values)
        yield from _closed_after(ex, sched)


def pct(model: Model, *, seed: int, depth: int, max_steps: int,
        lockdep: Any = None) -> Iterator[Run]:
    """Probabilistic Concurrency Testing (Burckhardt et al., ASPLOS 2010) with bug depth d.

    Threads get random distinct priorities above ``d``; ``d - 1`` change points are drawn over
    the estimated execution length; the highest-priority runnable thread always runs, and at
    the i-th change point the running thread drops to priority i.
    """
    rng = random.Random(seed)
    estimate = 64

    def values(ex: Execution, tid: int, n: int, step: int) -> int:
        return rng.randrange(n)

    while True:
        priorities: dict[int, float] = {}
        changes = sorted(rng.sample(range(1, max(estimate, depth) + 1), max(depth - 1, 0)))
        change_at = {step: i + 1 for i, step in enumerate(changes)}

        def choose(ex: Execution, en: list[int], step: int) -> int:
            for t in en:
                if t not in priorities:
                    priorities[t] = depth + rng.random() * 1000
            best = max(en, key=lambda t: priorities[t])
            if step in change_at:
                priorities[best] = depth - change_at[step] + rng.random() * 1e-3
                best = max(en, key=lambda t: priorities[t])
            return best

        ex, sched, _ = run_one(model, choose, max_steps=max_steps, lockdep=lockdep,
                               values=values)
        estimate = max(estimate, len(sched))
        yield from _closed_after(ex, sched)


def preemption_bounded(model: Model, *, bound: int, max_steps: int,
                       lockdep: Any = None) -> Iterator[Run]:
    """Every schedule with at most ``bound`` preemptions (CHESS, Musuvathi and Qadeer, PLDI
    2007).  A switch away from a thread that could still run costs one preemption.  Every
    value of every nondeterministic choice is explored (choices cost no preemption)."""
    # one entry per step: [untried alternatives, chosen, preemptions before, runnable previous]
    stack: list[tuple[list[int], int, int, int | None]] = []
    vals: dict[int, list[int]] = {}  # per step that chose: [value, number of values]

    def used_after(entry: tuple[list[int], int, int, int | None]) -> int:
        _, chosen, before, prev = entry
        return before + (1 if prev is not None and chosen != prev else 0)

    def values(ex: Execution, tid: int, n: int, step: int) -> int:
        entry = vals.get(step)
        if entry is None:
            vals[step] = [0, n]
            return 0
        return entry[0]

    while True:
        prefix = [e[1] for e in stack]

        def choose(ex: Execution, en: list[int], depth: int) -> int | None:
            if depth < len(prefix):
                return prefix[depth]
            last = ex.events[-1].tid if ex.events else None
            prev = last if last in en else None
            before = used_after(stack[-1]) if stack else 0
            options = ([prev] if prev is not None else []) + [t for t in en if t != prev]
            if prev is not None and before >= bound:
                options = [prev]
            stack.append((options[1:], options[0], before, prev))
            return options[0]

        ex, sched, _ = run_one(model, choose, max_steps=max_steps, lockdep=lockdep,
                               values=values)
        yield from _closed_after(ex, sched)
        while stack:
            d = len(stack) - 1
            entry = vals.get(d)
            if entry is not None and entry[0] + 1 < entry[1]:
                entry[0] += 1
                break
            vals.pop(d, None)
            if stack[-1][0]:
                alts, _, before, prev = stack.pop()
                stack.append((alts[1:], alts[0], before, prev))
                break
            stack.pop()
        if not stack:
            return
        for step in [k for k in vals if k >= len(stack)]:
            del vals[step]
