"""Per-thread and per-step records of an execution, and helpers that read model frames."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Coroutine
from types import CodeType, CoroutineType, FrameType
from typing import TYPE_CHECKING, Any

from mypy_extensions import mypyc_attr

from vmacheck.explore.findings import Location

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution
    from vmacheck.explore.ops import Footprint, Op


@mypyc_attr(native_class=False)  # an exception: a Python class, compiled or not
class NondeterministicModel(RuntimeError):
    """The model did not repeat itself on replay (it must not depend on randomness or ids)."""


ENGINE_DIR = __file__.rsplit("/", 1)[0]
"""Frames from files in this folder are the engine's, not the model's."""

ENGINE_FILES = (ENGINE_DIR, "src/vmacheck/explore/")
"""How the file names of the engine's frames begin: its folder, or the path relative to the
checkout that the compiled modules' functions carry in tracebacks (``setup.py`` compiles them
by that path)."""


class Held:
    """A resource a thread holds (a lock, a reference); left held at exit is a leak.
    ``taken_at`` is where it was taken: the innermost model frame's code and line, or its
    code and the byte offset of the instruction (``offset``: the line is worked out only
    when a report asks, :attr:`site`)."""

    __slots__ = ("desc", "key", "lock_class", "offset", "taken_at")

    def __init__(self, key: object, desc: str, lock_class: str | None,
                 taken_at: tuple[CodeType, int] | None, offset: bool = False) -> None:
        self.key = key
        self.desc = desc
        self.lock_class = lock_class
        self.taken_at = taken_at
        self.offset = offset

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

    def __repr__(self) -> str:
        return f"Held({self.key!r}, {self.desc!r}, {self.lock_class!r})"


class ThreadState:
    """A model thread of an execution: its coroutine, the op it waits to run, what it
    holds (locks, references, atomic contexts) and how it ended."""

    __slots__ = ("atomic", "coro", "dead", "done", "held", "loop_reads", "name", "pending",
                 "result", "steps", "tid")

    def __init__(self, tid: int, name: str, coro: Coroutine[Any, Any, Any] | None) -> None:
        self.tid = tid
        self.name = name
        self.coro = coro
        self.pending: Op | None = None
        self.done = False
        self.dead = False
        self.result: Any = None
        self.held: list[Held] = []
        self.atomic: list[str] = []
        self.loop_reads: dict[int, int] | None = None
        self.steps = 0

    @property
    def live(self) -> bool:
        return not (self.done or self.dead)

    def __repr__(self) -> str:
        return f"ThreadState({self.tid}, {self.name!r}, steps={self.steps})"


class Event:
    """One executed step, as the explorer sees it: the thread, the objects it touched
    (``fp``), the op and the states of those objects before it (``snaps``)."""

    __slots__ = ("fp", "index", "joined", "op", "snaps", "spawned", "tid")

    def __init__(self, index: int, tid: int, fp: Footprint, op: Op,
                 snaps: tuple[object, ...]) -> None:
        self.index = index
        self.tid = tid
        self.fp = fp
        self.op = op
        self.snaps = snaps
        self.spawned = -1
        self.joined = -1

    def __repr__(self) -> str:
        return f"Event({self.index}, thread {self.tid}, {self.op.describe()}, {self.fp})"


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
    # down the chain of coroutines; it ends at the op's awaitable (or a compiled coroutine
    # of the engine), which has no frame (asked by type: a failed getattr costs an exception)
    while isinstance(c, CoroutineType):
        f = c.cr_frame
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
