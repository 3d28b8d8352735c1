"""Optimal dynamic partial-order reduction: source sets with wakeup trees and sleep sets.

The algorithm is the Optimal-DPOR of Abdulla, Aronis, Jonsson and Sagonas ("Optimal Dynamic
Partial Order Reduction", POPL 2014; "Source Sets", JACM 2017, Algorithm 2), run statelessly:
each execution replays its prefix from a freshly built model.  It explores one execution per
Mazurkiewicz trace and none is blocked by its sleep set.

Dependence: two steps of one thread; or two touches of one object where at least one writes.
Blocking operations (lock grants, joins, wait-loop retries) are handled by telling reversible
races from enabling ones: a race between an earlier step ``e`` and a later blocking step ``e'``
is reversible only if ``e'`` was enabled in the state just before ``e`` (the op's
``enabled_on``).  An enabling step only orders (happens-before), so a lock acquisition races
with the previous acquisition, not with the release that let it run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmacheck.explore.core import Event, Execution, Footprint

Seq = list[tuple[int, Footprint]]


def conflict(a: Footprint, b: Footprint) -> bool:
    """True when two footprints touch one object and at least one of them writes it."""
    for o1, w1 in a:
        for o2, w2 in b:
            if o1 == o2 and (w1 or w2):
                return True
    return False


@dataclass(slots=True)
class WakeupNode:
    """A node of a wakeup tree: the next step of thread ``tid`` and what it touches."""

    tid: int
    fp: Footprint
    children: list[WakeupNode] = field(default_factory=list)


@dataclass(slots=True)
class PrefixNode:
    """Exploration state for one prefix of the current execution."""

    sleep: dict[int, Footprint]
    wut: list[WakeupNode]
    chosen: WakeupNode | None = None


class HappensBefore:
    """Vector clocks and race detection for one execution, fed step by step."""

    __slots__ = ("clocks", "hist", "races", "seq", "thread_clock", "thread_seq")

    def __init__(self) -> None:
        self.clocks: list[list[int]] = []
        self.seq: list[int] = []
        self.thread_clock: dict[int, list[int]] = {}
        self.thread_seq: dict[int, int] = {}
        self.hist: dict[int, list[tuple[int, bool, object]]] = {}
        self.races: list[tuple[int, int]] = []

    def on_step(self, ex: Execution, ev: Event) -> None:
        p = ev.tid
        n = len(ex.threads)
        base = list(self.thread_clock.get(p, ()))
        if len(base) < n:
            base.extend([0] * (n - len(base)))
        k = self.thread_seq.get(p, 0) + 1
        base[p] = k
        acc = base
        full = list(base)
        if ev.joined >= 0:
            _join(full, self.thread_clock.get(ev.joined, []))
            acc = list(full)
        candidates: list[tuple[int, bool]] = []
        op = ev.op
        index = ev.index
        for pos, (oid, w) in enumerate(ev.fp):
            h = self.hist.get(oid)
            if h is None:
                h = self.hist[oid] = []
            for j in range(len(h) - 1, -1, -1):
                idx, ew, snap = h[j]
                other = ex.events[idx]
                if not (w or ew):
                    continue
                if other.tid == p:
                    if ew:
                        break
                    continue
                sync = op.blocking and not op.enabled_on(oid, snap, ex, p)
                candidates.append((idx, sync))
                if ew and not sync:
                    break
            h.append((index, w, ev.snaps[pos] if pos < len(ev.snaps) else None))
        if len(candidates) > 1:
            candidates.sort(reverse=True)
        clocks = self.clocks
        seqs = self.seq
        events = ex.events
        for idx, sync in candidates:
            c = clocks[idx]
            if sync:
                _join(full, c)
                continue
            if acc[events[idx].tid] >= seqs[idx]:
                continue
            self.races.append((idx, index))
            if acc is base:
                acc = list(base)
            _join(acc, c)
        _join(full, acc)
        clocks.append(full)
        seqs.append(k)
        self.thread_clock[p] = full
        self.thread_seq[p] = k
        if ev.spawned >= 0:
            self.thread_clock[ev.spawned] = list(full)
            self.thread_seq[ev.spawned] = 0

    def happens_after(self, later: int, earlier: int, ex: Execution) -> bool:
        c = self.clocks[later]
        t = ex.events[earlier].tid
        return t < len(c) and c[t] >= self.seq[earlier]


def _join(into: list[int], other: list[int]) -> None:
    if len(other) > len(into):
        into.extend([0] * (len(other) - len(into)))
    for i, v in enumerate(other):
        if v > into[i]:
            into[i] = v


def weak_initial(p: int, p_fp: Footprint, w: Seq) -> bool:
    """Is thread ``p`` a weak initial of sequence ``w``?  (JACM 2017, Definition 6.2.)"""
    for i, (t, fp) in enumerate(w):
        if t == p:
            return all(not conflict(w[j][1], fp) for j in range(i))
    return all(not conflict(p_fp, fp) for _, fp in w)


def _without_first(w: Seq, p: int) -> Seq:
    for i, (t, _) in enumerate(w):
        if t == p:
            return w[:i] + w[i + 1:]
    return w


def insert(node: PrefixNode, v: Seq) -> bool:
    """Insert ``v`` into the wakeup tree of a prefix; False when it was already covered."""
    children = node.wut
    w = v
    while True:
        for child in children:
            if weak_initial(child.tid, child.fp, w):
                if not child.children:
                    return False
                w = _without_first(w, child.tid)
                children = child.children
                break
        else:
            if not w:
                return False
            head = WakeupNode(w[0][0], w[0][1])
            tail = head
            for t, fp in w[1:]:
                nxt = WakeupNode(t, fp)
                tail.children.append(nxt)
                tail = nxt
            children.append(head)
            return True


def analyse_races(stack: list[PrefixNode], hb: HappensBefore, ex: Execution) -> int:
    """At the end of an execution, turn each reversible race into a wakeup sequence."""
    inserted = 0
    events = ex.events
    n = len(events)
    for e, e2 in hb.races:
        if e >= len(stack):
            continue
        node = stack[e]
        v: Seq = []
        for x in range(e + 1, n):
            if x == e2 or hb.happens_after(x, e, ex):
                continue
            v.append((events[x].tid, events[x].fp))
        v.append((events[e2].tid, events[e2].fp))
        if any(weak_initial(q, fq, v) for q, fq in node.sleep.items()):
            continue
        if insert(node, v):
            inserted += 1
    return inserted
