"""Forked worker processes that keep their work units between slices.

A unit's frontier (its pending wakeup trees) is large and slow to pickle, and most slices end
only for the coordinator to insert the escaped races and send the same unit back.  So a
worker keeps the unit it ran (*resident*) and returns only the slice's tallies, its escaped
races and whether the unit is done.  The coordinator keeps the unit as it last saw it; it
asks for the current frontier (:meth:`ForkPool.fetch`) only when it splits the unit, and runs
a resident unit's next slice on the worker that holds it.  The tallies of a resident unit's
slices are kept apart until its frontier is back or it is done
(:meth:`vmacheck.explore.frontier.Frontier.finish`), so a worker that dies loses nothing that
was counted: the unit runs again from the frontier the coordinator has.  A busy worker can be
asked to end its slice early (:meth:`ForkPool.cancel`, :meth:`ForkPool.interrupt`): when its
unit was rolled back, or (``parallel.EAGER``) when another worker waits.  Pickles are made
and read with the cyclic garbage collector paused (a frontier is hundreds of thousands of
objects, each a reason for a collection otherwise).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from vmacheck.explore.modes import DporState
from vmacheck.explore.runner import Model
from vmacheck.explore.units import SliceResult, Unit, run_slice


class WorkerLost(Exception):
    """A worker process died; ``uids`` are the units it held."""

    def __init__(self, uids: list[int]) -> None:
        super().__init__(f"a worker process died holding units {uids}")
        self.uids = uids


def _send(conn: Connection, obj: object) -> None:
    gc.disable()
    try:
        conn.send(obj)
    finally:
        gc.enable()


def _recv(conn: Connection) -> Any:
    gc.disable()
    try:
        return conn.recv()
    finally:
        gc.enable()


def _worker(model: Model, conn: Connection, wanted: Any) -> None:
    """A worker's loop: run slices of the units it is sent or holds, hand units back."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C is the coordinator's to handle
    held: dict[int, Unit] = {}
    while True:
        try:
            msg = _recv(conn)
        except EOFError:
            return
        if msg[0] == "stop":
            return
        if msg[0] == "fetch":
            _send(conn, held.pop(msg[1]))
            continue
        _, uid, unit, opts, drops, keep = msg
        for d in drops:
            held.pop(d, None)
        if unit is not None:
            held[uid] = unit
        unit = held[uid]
        res = run_slice(model, unit, interrupt=wanted.is_set, **opts)
        if unit.state.done or not keep:
            del held[uid]
        else:  # the coordinator has the frontier as it sent it: only the counter moves on
            res.unit = Unit(uid, unit.key, DporState([]), unit.counter)
            res.resident = True
        _send(conn, res)


@dataclass(slots=True)
class Slot:
    """One worker process, the unit it runs (if any) and the units it holds."""

    proc: Any
    conn: Connection
    wanted: Any
    """An event: set, the worker ends its slice after the execution it is running."""
    busy: int | None = None
    held: set[int] | None = None
    drops: list[int] | None = None


class ForkPool:
    """Runs slices in ``workers`` forked processes (the model reaches them by fork); units
    stay resident on their worker between slices when ``resident`` (not with checkpoints:
    a checkpoint needs every frontier)."""

    def __init__(self, model: Model, workers: int, opts: dict[str, Any],
                 resident: bool = True) -> None:
        self.model = model
        self.opts = opts
        self.resident = resident
        self.ctx = multiprocessing.get_context("fork")
        self.slots = [self._start() for _ in range(workers)]
        self.home: dict[int, int] = {}

    def _start(self) -> Slot:
        mine, theirs = self.ctx.Pipe()
        wanted = self.ctx.Event()
        proc = self.ctx.Process(target=_worker, args=(self.model, theirs, wanted), daemon=True)
        proc.start()
        theirs.close()
        return Slot(proc, mine, wanted, None, set(), [])

    def interrupt(self) -> None:
        """Ask the busy workers to end their slices soon (a worker waits for work: the
        coordinator splits a unit when its slice comes back)."""
        for slot in self.slots:
            if slot.busy is not None:
                slot.wanted.set()

    def cancel(self, uids: list[int]) -> None:
        """Ask the workers running these (cancelled) units to end their slices soon."""
        for slot in self.slots:
            if slot.busy is not None and slot.busy in uids:
                slot.wanted.set()

    def can_run(self, unit: Unit) -> bool:
        """A resident unit runs only on the worker that holds it."""
        w = self.home.get(unit.uid)
        return w is None or self.slots[w].busy is None

    def submit(self, unit: Unit) -> int:
        w = self.home.get(unit.uid)
        if w is None:
            w = next(i for i, s in enumerate(self.slots) if s.busy is None)
        slot = self.slots[w]
        assert slot.busy is None and slot.held is not None and slot.drops is not None
        ship = None if unit.uid in slot.held else unit
        # a dead worker shows when its result is read (WorkerLost)
        with contextlib.suppress(OSError):
            _send(slot.conn, ("run", unit.uid, ship, dict(self.opts), slot.drops,
                              self.resident))
        slot.drops = []
        slot.busy = unit.uid
        slot.held.add(unit.uid)
        self.home[unit.uid] = w
        return w

    def wait(self, handles: list[Any]) -> list[Any]:
        ready = wait([self.slots[w].conn for w in handles])
        return [w for w in handles if self.slots[w].conn in ready]

    def result(self, handle: Any) -> SliceResult:
        slot = self.slots[handle]
        assert slot.held is not None
        try:
            res: SliceResult = _recv(slot.conn)
        except (EOFError, OSError):
            lost = sorted(slot.held)
            for uid in lost:
                self.home.pop(uid, None)
            slot.proc.join(1)
            self.slots[handle] = self._start()
            raise WorkerLost(lost) from None
        slot.busy = None
        slot.wanted.clear()  # (set after the slice ended: it was for this one)
        if not res.resident:
            self.home.pop(res.unit.uid, None)
            slot.held.discard(res.unit.uid)
        return res

    def fetch(self, unit: Unit) -> Unit:
        """The current frontier of a unit held by an idle worker (which lets go of it)."""
        w = self.home.pop(unit.uid)
        slot = self.slots[w]
        assert slot.busy is None and slot.held is not None
        slot.held.discard(unit.uid)
        _send(slot.conn, ("fetch", unit.uid))
        fresh: Unit = _recv(slot.conn)
        return fresh

    def drop(self, uid: int) -> None:
        """Forget a unit (cancelled, or done): its worker frees it with its next slice."""
        w = self.home.pop(uid, None)
        if w is not None:
            slot = self.slots[w]
            assert slot.held is not None and slot.drops is not None
            slot.held.discard(uid)
            slot.drops.append(uid)

    def holds(self, uid: int) -> bool:
        return uid in self.home

    def close(self) -> None:
        """Stop the workers: slices in flight end early and their results are dropped."""
        self.interrupt()
        for slot in self.slots:
            with contextlib.suppress(OSError):
                slot.conn.send(("stop",))
        deadline = time.monotonic() + 5
        for slot in self.slots:
            while slot.proc.is_alive() and time.monotonic() < deadline:
                try:  # a worker blocked sending a result it finished reads "stop" next
                    if slot.conn.poll(0.05):
                        _recv(slot.conn)
                except (EOFError, OSError):
                    break
            slot.proc.join(max(deadline - time.monotonic(), 0.1))
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join()
            slot.conn.close()
