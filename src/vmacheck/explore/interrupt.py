"""Ctrl-C that is never lost.

Python raises ``KeyboardInterrupt`` in whatever Python code runs when the signal arrives.  While
exploring, that is nearly always model code (the compiled engine runs no bytecode), and model
code may swallow it: a model function with ``except BaseException``, a ``finally`` that the
soft-lockup watchdog interrupts in turn.  So while :func:`catching` is active, the ``SIGINT``
handler also records the request, and :func:`check` (called by the explorer before each
execution) raises ``KeyboardInterrupt`` again until the explorer says it handled it
(:func:`handled`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_requested = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def catching() -> Iterator[None]:
    """Record Ctrl-C during the enclosed exploration (main thread only, and only where Ctrl-C
    would raise ``KeyboardInterrupt``: a caller's own handler, or SIGINT ignored, is kept)."""
    global _requested
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    _requested = False
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _requested = False


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came and nobody handled it yet."""
    if _requested:
        raise KeyboardInterrupt


def requested() -> bool:
    """Whether Ctrl-C came and was not handled yet (the watchdog then stays quiet)."""
    return _requested


def handled() -> None:
    """The explorer stopped for the Ctrl-C: later executions (the findings' replays) run."""
    global _requested
    _requested = False
