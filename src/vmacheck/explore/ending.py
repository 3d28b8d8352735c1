"""The end of an execution: stuck threads (deadlocks), the end checks, the outcome, and
closing it once nothing reads it any more.

:class:`Ending` is a part of :class:`vmacheck.explore.core.Execution`, one link of its
single chain of bases (``Locating`` <- ``Checking`` <- ``Ending`` <- ``Holding`` <-
``Replaying`` <- ``Execution``: mypyc compiles a class with one base).  The execution's
state it reads is declared here, unless a class before it in the chain declares it: each
attribute once, or the compiled class's garbage-collector support counts it twice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, cast

from vmacheck.explore.checking import Checking
from vmacheck.explore.state import Event, _find_cycle

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution


class Ending(Checking):
    """Deadlock detection, end checks, the outcome and closing (see :meth:`close`)."""

    truncated: bool
    abandoned: bool
    _deadlock_reported: set[frozenset[int]]
    closers: list[Callable[[], None]]
    labels: list[str]
    outcome_fns: list[Callable[[], object]]
    replayed: Sequence[Event]

    def activate(self) -> None:
        """Make this the execution that primitives, checks and outcome functions refer to
        (defined by :class:`~vmacheck.explore.core.Execution`)."""
        raise NotImplementedError

    def check_deadlock(self, enabled: Collection[int] | None = None) -> bool:
        """Report threads stuck in a wait-for cycle (even while others still run).
        ``enabled``: the threads that can step now, when the caller knows them."""
        ex = cast("Execution", self)
        if enabled is None:
            blocked = {t.tid for t in self.threads
                       if t.live and t.pending is not None and t.pending.blocking
                       and not t.pending.enabled(ex, t.tid)}
        else:
            blocked = {t.tid for t in self.threads
                       if t.pending is not None and t.tid not in enabled and t.live}
        if len(blocked) == 0:
            return False
        graph = {tid: self.threads[tid].pending.waits_for(ex, tid)  # type: ignore[union-attr]
                 for tid in blocked}
        cycle = _find_cycle(graph)
        if cycle is None:
            return False
        key = frozenset(cycle)
        if key in self._deadlock_reported:
            return True
        self._deadlock_reported.add(key)
        parts = [f"{self.threads[a].name} waits for {self.threads[b].name} "
                 f"({self.threads[a].pending.describe()})"  # type: ignore[union-attr]
                 for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True)]
        self.report("deadlock", "wait-for cycle: " + "; ".join(parts), cycle[0],
                    extra={"cycle": [self.threads[c].name for c in cycle]})
        return True

    def finish(self) -> None:
        """Called once when no thread can step: classify stuck threads, run end checks."""
        self.activate()
        stuck = [t for t in self.threads if t.live]
        # threads stuck behind a thread that died (BUG_ON, exception) are not a new finding
        if stuck and not self.truncated and not self.check_deadlock() \
                and not any(t.dead for t in self.threads):
            names = ", ".join(f"{t.name} ({t.pending.describe() if t.pending else '?'})"
                              for t in stuck)
            self.report("deadlock", f"no thread can run; blocked: {names}", stuck[0].tid)
        if not self.abandoned:  # an abandoned prefix never reached the end: no end checks
            self._check_invariants(None, at_end=True)

    def close(self, forget: bool = True) -> None:
        """Close the coroutines of threads left suspended (an execution cut short, stuck
        threads), each from its outermost coroutine inward, once nothing more is read from
        them.  Left to the garbage collector, an inner coroutine may be finalised first and
        drop the last reference to its outer one, whose own finalisation then finds the
        inner one still executing ("coroutine already executing", printed on stderr).

        Then (unless ``forget`` is false: the caller hands model objects on) the shared
        objects forget their values and the closers run: a model's objects
        point at each other (a VMA at its mm, the mm at its VMA tree), and unlinked they are
        freed as soon as the execution is, instead of by a cyclic garbage collection, which
        also traverses every live object of the next executions."""
        for t in self.threads:
            if t.coro is not None and not t.done:
                t.coro.close()
        self.replayed = ()  # the events of the run before: freed with it, not with this one
        if not forget:
            return
        for obj in self.objects:
            if obj is not None:  # None: an id reserved for an object never made
                obj.forget()
        for fn in self.closers:
            try:
                fn()
            except Exception as err:  # the execution is reported already: say it, go on
                warnings.warn(f"at_close function {getattr(fn, '__qualname__', fn)} raised "
                              f"{type(err).__name__}: {err}", RuntimeWarning, stacklevel=1)

    def outcome(self) -> str:
        self.activate()
        parts = list(self.labels)
        for fn in self.outcome_fns:
            try:
                value = fn()
            except Exception as err:
                value = f"<outcome raised {type(err).__name__}: {err}>"
            if value is not None:
                parts.append(str(value))
        return "; ".join(parts)
