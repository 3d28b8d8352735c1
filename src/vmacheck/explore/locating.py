"""Where things happen in model code: the findings an execution reports, and the call stacks
and sites of its threads (live frames while a thread runs, the chain of suspended coroutines
while it waits).

:class:`Locating` is a part of :class:`vmacheck.explore.core.Execution`, one link of its
single chain of bases (``Locating`` <- ``Checking`` <- ``Ending`` <- ``Holding`` <-
``Replaying`` <- ``Execution``: mypyc compiles a class with one base).  The execution's
state it reads is declared here, unless a class before it in the chain declares it: each
attribute once, or the compiled class's garbage-collector support counts it twice.
"""

from __future__ import annotations

import sys
from types import CodeType
from typing import Any

from vmacheck.explore.findings import Location, RawFinding
from vmacheck.explore.state import (
    ENGINE_FILES,
    Event,
    ThreadState,
    _awaiting_frame,
    _is_engine,
    _line_at,
    _live_stack,
)


class Locating:
    """Findings and the locations of threads."""

    threads: list[ThreadState]
    events: list[Event]
    findings: list[RawFinding]
    current_tid: int | None
    _in_thread_code: bool

    def report(
        self,
        kind: str,
        message: str,
        tid: int | None,
        location: Location | None = None,
        extra: dict[str, Any] | None = None,
        stack: tuple[Location, ...] | None = None,
    ) -> None:
        if stack is None:
            # in thread code (a WARN_ON) or in an op: the reporting thread's stack now
            stack = self.stack_of(tid) if tid is not None and self.current_tid == tid else ()
        if location is None and tid is not None:
            location = stack[-1] if stack else self.location_of(tid)
        thread = self.threads[tid].name if tid is not None else ""
        # inside an op the step is the one being executed; in thread code or at the end it
        # is the step that led there
        step = len(self.events) if (self.current_tid is not None and not
                                    self._in_thread_code) else max(len(self.events) - 1, 0)
        self.findings.append(RawFinding(kind, message, tid, thread, location, step, extra or {},
                                        stack))

    # The live stacks below start at the innermost frame and skip the engine's: compiled, the
    # engine's functions have no frames of their own (the innermost frame is the model's);
    # from source, they have (and the walk skips them).

    def site(self, tid: int | None = None) -> dict[str, Any]:
        """Who is doing something now (for "Allocated by"/"Freed by"): task, step, stack."""
        if tid is None:
            tid = self.current_tid
        if tid is None:  # the model building its state
            return {"task": "(model set-up)", "step": 0, "stack": list(_live_stack(
                sys._getframe(0)))}
        return {"task": self.threads[tid].name, "step": len(self.events) + 1,
                "stack": list(self.stack_of(tid))}

    def location_of(self, tid: int) -> Location | None:
        """The innermost model frame of a thread (``stack_of(tid)[-1]``), found without
        building the whole stack."""
        site = self.site_offset_of(tid)
        if site is None:
            return None
        code, offset = site
        return Location(code.co_name, code.co_filename, _line_at(code, offset))

    def site_offset_of(self, tid: int) -> tuple[CodeType, int] | None:
        """Where thread ``tid`` is: the innermost model frame's code and the byte offset of
        its instruction (the line is worked out only when a report asks: ``_line_at``,
        ``Held(offset=True)``)."""
        if self.current_tid == tid and self._in_thread_code:
            f: Any = sys._getframe(0)
            while f is not None:
                code = f.f_code
                if not _is_engine(code):
                    return code, f.f_lasti
                f = f.f_back
            return None
        frame = _awaiting_frame(self.threads[tid].coro)
        return None if frame is None else (frame.f_code, frame.f_lasti)

    def stack_of(self, tid: int) -> tuple[Location, ...]:
        """The model call stack of a thread: from the live frames if it is running, else from
        the chain of suspended coroutines."""
        if self.current_tid == tid and self._in_thread_code:
            return _live_stack(sys._getframe(0))
        t = self.threads[tid]
        frames: list[Location] = []
        c: Any = t.coro
        while c is not None and hasattr(c, "cr_frame"):
            f = c.cr_frame
            if f is None:
                break
            if not f.f_code.co_filename.startswith(ENGINE_FILES):
                frames.append(Location(f.f_code.co_name, f.f_code.co_filename, f.f_lineno))
            c = c.cr_await
        return tuple(frames)
