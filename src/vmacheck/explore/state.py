"""Per-thread and per-step records of an execution, and helpers that read model frames."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

from vmacheck.explore.findings import Location

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution
    from vmacheck.explore.ops import Footprint, Op

class NondeterministicModel(RuntimeError):
    """The model did not repeat itself on replay (it must not depend on randomness or ids)."""


ENGINE_DIR = __file__.rsplit("/", 1)[0]
"""Frames from files in this folder are the engine's, not the model's."""

ENGINE_FILES = (ENGINE_DIR, "src/vmacheck/explore/")
"""How the file names of the engine's frames begin: its folder, or the path relative to the
checkout that the compiled modules' functions carry in tracebacks (``setup.py`` compiles them
by that path)."""


@dataclass(slots=True)
class Held:
    """A resource a thread holds (a lock, a reference); left held at exit is a leak.
    ``taken_at`` is where it was taken: the innermost model frame's code and line, or its
    code and the byte offset of the instruction (``offset``: the line is worked out only
    when a report asks, :attr:`site`)."""

    key: object
    desc: str
    lock_class: str | None
    taken_at: tuple[CodeType, int] | None
    offset: bool = False

    @property
    def site(self) -> tuple[CodeType, int] | None:
        """Where the resource was taken: the innermost model frame's code and line."""
        s = self.taken_at
        if s is None or not self.offset:
            return s
        return s[0], _line_at(s[0], s[1])

    @property
    def where(self) -> Location | None:
        """Where the resource was taken, as a report shows it."""
        s = self.site
        return None if s is None else Location(s[0].co_name, s[0].co_filename, s[1])


@dataclass(slots=True)
class ThreadState:
    tid: int
    name: str
    coro: Coroutine[Any, Any, Any] | None
    pending: Op | None = None
    done: bool = False
    dead: bool = False
    result: Any = None
    held: list[Held] = field(default_factory=list)
    atomic: list[str] = field(default_factory=list)
    loop_reads: dict[int, int] | None = None
    steps: int = 0

    @property
    def live(self) -> bool:
        return not (self.done or self.dead)


@dataclass(slots=True)
class Event:
    """One executed step, as the explorer sees it."""

    index: int
    tid: int
    fp: Footprint
    op: Op
    snaps: tuple[object, ...]
    spawned: int = -1
    joined: int = -1


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a recorded trace, for reports."""

    index: int
    tid: int
    thread: str
    op: str
    obj: str
    location: Location | None
    stack: tuple[Location, ...]
    held: tuple[str, ...]
    ghost: bool = False
    """A checker-bookkeeping step (an op on a ghost object): reports hide it."""


StepListener = Callable[["Execution", Event], None]


def _thread_spec(spec: Any, index: int) -> tuple[str, Coroutine[Any, Any, Any]]:
    if isinstance(spec, tuple) and len(spec) == 2:
        name, coro = spec
        return str(name), coro
    if hasattr(spec, "cr_code"):
        return f"{spec.cr_code.co_name}/{index}", spec
    raise TypeError(f"a model must return coroutines or (name, coroutine) pairs, got {spec!r}")


def _is_null_deref(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, AttributeError | TypeError) and "NoneType" in text


def _exc_location(err: BaseException) -> Location | None:
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(ENGINE_FILES)]
    if not frames:
        return None
    f = frames[-1]
    return Location(f.name, f.filename, f.lineno or 0)


_ENGINE_FILES: dict[str, bool] = {}
"""Per source file name, whether it is the engine's.  Keyed by the name, not by the code
object: a string caches its hash, while hashing a code object hashes its bytecode, constants
and names every time (about 0.45 us, once per op awaited)."""


def _is_engine(code: CodeType) -> bool:
    """Is this code the engine's (a file of this folder)?  Cached per file name."""
    name = code.co_filename
    e = _ENGINE_FILES.get(name)
    if e is None:
        e = _ENGINE_FILES[name] = name.startswith(ENGINE_FILES)
    return e


def _line_at(code: CodeType, lasti: int) -> int:
    """The source line of the instruction at byte offset ``lasti`` of ``code`` (what a frame
    stopped there gives as ``f_lineno``)."""
    for start, end, line in code.co_lines():
        if start <= lasti < end and line is not None:
            return line
    return code.co_firstlineno


def _model_frames(coro: Any) -> list[FrameType]:
    """The model frames of a suspended thread's coroutine chain, outermost first (engine
    frames skipped): its call stack where it awaits its pending op."""
    out: list[FrameType] = []
    engine = _ENGINE_FILES
    c = coro
    while c is not None:
        f = getattr(c, "cr_frame", None)
        if f is None:
            break
        is_engine = engine.get(f.f_code.co_filename)
        if is_engine is None:
            is_engine = _is_engine(f.f_code)
        if not is_engine:
            out.append(f)
        c = c.cr_await
    return out


def _await_stack(coro: Any) -> tuple[tuple[CodeType, int], ...]:
    """The model frames of a suspended thread, outermost first, as (code, line) pairs (no
    Location objects).  Cheap enough to take before every step that may break a check."""
    return tuple([(f.f_code, f.f_lineno) for f in _model_frames(coro)])


def _awaiting_frame(coro: Any) -> FrameType | None:
    """The innermost model frame of a suspended thread: the frame that awaits its pending
    op, as ``Op.__await__`` finds it."""
    frames = _model_frames(coro)
    return frames[-1] if frames else None


def _await_site(coro: Any) -> tuple[CodeType, int] | None:
    """The innermost model frame of a suspended thread, as (code, line): where it awaits its
    pending op.  The cheap form of ``Execution.location_of`` for a thread that is not
    running (no Location objects; engine frames skipped)."""
    frame = _awaiting_frame(coro)  # the line of that frame only
    return None if frame is None else (frame.f_code, frame.f_lineno)


def _exc_stack(err: BaseException) -> tuple[Location, ...]:
    """Model frames of an exception's traceback, innermost last."""
    return tuple(Location(f.name, f.filename, f.lineno or 0)
                 for f in traceback.extract_tb(err.__traceback__)
                 if not f.filename.startswith(ENGINE_FILES))


def _live_stack(frame: FrameType | None) -> tuple[Location, ...]:
    """Model frames of the running thread, innermost last, up to the engine boundary."""
    out: list[Location] = []
    seen_model = False
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(ENGINE_FILES):
            if seen_model:
                break
        else:
            seen_model = True
            out.append(Location(code.co_name, code.co_filename, frame.f_lineno))
        frame = frame.f_back
    out.reverse()
    return tuple(out)


def _find_cycle(graph: dict[int, frozenset[int]]) -> list[int] | None:
    """A cycle among the blocked threads of a wait-for graph, or None."""
    color: dict[int, int] = {}
    for start in sorted(graph):
        if color.get(start):
            continue
        path: list[int] = []
        stack: list[tuple[int, list[int]]] = [(start, sorted(graph[start]))]
        color[start] = 1
        path.append(start)
        while stack:
            node, succ = stack[-1]
            if not succ:
                stack.pop()
                path.pop()
                color[node] = 2
                continue
            nxt = succ.pop(0)
            if nxt not in graph:
                continue
            if color.get(nxt) == 1:
                return path[path.index(nxt):]
            if not color.get(nxt):
                color[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph[nxt])))
    return None
