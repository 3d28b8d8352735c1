"""One execution of a model: the executor that drives model coroutines step by step.

A *model* is a callable that builds fresh shared state and returns the threads (coroutines).
Every touch of shared state is an awaited :class:`Op`; the coroutine yields the op to the
executor, which decides when it runs.  A *step* executes one thread's pending op and then runs
that thread's local code up to its next op.  The executor knows nothing of the kernel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vmacheck.explore import checking as _checking
from vmacheck.explore import memory as _memory
from vmacheck.explore import ops as _ops
from vmacheck.explore.findings import TraceStep
from vmacheck.explore.ops import (
    Allocation,
    BugOn,
    ChoiceOp,
    Footprint,
    JoinOp,
    ModelError,
    Op,
    Shared,
    SoftLockup,
    SpawnOp,
    UseAfterFree,
    current,
)
from vmacheck.explore.replaying import Replaying
from vmacheck.explore.state import (
    Event,
    Held,
    StepListener,
    ThreadState,
    _await_stack,
    _exc_location,
    _exc_stack,
    _is_null_deref,
    _thread_spec,
)

ValueChooser = Callable[["Execution", int, int, int], int]
"""Picks the value of a choice: ``(execution, thread, number of values, step index)``."""
_SERIAL = itertools.count()

__all__ = [
    "Allocation", "BugOn", "ChoiceOp", "Event", "Execution", "Footprint", "Held", "JoinOp",
    "ModelError", "Op", "Shared", "SpawnOp", "StepListener", "ThreadState", "TraceStep",
    "UseAfterFree", "ValueChooser", "current",
]


class Execution(Replaying):
    """Runs one interleaving of a model; the scheduler picks which thread steps next."""

    def __init__(
        self,
        model: Callable[[], Iterable[Any]],
        *,
        max_steps: int = 10_000,
        record: bool = False,
        listener: StepListener | None = None,
        lockdep: Any = None,
        values: ValueChooser | None = None,
        memory_model: str | None = None,
        sites: bool = True,
        quiet_until: int = 0,
        replayed: Sequence[Event] = (),
    ) -> None:
        mm = _memory.active_memory_model() if memory_model is None else memory_model
        self.memory = None if mm == "sc" else _memory.WeakMemory()
        """The weak memory state (None under sequential consistency)."""
        self.serial = next(_SERIAL)
        self.objects = []
        """The shared objects by id (an id reserved for an object not made yet: None)."""
        self.threads = []
        self.events = []
        self.findings = []
        self.labels = []
        self.invariants = []
        self._step_checks = []
        """Checks run after steps: with the object ids they read (None: not declared) and
        what they watch (``invariant(watch=)``)."""
        self._watches = {}
        self.bookkeeping = 0
        """Counts changes of threads' held resources, atomic contexts and liveness."""
        self.liveness = 0
        """Counts threads that started (spawned), exited or died."""
        self.class_holds = {}
        """Per lock class (None: resources held without one), how many times a thread
        took or released one of its resources (``invariant(lock_classes=)``)."""
        self._checked_bookkeeping = 0
        self.outcome_fns = []
        self.trace: list[TraceStep] = []
        self.max_steps = max_steps
        self.record = record
        self.listener = listener
        self.lockdep = lockdep
        self.values = values
        self.choices: dict[int, int] = {}
        """Per step index, the value its nondeterministic choice took."""
        self.choice_tids: dict[int, int] = {}
        """Per step index that made a choice, the thread that made it."""
        self.sites = sites
        """Note where each step's op is awaited, so that an invariant it breaks is located
        there (off: located where the thread stopped after the step; for cheap runs that
        repeat themselves with sites on when an invariant fires)."""
        self.note_awaits = False
        """Each op notes where it is awaited (``Op.__await__``): the execution has per-step
        checks and does not note sites itself (kept by ``add_invariant``)."""
        self.quiet_until = quiet_until
        """Steps below this index replay a prefix the explorer ran (and checked) before: they
        take no snapshots for race detection and run no per-step checks; after the last of
        them every per-step check runs once.  With a quiet prefix the checks do not run on
        the initial state either (they passed there in the run replayed)."""
        self.replayed = replayed
        """The events of the run whose prefix this one replays: a quiet step covered by them
        must touch what its event touched, takes its (interned) footprint and is not shown
        to the listener (the explorer saw it when it first ran)."""
        self.freed_allocations = 0
        """How many allocations were freed (``Allocation.free``): a touch of a freed one is a
        use-after-free, which a quiet replayed step looks for only once something was freed."""
        self.cycle_from = max_steps + 1
        """The first step index before which threads waited for each other in a cycle
        (``run_one`` sets it, when it looks for deadlocks): a replay of this run finds none
        before it, so it need not look."""
        self.partly_located = False
        """Some failed per-step check is located by its innermost frame only (``sites``
        off): its whole stack needs a run with sites on."""
        self.check_failed_at = []
        """For each per-step check that failed, how many steps had run."""
        self.current_tid = None
        self._in_thread_code = False
        self._observer = None
        self._visible = set()
        self.truncated = False
        self.abandoned = False
        """The chooser gave up (a sleep-set-blocked prefix): the execution has no end state."""
        self._failed_invariants = set()
        self._deadlock_reported = set()
        self._explain = {}
        self.model_state: dict[str, Any] = {}
        """What a model library keeps for this execution, by the library's own key (the
        model kernel's state): it lives and dies with the execution."""
        self.closers = []
        """Called by :meth:`close`: model set-up code that links its objects in cycles
        (not through shared variables) unlinks them there."""
        self.activate()
        threads = list(model())
        for index, spec in enumerate(threads):
            name, coro = _thread_spec(spec, index)
            self.threads.append(ThreadState(len(self.threads), name, coro))
        if not self.threads:
            raise ValueError("the model returned no threads")
        # in a quiet prefix no check runs, so its ops need not note where they are awaited:
        # the ops pending when the last quiet step runs are located from their threads'
        # coroutine chains then (_note_pending_sites), and ops note themselves again after
        self._notes_deferred = bool(quiet_until) and self.note_awaits
        if self._notes_deferred:
            self.note_awaits = False
        for t in list(self.threads):
            self._advance(t, None, None)
        if not quiet_until:
            self._check_invariants(None, at_end=False)

    def activate(self) -> None:
        """Make this the execution that primitives, checks and outcome functions refer to."""
        _ops._CURRENT = self

    # -- registration (used by primitives while the model builds or runs) --------------------
    def register(self, obj: Shared) -> int:
        self.objects.append(obj)
        return len(self.objects) - 1

    def reserve(self, n: int) -> int:
        """Reserve ``n`` consecutive object ids for shared objects made later (a
        :class:`~vmacheck.explore.lazy.lazy_field` makes its object when first read); returns
        the first.  Ids reserved while the model is built are the same in every execution,
        however late the objects are made."""
        base = len(self.objects)
        self.objects.extend([None] * n)
        return base

    # -- nondeterministic choices (called from Op.execute) ----------------------------------
    def choose(self, tid: int, n: int, what: str) -> int:
        """The value, in ``range(n)``, of a nondeterministic choice made by the step that
        thread ``tid`` is executing.  The explorer's value chooser decides (DPOR runs every
        value); with none, the first value.  One choice per step."""
        step = len(self.events)
        if step in self.choices:
            raise RuntimeError(f"a second choice ({what}) in one step: an op may choose once")
        value = 0 if self.values is None or n <= 1 else self.values(self, tid, n, step)
        if not 0 <= value < n:
            from vmacheck.explore.schedule import ScheduleError

            raise ScheduleError(f"choice value {value} for {what!r} at step {step + 1} is out "
                                f"of range: the choice has {n} values")
        self.choices[step] = value
        self.choice_tids[step] = tid
        return value

    def thread_choices(self) -> dict[int, list[int]]:
        """Per thread, the values its choices took, in order (a schedule-independent tape)."""
        out: dict[int, list[int]] = {}
        for step in sorted(self.choices):
            out.setdefault(self.choice_tids[step], []).append(self.choices[step])
        return out

    # -- scheduling interface ----------------------------------------------------------------
    def is_enabled(self, tid: int) -> bool:
        t = self.threads[tid]
        op = t.pending
        if op is None or not t.live:
            return False
        return not op.blocking or op.enabled(self, tid)

    def enabled(self) -> list[int]:
        return [t.tid for t in self.threads if t.pending is not None and t.live
                and (not t.pending.blocking or t.pending.enabled(self, t.tid))]

    def live(self) -> list[int]:
        return [t.tid for t in self.threads if t.live]

    def step(self, tid: int) -> Event:
        """Run thread ``tid``'s pending op, then its local code up to the next op."""
        t = self.threads[tid]
        op = t.pending
        assert op is not None and not (t.done or t.dead)
        _ops._CURRENT = self
        fp = op.footprint(self, tid)
        objs = self.objects
        events = self.events
        index = len(events)
        quiet = index < self.quiet_until
        if index + 1 == self.quiet_until and self._notes_deferred:
            self._note_pending_sites()
        snapl: list[object] | None = [] if self.listener is not None and not quiet else None
        wrote: list[int] = []
        for oid, w in fp:
            obj = objs[oid]
            assert obj is not None  # a footprint names objects made
            a = obj.alloc
            if a is not None and a.freed:
                return self._uaf(t, op, self._observed(fp), obj)
            if snapl is not None:  # the states before the step, for the explorer's races
                snapl.append(obj.snapshot())
            if w:
                wrote.append(oid)
        if wrote and self._observer is not None:
            visible = self._visible
            for oid in wrote:
                if oid in visible:
                    fp = (*fp, (self._observer.oid, True))
                    if snapl is not None:
                        snapl.append(self._observer.snapshot())
                    wrote.append(self._observer.oid)
                    break
        tell = self.listener
        if quiet and index < len(self.replayed):
            fp = self._replayed_footprint(index, tid, fp)
            tell = None
        event = Event(index, tid, fp, op, () if snapl is None else tuple(snapl))
        if self.record:
            self._record(t, op, fp)
        # where the op is awaited: an invariant this step breaks is reported there
        site = _await_stack(t.coro) if self._step_checks and self.sites and (
            not quiet or index + 1 == self.quiet_until) else None
        self.current_tid = tid
        mem = self.memory
        if mem is not None and not op.weak_aware:
            mem.legacy_before(tid, fp, objs)
        if t.atomic and op.sleeps:
            self.report("sleep-in-atomic",
                        f"{op.describe()} may sleep in atomic context ({t.atomic[-1]})", tid)
        try:
            result = op.execute(self, tid)
        finally:
            self.current_tid = None
        if mem is not None and not op.weak_aware:
            mem.legacy_after(tid, fp, objs)
        for oid in wrote:
            obj = objs[oid]
            assert obj is not None
            obj.version += 1
        if t.loop_reads is not None:
            for oid, _ in fp:
                obj = objs[oid]
                assert obj is not None
                t.loop_reads[oid] = obj.version
        if op._thread_op and isinstance(op, SpawnOp):
            event.spawned = op.child
            events.append(event)
            t.steps += 1
            if tell is not None:
                tell(self, event)
            self._advance(self.threads[op.child], None, None)
            self.bookkeeping += 1
            self.liveness += 1
        else:
            if op._thread_op and isinstance(op, JoinOp):
                event.joined = op.tid
            events.append(event)
            t.steps += 1
            if tell is not None:
                tell(self, event)
        self._advance(t, result, None)
        if not self._step_checks:
            pass
        elif quiet:
            if index + 1 == self.quiet_until:  # the prefix's end: check it all once
                self._check_step(tid, site, wrote, force=True)
        elif wrote or self.bookkeeping != self._checked_bookkeeping or _checking.CHECK_EVERY_STEP:
            self._check_step(tid, site, wrote)
        return event

    def _observed(self, fp: Footprint) -> Footprint:
        """``fp`` plus the invariant observer when it writes an object a check reads."""
        if self._observer is not None and any(w and oid in self._visible for oid, w in fp):
            return (*fp, (self._observer.oid, True))
        return fp

    def _uaf(self, t: ThreadState, op: Op, fp: Footprint, obj: Shared) -> Event:
        event = Event(len(self.events), t.tid, fp, op, tuple(None for _ in fp))
        if self.record:
            self._record(t, op, fp)
        self.events.append(event)
        if self.listener is not None:
            self.listener(self, event)
        assert obj.alloc is not None
        self.report("use-after-free",
                    f"{op.describe()} touches {obj.name} of freed {obj.alloc.name}", t.tid,
                    extra=obj.alloc.sites())
        self._kill(t)
        return event

    def _record(self, t: ThreadState, op: Op, fp: Footprint) -> None:
        stack = self.stack_of(t.tid)
        target = op.target()
        touched = [self.objects[oid] for oid, _ in fp]
        obj = target.name if target is not None else (
            touched[0].name if touched and touched[0] is not None else "")
        ghost = target.ghost if target is not None else bool(touched) and all(
            o is not None and o.ghost for o in touched)
        self.trace.append(TraceStep(len(self.events), t.tid, t.name, op.describe(), obj,
                                    stack[-1] if stack else None, stack,
                                    tuple(h.desc for h in t.held), ghost))

    def _kill(self, t: ThreadState) -> None:
        self.bookkeeping += 1
        self.liveness += 1
        t.dead = True
        t.pending = None
        if t.coro is not None:
            t.coro.close()

    def _advance(self, t: ThreadState, value: Any, exc: BaseException | None) -> None:
        """Run thread ``t``'s local code up to its next op, sending it ``value`` (what its
        last op returned), or throwing ``exc`` into it."""
        assert t.coro is not None
        self.current_tid = t.tid
        self._in_thread_code = True
        try:
            op = t.coro.send(value) if exc is None else t.coro.throw(exc)
        except BaseException as err:
            self.current_tid = None
            self._in_thread_code = False
            self._stopped(t, err)
            return
        self.current_tid = None
        self._in_thread_code = False
        if isinstance(op, Op):
            t.pending = op
        else:
            self._awaited_other(t, op)

    def _stopped(self, t: ThreadState, err: BaseException) -> None:
        """Thread ``t``'s code returned (``StopIteration``) or raised ``err``: it exits, or
        dies with a finding (a model bug is a finding, never a crash of the tool).  What is
        not the model's (``KeyboardInterrupt``) goes on up."""
        if isinstance(err, StopIteration):
            t.done = True
            t.pending = None
            t.result = err.value
            self._thread_exit(t)
        elif isinstance(err, SoftLockup):
            self.report("soft-lockup", f"{t.name} {err}", t.tid, _exc_location(err),
                        stack=_exc_stack(err))
            t.dead = True
            t.pending = None
        elif isinstance(err, BugOn):
            self.report("assertion", str(err), t.tid, _exc_location(err), stack=_exc_stack(err))
            t.dead = True
            t.pending = None
        elif isinstance(err, Exception):
            kind = "null-deref" if _is_null_deref(err) else "exception"
            self.report(kind, f"{type(err).__name__}: {err}", t.tid, _exc_location(err),
                        stack=_exc_stack(err))
            t.dead = True
            t.pending = None
        else:
            raise err
        self.bookkeeping += 1  # exiting and dying change liveness alike
        self.liveness += 1

    def _awaited_other(self, t: ThreadState, obj: object) -> None:
        """Thread ``t`` awaited something that is not an op: a model bug; it dies."""
        self.report("exception", f"model awaited a non-vmacheck object: {obj!r}", t.tid)
        self._kill(t)
