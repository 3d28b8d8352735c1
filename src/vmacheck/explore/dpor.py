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

from vmacheck.explore.core import Execution, Footprint
from vmacheck.explore.happens_before import HappensBefore

Seq = list[tuple[int, Footprint]]


def conflict(a: Footprint, b: Footprint) -> bool:
    """True when two footprints touch one object and at least one of them writes it."""
    for o1, w1 in a:
        for o2, w2 in b:
            if o1 == o2 and (w1 or w2):
                return True
    return False


LEAF: list[WakeupNode] = []
"""The children of every leaf, shared (one empty list instead of one per leaf): never
appended to; code that appends to a node's children does so only when it has some."""


class WakeupNode:
    """A node of a wakeup tree: the next step of thread ``tid`` and what it touches.

    A branch that has not forked yet is kept compact: ``tail`` holds the steps after this one
    as ``(thread, footprint)`` pairs (and ``children`` is empty) until :func:`expand` turns
    its first step into a child node.  Most of a wakeup tree is such chains.  (A plain class,
    not a dataclass: compiled, a dataclass is built through the interpreter's ``__init__``,
    and the explorer builds one node per step.)"""

    __slots__ = ("children", "fp", "tail", "tid")

    def __init__(self, tid: int, fp: Footprint, children: list[WakeupNode] | None = None,
                 tail: tuple[tuple[int, Footprint], ...] = ()) -> None:
        self.tid = tid
        self.fp = fp
        self.children: list[WakeupNode] = LEAF if children is None else children
        self.tail = tail

    def __repr__(self) -> str:
        return f"WakeupNode({self.tid}, {self.fp}, {self.children}, {self.tail})"

    def __reduce__(self) -> tuple[object, ...]:
        # compact pickles for work units, and leaves share LEAF again once unpickled
        return (_node, (self.tid, self.fp, self.children or None, self.tail))


def _node(tid: int, fp: Footprint, children: list[WakeupNode] | None,
          tail: tuple[tuple[int, Footprint], ...]) -> WakeupNode:
    return WakeupNode(tid, fp, LEAF if children is None else children, tail)


def expand(node: WakeupNode) -> list[WakeupNode]:
    """The children of ``node``, materialising the first step of its compact tail."""
    if node.tail:
        t, fp = node.tail[0]
        node.children = [WakeupNode(t, fp, LEAF, node.tail[1:])]
        node.tail = ()
    return node.children


def chain(w: Seq) -> WakeupNode:
    """A wakeup tree branch for the non-empty sequence ``w``."""
    return WakeupNode(w[0][0], w[0][1], LEAF, tuple(w[1:]))


class PrefixNode:
    """Exploration state for one prefix of the current execution.

    When the chosen step makes a nondeterministic choice (``vmacheck.explore.choice``),
    ``nvalues`` is its number of values and ``value`` the one being explored; the step goes
    into the sleep set only after every value has been explored.  A choice touches no shared
    object, so each value is one more branch of the same step, explored from the same sleep
    set and with the same wakeup subtree (``saved``, copied before the first value used it).
    """

    __slots__ = ("chosen", "nvalues", "revalue", "saved", "sleep", "value", "wut")

    def __init__(self, sleep: dict[int, Footprint], wut: list[WakeupNode],
                 chosen: WakeupNode | None = None, value: int = 0, nvalues: int = 0,
                 revalue: bool = False, saved: list[WakeupNode] | None = None) -> None:
        self.sleep = sleep
        self.wut = wut
        self.chosen = chosen
        self.value = value
        self.nvalues = nvalues
        self.revalue = revalue
        self.saved = saved

    def __repr__(self) -> str:
        return (f"PrefixNode(sleep={self.sleep}, wut={self.wut}, chosen={self.chosen}, "
                f"value={self.value}, nvalues={self.nvalues})")

    def __reduce__(self) -> tuple[object, ...]:
        return (PrefixNode, (self.sleep, self.wut, self.chosen, self.value, self.nvalues,
                             self.revalue, self.saved))


def copy_tree(nodes: list[WakeupNode]) -> list[WakeupNode]:
    """A deep copy of a wakeup (sub)tree."""
    return [WakeupNode(n.tid, n.fp, copy_tree(n.children) if n.children else LEAF, n.tail)
            for n in nodes]


def weak_initial(p: int, p_fp: Footprint, w: Seq) -> bool:
    """Is thread ``p`` a weak initial of sequence ``w``?  (JACM 2017, Definition 6.2.)

    When ``p`` occurs in ``w``, no step before its first one may conflict with it; else no
    step of ``w`` may conflict with ``p_fp``.  (Loops written out: this is the explorer's
    innermost loop.)"""
    end = len(w)
    for i, (t, fp) in enumerate(w):
        if t == p:
            p_fp = fp
            end = i
            break
    for j in range(end):
        for o1, w1 in w[j][1]:
            for o2, w2 in p_fp:
                if o1 == o2 and (w1 or w2):
                    return False
    return True


def _initial(fp: Footprint, touched: dict[int, bool]) -> bool:
    """No earlier step (``touched``: object -> written by one of them) conflicts with ``fp``."""
    for o, w in fp:
        ew = touched.get(o)
        if ew is not None and (w or ew):
            return False
    return True


def _without_first(w: Seq, p: int) -> Seq:
    for i, (t, _) in enumerate(w):
        if t == p:
            return w[:i] + w[i + 1:]
    return w


def _first_touches(w: Seq) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """For ``w``: each thread's first step, each object's first access and first write."""
    ft: dict[int, int] = {}
    fa: dict[int, int] = {}
    fw: dict[int, int] = {}
    for i, (t, fp) in enumerate(w):
        if t not in ft:
            ft[t] = i
        for o, wr in fp:
            if o not in fa:
                fa[o] = i
            if wr and o not in fw:
                fw[o] = i
    return ft, fa, fw


def insert(node: PrefixNode, v: Seq) -> bool:
    """Insert ``v`` into the wakeup tree of a prefix; False when it was already covered.

    At a node with many children, where each child would be tested with
    :func:`weak_initial` against the same sequence, the sequence's first touches are
    computed once and each test looks only at the child's own footprint."""
    children = node.wut
    w = v
    while True:
        if len(children) > 3:
            ft, fa, fw = _first_touches(w)
            n = len(w)
            for child in children:
                end = ft.get(child.tid, n)
                cfp = child.fp if end == n else w[end][1]
                for o, wr in cfp:
                    i = fa.get(o) if wr else fw.get(o)
                    if i is not None and i < end:
                        break
                else:
                    break  # child is a weak initial of w
            else:
                child = None
        else:
            for child in children:
                if weak_initial(child.tid, child.fp, w):
                    break
            else:
                child = None
        if child is None:
            if not w:
                return False
            children.append(chain(w))
            return True
        if not (child.children or child.tail):
            return False
        w = _without_first(w, child.tid)
        children = expand(child)


def _states_before(hb: HappensBefore, ex: Execution, fp: Footprint, e: int, e2: int,
                   notdep: set[int]) -> dict[int, object]:
    """The states of the objects in ``fp`` when step ``e2`` runs in the reversed execution
    (the steps before ``e``, then those after ``e`` that do not happen after it, then ``e2``):
    each object is as its last writer among those steps left it."""
    out: dict[int, object] = {}
    for oid, _ in fp:
        h = hb.hist.get(oid, [])
        last = -1
        for j, (idx, w, _, _) in enumerate(h):
            if idx >= e2:
                break
            if w and (idx < e or idx in notdep):
                last = j
        obj = ex.objects[oid]
        assert obj is not None  # a footprint names objects made
        out[oid] = next((snap for _, w, snap, _ in h[last + 1:] if w), obj.snapshot())
    return out


def analyse_races(stack: list[PrefixNode], hb: HappensBefore, ex: Execution, *,
                  root: int = -1, escaped: list[tuple[int, Seq]] | None = None,
                  pairs: dict[tuple[int, Footprint], tuple[int, Footprint]] | None = None
                  ) -> int:
    """At the end of an execution, turn each reversible race into a wakeup sequence.  A race
    whose reversal point is at or above ``root`` (a node a work unit does not own) goes to
    ``escaped`` as ``(step index, sequence)`` for its owner to insert.  ``pairs`` interns the
    ``(thread, footprint)`` steps of the sequences (wakeup trees keep many copies)."""
    if pairs is None:
        pairs = {}
    inserted = 0
    events = ex.events
    n = len(events)
    clocks = hb.clocks
    seqs = hb.seq
    races = [(e, e2, events[e2].tid, events[e2].fp) for e, e2 in hb.races]
    races.extend((e, n, p, fp) for e, p, fp in hb.blocked_races)
    if not races:
        return 0
    # each event's (thread, footprint), interned, from the first one a sequence can hold on
    lo = min(e for e, _, _, _ in races) + 1
    steps: list[tuple[int, Footprint]] = [(-1, ())] * lo
    for x in range(lo, n):
        ev = events[x]
        pair = (ev.tid, ev.fp)
        steps.append(pairs.setdefault(pair, pair))
    for e, e2, p, fp in races:
        if e >= len(stack):
            continue
        node = stack[e]
        v: Seq = []
        xs: list[int] = []  # the events of v, in order
        et = events[e].tid  # x happens after e when x's clock has seen e (happens_after)
        eseq = seqs[e]
        # a sleeping thread that is a weak initial of v makes the race redundant: decided at
        # its first step in v (against the objects touched and written before it), so v is
        # built only as far as it must be
        waiting = dict(node.sleep) if node.sleep else None
        touched: dict[int, bool] = {}  # object -> written, over v so far (while waiting)
        redundant = False
        for x in range(e + 1, n):
            if x == e2:
                continue
            c = clocks[x]
            if et < len(c) and c[et] >= eseq:
                continue
            step = steps[x]
            if waiting:
                t, xfp = step
                if t in waiting:
                    del waiting[t]
                    if _initial(xfp, touched):
                        redundant = True
                        break
                for o, w in xfp:
                    if w or o not in touched:
                        touched[o] = w
            xs.append(x)
            v.append(step)
        if redundant:
            continue
        op = events[e2].op if e2 < n else ex.threads[p].pending
        if op is not None and op.footprint_varies:
            fp = op.footprint_on(_states_before(hb, ex, fp, e, e2, set(xs)), fp)
        last = (p, fp)
        v.append(pairs.setdefault(last, last))
        if waiting:
            if p in waiting:
                if _initial(fp, touched):
                    continue
                del waiting[p]
            for o, w in fp:
                if w or o not in touched:
                    touched[o] = w
            if any(_initial(fq, touched) for fq in waiting.values()):
                continue
        if e <= root:
            if escaped is not None:
                escaped.append((e, v))
            continue
        if insert(node, v):
            inserted += 1
    return inserted
