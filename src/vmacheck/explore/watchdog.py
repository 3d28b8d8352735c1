"""The soft-lockup watchdog: stops a model thread that runs too long without awaiting.

A model thread must await an op for every touch of shared state; local code between two ops
is expected to be short.  A thread that loops without awaiting would hang the explorer, so
:class:`Watchdog` arms one interval timer (``signal.setitimer``) for a whole exploration.  Its
``SIGALRM`` handler looks at the running execution: when the same step of the same execution
has been running model code for ``limit`` seconds, it raises :class:`SoftLockup` in the
model's frame (the handler runs there), and the executor reports a ``soft-lockup`` finding
at the line the loop was caught on, like the kernel's soft-lockup detector
(``kernel/watchdog.c``, "BUG: soft lockup - CPU#N stuck for Ns!").

Signals reach only the main thread: elsewhere the watchdog does nothing.  Watchdogs nest
(the outermost one is armed).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from vmacheck.explore import interrupt
from vmacheck.explore import ops as _ops
from vmacheck.explore.ops import SoftLockup

DEFAULT_LIMIT = 1.0
"""Seconds one step may run model code before the watchdog stops it."""

_ARMED = False


class Watchdog:
    """``with Watchdog(limit):`` arms the soft-lockup timer for the enclosed exploration."""

    def __init__(self, limit: float = DEFAULT_LIMIT) -> None:
        self.limit = max(float(limit), 0.05)
        self.tick = self.limit / 4
        self._armed = False
        self._previous: Any = None
        self._mark: tuple[int, int] | None = None
        self._stuck = 0.0

    def __enter__(self) -> Watchdog:
        global _ARMED
        if _ARMED or threading.current_thread() is not threading.main_thread() \
                or not hasattr(signal, "setitimer"):
            return self
        self._previous = signal.signal(signal.SIGALRM, self._on_tick)
        signal.setitimer(signal.ITIMER_REAL, self.tick, self.tick)
        self._armed = _ARMED = True
        return self

    def __exit__(self, *exc: object) -> None:
        global _ARMED
        if not self._armed:
            return
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self._previous)
        self._armed = _ARMED = False

    def _on_tick(self, signum: int, frame: FrameType | None) -> None:
        ex = _ops._CURRENT
        if ex is None or not ex._in_thread_code or interrupt.requested():
            self._mark = None  # (a Ctrl-C on its way up is not replaced by a soft lockup)
            return
        mark = (ex.serial, len(ex.events))
        if mark != self._mark:
            self._mark = mark
            self._stuck = 0.0
            return
        self._stuck += self.tick
        if self._stuck + 1e-9 >= self.limit:
            self._mark = None
            self._stuck = 0.0
            raise SoftLockup(f"stuck for {self.limit:g}s in one step without awaiting "
                             "(a loop with no await?)")
