"""The resources threads hold (locks, references): taking, releasing and asking, and the
leak report of a thread that exits holding one.

:class:`Holding` is a part of :class:`vmacheck.explore.core.Execution`, one link of its
single chain of bases (``Locating`` <- ``Checking`` <- ``Ending`` <- ``Holding`` <-
``Replaying`` <- ``Execution``: mypyc compiles a class with one base).  The execution's
state it reads is declared here, unless a class before it in the chain declares it: each
attribute once, or the compiled class's garbage-collector support counts it twice.
"""

from __future__ import annotations

from typing import Any

from vmacheck.explore.ending import Ending
from vmacheck.explore.state import Held, ThreadState


class Holding(Ending):
    """Held resources: plain calls from model code and ops (``vmacheck.hold``/``unhold``)."""

    lockdep: Any

    def hold(self, tid: int, key: object, desc: str, lock_class: str | None = None,
             trylock: bool = False) -> None:
        """Thread ``tid`` now holds ``key`` (``desc`` names it in reports; ``lock_class`` for
        lockdep and ``invariant(lock_classes=)``; a trylock adds no lock-order edge)."""
        t = self.threads[tid]
        if lock_class is not None and self.lockdep is not None and not trylock:
            self.lockdep.acquire(self, t, lock_class, desc)
        op = t.pending
        if (op is not None and self.note_awaits and not self._in_thread_code
                and self.current_tid == tid):
            # taken by the op the thread is executing, which noted where it was awaited
            # (Op.__await__): the innermost model frame, as site_offset_of finds it
            try:
                held = Held(key, desc, lock_class, (op.await_code, op.await_lasti), True)
            except AttributeError:  # no model frame awaited it
                held = Held(key, desc, lock_class, self.site_offset_of(tid), True)
        else:
            held = Held(key, desc, lock_class, self.site_offset_of(tid), True)
        t.held.append(held)
        self.bookkeeping += 1
        counts = self.class_holds
        counts[lock_class] = counts.get(lock_class, 0) + 1

    def unhold(self, tid: int, key: object) -> bool:
        """Thread ``tid`` releases ``key`` (its latest hold of it); False if it held none."""
        held = self.threads[tid].held
        for i in range(len(held) - 1, -1, -1):
            if held[i].key == key:
                counts = self.class_holds
                lock_class = held[i].lock_class
                counts[lock_class] = counts.get(lock_class, 0) + 1
                del held[i]
                self.bookkeeping += 1
                return True
        return False

    def holds(self, tid: int, key: object) -> bool:
        """Whether thread ``tid`` holds ``key``."""
        for h in self.threads[tid].held:  # noqa: SIM110 (a generator costs more; asked often)
            if h.key == key:
                return True
        return False

    def _thread_exit(self, t: ThreadState) -> None:
        """Report what a thread that exits still holds (a lock, an atomic context)."""
        if t.held:
            names = ", ".join(h.desc for h in t.held)
            where = t.held[0].where
            self.report("resource-leak", f"{t.name} exited holding {names}", t.tid, where)
        if t.atomic:
            self.report("resource-leak",
                        f"{t.name} exited in atomic context ({', '.join(t.atomic)})", t.tid)
