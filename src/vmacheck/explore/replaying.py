"""Quiet steps: replaying a prefix that an earlier run of the same model ran and checked.

An explorer without state snapshots reaches a branching point by running the model again
from its start along the schedule of the run before.  Up to that point the run repeats
itself: the same ops on the same objects with the same results, the checks passed there
before.  :meth:`Replaying.replay_prefix` runs such steps with only what the run needs to be
in the right state afterwards, and what tells a model that does not repeat itself.

:class:`Replaying` is a part of :class:`vmacheck.explore.core.Execution`, one link of its
single chain of bases (``Locating`` <- ``Checking`` <- ``Ending`` <- ``Holding`` <-
``Replaying`` <- ``Execution``: mypyc compiles a class with one base).  The execution's
state it reads is declared here, unless a class before it in the chain declares it: each
attribute once, or the compiled class's garbage-collector support counts it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from vmacheck.explore import ops as _ops
from vmacheck.explore.holding import Holding
from vmacheck.explore.ops import Footprint, Op
from vmacheck.explore.state import Event, NondeterministicModel, ThreadState, _awaiting_frame

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution


class Replaying(Holding):
    """Steps of a quiet prefix (see :meth:`replay_prefix`)."""

    freed_allocations: int
    _notes_deferred: bool

    def replay_prefix(self, replayed: Sequence[Event], stop: int, sched: list[int]) -> None:
        """Run steps ``len(sched)`` to ``stop - 1`` again, as the run replayed ran them
        (``replayed``: its events), adding each step's thread to ``sched``: each thread runs
        its pending op, which must touch what it touched then, and its local code up to its
        next op.

        What :meth:`~vmacheck.explore.core.Execution.step` does for quiet steps, without
        what cannot differ from the run replayed: its caller (``run_one``) takes this path
        only for steps that run no check (not the prefix's last), under sequential
        consistency, without a recorded trace, and before the first step at which the run
        replayed found threads waiting for each other in a cycle (before it, looking for a
        deadlock finds none, as it found none).  A use-after-free is looked for only once
        this execution has freed something.  Ops that start or join threads take
        :meth:`step`.  A step's event is the replayed one itself, given this run's op: the
        run replayed reads its events no more (the explorer keeps them only to replay them
        again, by thread and footprint)."""
        ex = cast("Execution", self)
        threads = self.threads
        objs = self.objects
        events = self.events
        for index in range(len(sched), stop):
            ev = replayed[index]
            tid = ev.tid
            sched.append(tid)
            t = threads[tid]
            op = t.pending
            if op is None or (op.blocking and not op.enabled(ex, tid)):
                raise NondeterministicModel(
                    f"replay diverged at step {index + 1}: thread {tid} is not runnable; "
                    "the model must build the same state on every run")
            if op._thread_op:
                ex.step(tid)
                continue
            _ops._CURRENT = ex
            fp = op.footprint(ex, tid)
            if self.freed_allocations and self._touches_freed(t, op, fp):
                continue
            before = ev.fp  # with the invariant observer when the step wrote what a check reads
            if fp != before and (len(before) != len(fp) + 1 or before[:-1] != fp
                                 or self._observer is None
                                 or before[-1] != (self._observer.oid, True)):
                raise diverged(index, tid)
            ev.op = op
            ev.snaps = ()
            self.current_tid = tid
            if t.atomic and op.sleeps:
                self.report("sleep-in-atomic",
                            f"{op.describe()} may sleep in atomic context ({t.atomic[-1]})",
                            tid)
            try:
                result = op.execute(ex, tid)
            except BaseException:
                self.current_tid = None
                raise
            for oid, w in before:
                if w:
                    obj = objs[oid]
                    assert obj is not None  # a footprint names objects made
                    obj.version += 1
            reads = t.loop_reads
            if reads is not None:
                for oid, _ in before:
                    obj = objs[oid]
                    assert obj is not None
                    reads[oid] = obj.version
            events.append(ev)
            t.steps += 1
            ex._advance(t, result, None)  # the thread runs to its next op

    def _touches_freed(self, t: ThreadState, op: Op, fp: Footprint) -> bool:
        """Whether ``op`` touches an object of a freed allocation: then report the
        use-after-free, as a step does (the thread dies)."""
        ex = cast("Execution", self)
        for oid, _ in fp:
            obj = self.objects[oid]
            assert obj is not None
            a = obj.alloc
            if a is not None and a.freed:
                ex._uaf(t, op, ex._observed(fp), obj)
                return True
        return False

    def _note_pending_sites(self) -> None:
        """Note where each thread's pending op is awaited, as ``Op.__await__`` does (the
        innermost model frame of its suspended coroutine chain), and have ops note it
        themselves from now on: the quiet prefix, which noted none, ends with this step."""
        self._notes_deferred = False
        self.note_awaits = True
        for t in self.threads:
            op = t.pending
            if op is not None and t.coro is not None:
                frame = _awaiting_frame(t.coro)
                if frame is not None:
                    op.await_code = frame.f_code
                    op.await_lasti = frame.f_lasti

    def _replayed_footprint(self, index: int, tid: int, fp: Footprint) -> Footprint:
        """The footprint of replayed step ``index`` as the run replayed had it (the same
        object, interned by the explorer), after checking that the model touched the same."""
        before = self.replayed[index].fp
        if before != fp:
            raise diverged(index, tid)
        return before


def diverged(index: int, tid: int) -> NondeterministicModel:
    """The error of a replayed step ``index`` whose thread ``tid`` touched other objects."""
    return NondeterministicModel(
        f"replay diverged at step {index + 1}: thread {tid} touched different objects than "
        "before; the model must build the same state on every run")
