"""Per-step and end checks of an execution: registering invariants, deciding after each step
which ones may have changed their answer, and reporting the ones that fail.

:class:`Checking` is a part of :class:`vmacheck.explore.core.Execution`, one link of its
single chain of bases (``Locating`` <- ``Checking`` <- ``Ending`` <- ``Holding`` <-
``Replaying`` <- ``Execution``: mypyc compiles a class with one base).  The execution's
state it reads is declared here, unless a class before it in the chain declares it: each
attribute once, or the compiled class's garbage-collector support counts it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vmacheck.explore.findings import Location
from vmacheck.explore.locating import Locating
from vmacheck.explore.ops import Shared

CHECK_EVERY_STEP = False
"""Run every per-step check after every step, not only when what it reads may have changed
(to verify that rule; the findings are the same, only slower)."""


class Checking(Locating):
    """The checks of an execution (see :meth:`add_invariant`)."""

    invariants: list[tuple[str, Callable[[], object], bool]]
    _step_checks: list[tuple[str, Callable[[], object], frozenset[int] | None, _Watch | None]]
    _watches: dict[tuple[Callable[[], Iterable[Shared]], tuple[str | None, ...] | None], _Watch]
    _explain: dict[str, Callable[[], object]]
    _observer: Shared | None
    _visible: set[int]
    _failed_invariants: set[str]
    bookkeeping: int
    liveness: int
    class_holds: dict[str | None, int]
    _checked_bookkeeping: int
    objects: list[Shared | None]
    check_failed_at: list[int]
    sites: bool
    note_awaits: bool
    partly_located: bool

    def add_invariant(self, name: str, check: Callable[[], object], *, at_end: bool,
                      reads: Iterable[Shared | int] | None = None,
                      explain: Callable[[], object] | None = None,
                      watch: Callable[[], Iterable[Shared]] | None = None,
                      lock_classes: Iterable[str | None] | None = None) -> None:
        """Register a check.

        A check run after every step sees intermediate states, and those differ between the
        interleavings of one Mazurkiewicz trace, of which the explorer runs only one.  With
        ``reads`` (the objects the check looks at) every write to those objects is made
        visible: such writes all conflict with one observer object, so the explorer orders
        them in every way and the check sees every state of those objects it could.  Without
        ``reads`` the check sees the states of the explored interleavings only (a violation
        that needs two independent writes in the other order can be missed).  Checks at the
        end see the final state, which is the same for every interleaving of a trace.

        A check is re-run only when what it reads may have changed: with ``reads``, after a
        step that writes one of those objects; without, after a step that writes any shared
        object or changes a thread's held resources, atomic context or liveness (state
        changed by plain Python in model code is seen at the next such step).  With ``watch``
        (and no ``reads``), a function that names the objects the check's answer depends on
        given the threads' held resources, the check is re-run only after a step that changes
        held resources, atomic contexts or liveness, or creates objects, or writes one of the
        objects it named (``watch`` is asked again then); unlike ``reads`` it makes no write
        more visible.  With ``lock_classes`` too, only the held resources of those lock
        classes count (and threads starting, exiting or dying): the check's answer and what
        it watches depend on no other held resource and on no atomic context.
        """
        self.invariants.append((name, check, at_end))
        if explain is not None:
            self._explain[name] = explain
        elif reads is not None:
            objs = list(reads)
            reads = objs
            if len(objs) <= 6:  # a few named values say what broke; dozens say nothing
                self._explain[name] = lambda: ", ".join(
                    f"{o.name}={getattr(o, '_value', '?')!r}" for o in self._objects_of(objs)
                    if hasattr(o, "_value"))
        if at_end:
            return
        if reads is None:
            w = None
            if watch is not None:  # checks watching with one function share its answers
                classes = None if lock_classes is None else tuple(lock_classes)
                w = self._watches.get((watch, classes))
                if w is None:
                    w = self._watches[(watch, classes)] = _Watch(watch, classes)
            self._step_checks.append((name, check, None, w))
            self.note_awaits = not self.sites
            return
        if self._observer is None:
            self._observer = Shared("invariant observer")
        oids: set[int] = set()
        for obj in reads:
            if isinstance(obj, int):  # the id of an object made on first use (only itself)
                oids.add(obj)
                continue
            oids.add(obj.oid)
            if obj.alloc is not None:
                oids.add(obj.alloc.oid)
        self._visible |= oids
        self._step_checks.append((name, check, frozenset(oids), None))
        self.note_awaits = not self.sites

    def _objects_of(self, reads: list[Shared | int]) -> list[Shared]:
        """The objects of ``reads`` (one given by its id: if it was made by now)."""
        objects = self.objects
        out = []
        for obj in reads:
            made = objects[obj] if isinstance(obj, int) else obj
            if made is not None:
                out.append(made)
        return out

    def _check_step(self, tid: int, site: tuple[tuple[Any, int], ...] | None,
                    wrote: list[int], force: bool = False) -> None:
        """Run the per-step checks that what this step changed may affect (all: ``force``)."""
        every = CHECK_EVERY_STEP or force
        any_change = wrote or self.bookkeeping != self._checked_bookkeeping or every
        self._checked_bookkeeping = self.bookkeeping
        failed = self._failed_invariants
        # a watching check asks again what it watches when held resources changed or new
        # objects appeared (a new VMA, a new mm)
        if self._watches:
            n = len(self.objects)
            any_epoch = (self.bookkeeping, n)
            counts = self.class_holds
            for w in self._watches.values():
                classes = w.classes
                if classes is None:
                    epoch: tuple[int, ...] = any_epoch
                else:  # only the holds of these classes count
                    held = 0
                    for c in classes:
                        held += counts.get(c, 0)
                    epoch = (self.liveness, n, held)
                w.hit = w.epoch != epoch or every or not w.oids.isdisjoint(wrote)
                if w.hit:  # what it watches may have changed too (a page now installed)
                    w.epoch = epoch
                    w.oids = frozenset([obj.oid for obj in w.fn()])
        for name, check, reads, watch in self._step_checks:
            if reads is not None:
                if not (every or not reads.isdisjoint(wrote)):
                    continue
            elif watch is not None:
                if not watch.hit:
                    continue
            elif not any_change:
                continue
            if failed and name in failed:
                continue
            error: Exception | None = None
            try:
                if check():
                    continue
            except Exception as err:
                error = err
            self._fail(name, error, tid, site)

    def _run_check(self, name: str, check: Callable[[], object], tid: int | None,
                   site: tuple[tuple[Any, int], ...] | None) -> None:
        try:
            if check():
                return
            error: Exception | None = None
        except Exception as err:
            error = err
        self._fail(name, error, tid, site)

    def _fail(self, name: str, error: Exception | None, tid: int | None,
              site: tuple[tuple[Any, int], ...] | None) -> None:
        """Report a check that failed (returned false, or raised ``error``)."""
        key = name
        self.check_failed_at.append(len(self.events))
        if error is not None:
            name = f"{name} ({type(error).__name__}: {error})"
        self._failed_invariants.add(key)
        loc: Location | None = None
        stack: tuple[Location, ...] = ()
        last = self.events[-1] if self.events else None
        where: Any = getattr(last.op, "await_site", None) if last is not None else None
        if site:
            stack = tuple(Location(code.co_name, code.co_filename, line) for code, line in site)
            loc = stack[-1]
        elif not self.sites and where is not None and last is not None and last.tid == tid:
            # sites not noted: the step's op knows where it was awaited (the innermost frame
            # only; the explorer runs the execution again when it needs the whole stack)
            code, line = where
            loc = Location(code.co_name, code.co_filename, line)
            stack = (loc,)
            self.partly_located = True
        elif tid is not None and self.threads[tid].live:
            stack = self.stack_of(tid)
            loc = stack[-1] if stack else None
        extra: dict[str, Any] = {}
        explain = self._explain.get(key)
        if explain is not None:
            try:
                extra["values"] = str(explain())
            except Exception as err:
                extra["values"] = f"<{type(err).__name__}: {err}>"
        self.report("invariant", f"invariant violated: {name}", tid, loc, extra, stack)

    def _check_invariants(self, tid: int | None, *, at_end: bool) -> None:
        """Run every check of one kind: per-step ones (at the start) or end ones."""
        self._checked_bookkeeping = self.bookkeeping
        for name, check, end_only in self.invariants:
            if end_only != at_end or name in self._failed_invariants:
                continue
            self._run_check(name, check, tid, None)


class _Watch:
    """What a watching check (``invariant(watch=)``) depends on: the function naming the
    objects, and its last answer with the bookkeeping count and number of objects it was
    given at."""

    __slots__ = ("classes", "epoch", "fn", "hit", "oids")

    def __init__(self, fn: Callable[[], Iterable[Shared]],
                 classes: tuple[str | None, ...] | None = None) -> None:
        self.fn = fn
        self.classes = classes
        """The lock classes whose held resources count (None: all, and atomic contexts)."""
        self.epoch: tuple[int, ...] = (-1, -1)
        self.oids: frozenset[int] = frozenset()
        self.hit = True
        """Whether the checks watching with it run after this step."""
