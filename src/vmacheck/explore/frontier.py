"""The coordinator's side of a split DPOR exploration: the top of the tree and its work units.

A *work unit* is a subtree of the optimal-DPOR tree: the path to one node (the thread and
choice value of each step, replayed), the sleep set at that node, the step explored from it
(with its wakeup subtree, or a range of its choice values) and, once it has run for a while,
the unit's own exploration frontier below (:class:`vmacheck.explore.modes.DporState`).  Units
run anywhere (another process, a Dask worker) and hand back their tallies, their remaining
frontier, and the races whose reversal point lies at or above their root ("escaped" races).

The nodes above every unit are *coordinator nodes* (:class:`CNode`).  Each has the sleep set it
had when it was split off a unit and an ordered list of :class:`Entry` (one per step explored
from it: running or done units, and pending wakeup sequences).  An escaped race is inserted
at its node exactly as the sequential explorer would insert it while that entry was being
explored: it is redundant if a thread of the node's sleep set or of an earlier entry is a weak
initial of it; it is covered (or descends into the pending wakeup subtree) when a later entry
is a weak initial; otherwise it becomes a new pending entry.  Because every unit uses the
sleep set of the entries ordered before it, two units never explore equivalent executions.

Later entries may start while earlier ones still run (that is the parallelism), so a race
found under an earlier entry may have to extend the wakeup subtree of a later entry that is
already out (the sequential explorer would have added it before that entry started).  The
coordinator keeps each handed-out entry's wakeup subtree and replays the insertion on it:
when it is covered nothing changes; when it adds a branch, the later entry is *rolled back*:
everything found under it is discarded, its units are cancelled, and it is handed out again
with the extended wakeup subtree, exactly as the sequential explorer would have explored it.
What was discarded is counted (:attr:`Frontier.discarded`): it is the redundancy of the split,
spent CPU only; the executions, outcomes and findings reported are those of the sequential
explorer.  Tallies are kept per entry until the end for that reason.  To roll back less, an
entry whose subtree grew lately while an earlier entry at its node still has work is *hot*
(:func:`vmacheck.explore.cnodes.hot`) and waits while other work runs.  A unit whose worker kept its
frontier between slices (:mod:`vmacheck.explore.pool`) has its tallies held back
(:attr:`Frontier.unsynced`) until the coordinator has that frontier again, so a lost worker
loses nothing counted.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

from vmacheck.explore.cnodes import Anchor, CNode, Entry, frozen, hot, incomplete, path_of
from vmacheck.explore.dpor import (
    PrefixNode,
    Seq,
    WakeupNode,
    _without_first,
    chain,
    copy_tree,
    expand,
    insert,
    weak_initial,
)
from vmacheck.explore.modes import DporState
from vmacheck.explore.units import Key, Tally, Unit

BARREN = 0.5
"""Seconds before a resident unit that had nothing to split is fetched to be split again."""

class Frontier:
    """Coordinator nodes, pending entries and units, and the counters of race insertion."""

    def __init__(self) -> None:
        self.queue: list[tuple[Key, int, Unit | tuple[CNode, int]]] = []
        self.anchors: dict[int, Anchor] = {}
        self.running: dict[int, Unit] = {}
        self.cnodes: list[CNode] = []
        self.top = Tally()
        self.next_uid = 0
        self.ran = 0
        self.seq = 0
        self.inserted = self.covered = 0
        self.rollbacks = self.discarded = self.splits = 0
        self.unsynced: dict[int, Tally] = {}
        """Per resident unit, what its slices found since its frontier was last here."""
        self.deferred: list[tuple[Anchor, list[tuple[int, Seq]]]] = []
        """Escaped races not inserted yet (:meth:`insert_escaped`)."""
        self.gone: list[int] = []
        """Units cancelled since the driver last looked (their workers may free them)."""
        self._push(self._new_unit((), DporState([PrefixNode({}, [])]), []))

    # -- queue -----------------------------------------------------------------------------
    def _new_unit(self, key: Key, state: DporState, anchor: Anchor) -> Unit:
        u = Unit(self.next_uid, key, state)
        self.next_uid += 1
        self.anchors[u.uid] = anchor
        return u

    def _push(self, item: Unit | tuple[CNode, int]) -> None:
        key = item.key if isinstance(item, Unit) else item[0].entries[item[1]].key
        self.seq += 1
        heapq.heappush(self.queue, (key, self.seq, item))

    def counted(self) -> int:
        """The executions that count so far: those run, less those discarded and those of
        resident units cancelled since (discarded when next seen)."""
        lost = sum(t.executions for uid, t in self.unsynced.items() if not self.live(uid))
        return self.ran - self.discarded - lost

    def pending(self) -> int:
        return len(self.queue)

    def ready(self) -> int:
        """Queued work that :meth:`take` hands out even when ``patient``."""
        busy = self._incomplete()
        return sum(1 for _, _, item in self.queue
                   if isinstance(item, Unit) or not hot(item[0], item[1], busy, self.ran))

    def _incomplete(self) -> set[tuple[int, int]]:
        return incomplete(self.anchors.values(),
                          [item[0] for _, _, item in self.queue if not isinstance(item, Unit)])

    def take(self, ok: Callable[[Unit], bool] | None = None,
             patient: bool = False) -> Unit | None:
        """The pending work that comes first in the sequential order, as a unit (it is
        recorded as running until :meth:`finish` or :meth:`requeue_running`); with ``ok``,
        the first unit it accepts (a unit resident on a busy worker waits for it); when
        ``patient`` (other work is running), not an entry that is likely to be rolled back
        (:func:`vmacheck.explore.cnodes.hot`): its worker had better wait for a split."""
        skipped: list[tuple[Key, int, Unit | tuple[CNode, int]]] = []
        busy = self._incomplete() if patient else set()
        try:
            while self.queue:
                top = heapq.heappop(self.queue)
                item = top[2]
                if isinstance(item, Unit):
                    if not self.live(item.uid):
                        self._forget(item.uid, None)
                        continue
                    if ok is not None and not ok(item):
                        skipped.append(top)
                        continue
                    unit = item
                else:
                    node, idx = item
                    e = node.entries[idx]
                    if node.dead or e.dead or e.hint is None:
                        continue
                    if patient and hot(node, idx, busy, self.ran):
                        skipped.append(top)
                        continue
                    unit = self._entry_unit(node, idx)
                self.running[unit.uid] = unit
                return unit
            return None
        finally:
            for top in skipped:
                heapq.heappush(self.queue, top)

    def requeue_running(self) -> None:
        """Put every running unit back (its worker died, or the run resumes from a file)."""
        for unit in self.running.values():
            self._push(unit)
        self.running.clear()

    def lose(self, uids: list[int]) -> None:
        """The worker that held these units died: what their slices found since the
        coordinator last had their frontier is discarded, and they run again from it."""
        for uid in uids:
            held = self.unsynced.pop(uid, None)
            if held is not None:
                self.discarded += held.executions
            unit = self.running.pop(uid, None)
            if unit is not None:
                self._push(unit)

    def _forget(self, uid: int, tally: Tally | None) -> None:
        """A unit that was cancelled by a roll-back: what it found is discarded."""
        held = self.unsynced.pop(uid, None)
        for t in (tally, held):
            if t is not None:
                self.discarded += t.executions
        self.anchors.pop(uid, None)
        self.gone.append(uid)

    def _credit(self, uid: int, tally: Tally) -> None:
        """Keep a unit's tallies (and those held back while it was resident) with its
        entry."""
        anchor = self.anchors[uid]
        held = self.unsynced.pop(uid, None)
        if anchor:
            cn, i, _ = anchor[-1]
            e = cn.entries[i]
            if e.tally is None:
                e.tally = Tally()
            into = e.tally
        else:
            into = self.top
        if held is not None:
            into.merge(held)
        into.merge(tally)

    def live(self, uid: int) -> bool:
        """False once the unit was cancelled by a roll-back above it."""
        anchor = self.anchors.get(uid)
        if anchor is None:
            return False
        return all(not cn.dead and cn.entries[i].gen == g and not cn.entries[i].dead
                   for cn, i, g in anchor)

    def _entry_unit(self, cn: CNode, i: int) -> Unit:
        e = cn.entries[i]
        sleep = cn.sleep_for(i)
        hint = e.hint or []
        e.orig = hint  # units run on a copy (pickled to a worker), never on this tree
        e.hint = None
        if e.start == 0:
            root = PrefixNode(sleep, [WakeupNode(e.tid, e.fp, hint)])
        else:
            root = PrefixNode(sleep, [], WakeupNode(e.tid, e.fp), e.start, e.nvalues, True, hint)
        sleeps = [up.sleep_for(k) for up, k, _ in cn.up]
        state = DporState([*frozen(cn.prefix, sleeps), root], replay_len=cn.depth,
                          root=cn.depth, stop=e.stop)
        return self._new_unit(e.key, state, [*cn.up, (cn, i, e.gen)])

    # -- results ---------------------------------------------------------------------------
    def finish(self, unit: Unit, tally: Tally, escaped: list[tuple[int, Seq]],
               split: bool, want: int = 2, *, resident: bool = False,
               fetch: Callable[[Unit], Unit] | None = None) -> None:
        """A unit ran a slice: keep its tallies with its entry, insert its escaped races,
        requeue what is left of it; when ``split`` (idle workers are waiting), first hand out
        its pending work, topmost node first, until ``want`` more items are queued.  A
        ``resident`` unit's frontier stayed with its worker (``unit`` is the coordinator's
        older copy): its tallies are held back until ``fetch`` brings the frontier (to split
        it) or the unit is done, so that a lost worker loses nothing that was counted."""
        self.running.pop(unit.uid, None)
        if not self.live(unit.uid):
            self._forget(unit.uid, tally)
            return
        anchor = self.anchors[unit.uid]
        if resident:
            self.unsynced.setdefault(unit.uid, Tally()).merge(tally)
        else:
            self._credit(unit.uid, tally)
        if escaped:
            self.deferred.append((anchor, escaped))
        if unit.state.done and not resident:
            del self.anchors[unit.uid]
            return
        now = time.monotonic()
        if split and resident and fetch is not None and now - unit.barren >= BARREN:
            unit = fetch(unit)
            self._credit(unit.uid, Tally())
            resident = False
        start = len(self.queue)
        while split and not resident and len(self.queue) < start + want:
            step = self._split(unit)
            if step == "gone":
                return
            if step == "none":
                if len(self.queue) == start:
                    unit.barren = now
                break
        self._push(unit)

    def insert_escaped(self) -> None:
        """Insert the races that escaped the slices :meth:`finish` took since the last call
        (the driver hands out work first: a worker need not wait for this).  A race from an
        entry that was rolled back since is dropped: the entry runs again and finds it."""
        deferred, self.deferred = self.deferred, []
        for anchor, escaped in deferred:
            for d, v in escaped:
                cn, i, gen = anchor[d]
                e = cn.entries[i]
                if not (cn.dead or e.dead or e.gen != gen):
                    self._insert(cn, i, v)

    def _insert(self, cn: CNode, i: int, v: Seq) -> None:
        # (not redundant: the unit dropped the races a thread of ``cn.sleep_for(i)``, the
        # sleep set of its frozen node, is a weak initial of; the entries before ``i`` never
        # change once it is handed out)
        seen = {cn.entries[i].tid}
        for j in range(i + 1, len(cn.entries)):
            e = cn.entries[j]
            if e.tid in seen or e.dead:
                continue
            seen.add(e.tid)
            if not weak_initial(e.tid, e.fp, v):
                continue
            tree = e.hint if e.hint is not None else e.orig
            assert tree is not None
            if tree and insert(PrefixNode({}, tree), _without_first(v, e.tid)):
                self.inserted += 1
                e.grown = self.ran
                if e.hint is None:
                    self._rollback(cn, j)
            else:
                self.covered += 1
            return
        head = v[0]
        hint = [chain(v[1:])] if len(v) > 1 else []
        cn.entries.append(Entry(head[0], head[1], (*cn.key, len(cn.entries)), hint))
        self.inserted += 1
        self._push((cn, len(cn.entries) - 1))

    def _rollback(self, cn: CNode, j: int) -> None:
        """Entry ``j`` was handed out with a wakeup subtree that has now grown: discard what
        was found under it (and under its later values) and hand it out again."""
        self.rollbacks += 1
        x = cn.entries[j]
        for e in cn.entries[j:]:
            if e.tid != x.tid or e.dead:
                continue
            if e.tally is not None:
                self.discarded += e.tally.executions
                e.tally = None
            for below in e.below:
                self._kill(below)
            e.below = []
            if e is not x:
                e.dead = True
                e.hint = None
        x.gen += 1
        x.hint = x.orig
        x.orig = None
        x.start = x.stop = 0
        self._push((cn, j))

    def _kill(self, cn: CNode) -> None:
        cn.dead = True
        for e in cn.entries:
            if e.tally is not None:
                self.discarded += e.tally.executions
                e.tally = None
            for below in e.below:
                self._kill(below)

    def _split(self, unit: Unit) -> str:
        """Hand out the pending work at the unit's topmost node that has some: "none" when
        there is none, "gone" when nothing is left in progress, else "split"."""
        st = unit.state
        stack = st.stack
        r = st.root
        k = len(stack) - 1
        j = -1
        for d in range(max(r, 0), k + 1):
            node = stack[d]
            more = node.chosen is not None and node.value + 1 < (
                min(node.nvalues, st.stop) if d == r and st.stop else node.nvalues)
            if more or (d > r and node.wut):
                j = d
                break
        if j < 0:
            return "none"
        self.splits += 1
        anchor = self.anchors[unit.uid]
        if j == r:  # hand out the root step's later values
            node = stack[r]
            assert node.chosen is not None
            cn, i, _ = anchor[r]
            cn.entries.append(Entry(node.chosen.tid, node.chosen.fp, (*cn.key, len(cn.entries)),
                                    copy_tree(node.saved or []), None, node.value + 1,
                                    st.stop, node.nvalues))
            st.stop = node.value + 1
            self._push((cn, len(cn.entries) - 1))
            return "split"
        path = path_of(stack, j)
        key = (*unit.key, unit.counter)
        for d in range(r + 1, j + 1):
            node = stack[d]
            cn = CNode(d, dict(node.sleep), path[:d], key, list(anchor))
            self.cnodes.append(cn)
            if anchor:
                up, ui, _ = anchor[-1]
                up.entries[ui].below.append(cn)
            c = node.chosen
            if c is not None:
                cn.entries.append(Entry(c.tid, c.fp, (*key, 0), None, [], node.value,
                                        node.value + 1, node.nvalues))
                if d == j and node.value + 1 < node.nvalues:
                    cn.entries.append(Entry(c.tid, c.fp, (*key, 1), copy_tree(node.saved or []),
                                            None, node.value + 1, 0, node.nvalues))
            for w in node.wut:
                cn.entries.append(Entry(w.tid, w.fp, (*key, len(cn.entries)), expand(w)))
            node.wut = []
            for i in range(1 if c is not None else 0, len(cn.entries)):
                self._push((cn, i))
            anchor = [*anchor, (cn, 0, 0)]
            key = (*key, 0, 0)
        node = stack[j]
        if node.chosen is None:  # nothing in progress there: the unit is all handed out
            del self.anchors[unit.uid]
            return "gone"
        st.stack = [*frozen(path, [n.sleep for n in stack[:j]]), *stack[j:]]
        st.root = j
        st.stop = node.value + 1
        unit.key = (*anchor[-1][0].key, 0)
        unit.counter = 0
        self.anchors[unit.uid] = anchor
        return "split"

    def tally(self) -> Tally:
        """Everything found, over the entries that were not rolled back."""
        out = Tally()
        out.merge(self.top)
        for uid, held in self.unsynced.items():
            if self.live(uid):
                out.merge(held)
        for cn in self.cnodes:
            if cn.dead:
                continue
            for e in cn.entries:
                if e.tally is not None and not e.dead:
                    out.merge(e.tally)
        return out

    def stats(self) -> dict[str, int]:
        return {"units": self.next_uid, "splits": self.splits, "nodes": len(self.cnodes),
                "inserted": self.inserted,
                "covered": self.covered, "rollbacks": self.rollbacks,
                "discarded_executions": self.discarded}
