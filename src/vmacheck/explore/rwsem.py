"""A fair reader/writer semaphore with a FIFO wait queue (the shape of ``mmap_lock``)."""

from __future__ import annotations

from typing import Any

from mypy_extensions import mypyc_attr

from vmacheck.explore.core import Execution
from vmacheck.explore.ops import Footprint, Op, Shared
from vmacheck.explore.primitives import Var


@mypyc_attr(allow_interpreted_subclasses=True)
class RwSem(Shared):
    """A fair reader/writer semaphore with a FIFO wait queue.

    A request acquires at once when compatible and nobody is queued, else enqueues (one step);
    the grant is a separate, blocking step: a writer when it heads the queue and the lock is
    free, a reader when no writer holds it and only readers are ahead of it.  A queued writer
    therefore blocks new readers, and trylocks fail whenever anyone is queued.  If ``seq`` is
    given it is incremented in the same step as a write acquisition, a write release and a
    downgrade (the kernel's ``mm_lock_seq``).
    """

    __slots__ = ("lock_class", "queue", "readers", "seq", "writer")

    def __init__(self, name: str, seq: Var | None = None, lock_class: str | None = None,
                 alloc: Any = None) -> None:
        super().__init__(name, alloc)
        self.writer: int | None = None
        self.readers: tuple[int, ...] = ()
        self.queue: tuple[tuple[int, str], ...] = ()
        self.seq = seq
        self.lock_class = lock_class or name

    def snapshot(self) -> object:
        return (self.writer, self.readers, self.queue)

    def statistics(self) -> dict[str, Any]:
        return {"writer": self.writer, "readers": len(self.readers),
                "waiters": len(self.queue)}

    async def down_read(self) -> None:
        if not await _RwOp(self, "req_r"):
            await _RwOp(self, "grant_r")

    async def down_write(self) -> None:
        if not await _RwOp(self, "req_w"):
            await _RwOp(self, "grant_w")

    def down_read_trylock(self) -> Op:
        return _RwOp(self, "try_r")

    def down_write_trylock(self) -> Op:
        return _RwOp(self, "try_w")

    def up_read(self) -> Op:
        return _RwOp(self, "up_r")

    def up_write(self) -> Op:
        return _RwOp(self, "up_w")

    def downgrade_write(self) -> Op:
        return _RwOp(self, "downgrade")

    def read_held_by(self, tid: int) -> bool:
        return tid in self.readers

    def contended(self) -> bool:
        return bool(self.queue)


def _rw_grant_ok(kind: str, tid: int, writer: int | None, readers: tuple[int, ...],
                 queue: tuple[tuple[int, str], ...]) -> bool:
    if writer is not None:
        return False
    if kind == "grant_w":
        return not readers and bool(queue) and queue[0][0] == tid
    for qtid, mode in queue:
        if qtid == tid:
            return True
        if mode == "W":
            return False
    return False


class _RwOp(Op):
    __slots__ = ("blocks", "kind", "sem")

    def __init__(self, sem: RwSem, kind: str) -> None:
        self.sem = sem
        self.kind = kind
        self.blocks = kind.startswith("grant")  # asked before every step the op is pending

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.blocks

    @property
    def sleeps(self) -> bool:  # type: ignore[override]
        return self.kind.startswith(("req", "grant"))

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        s = self.sem
        return self._fp_in(s.writer, s.readers, s.queue)

    @property
    def footprint_varies(self) -> bool:  # type: ignore[override]
        return self.kind in ("try_r", "try_w", "req_w")

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        snap = snaps.get(self.sem.oid)
        if not self.footprint_varies or not isinstance(snap, tuple):
            return fp
        return self._fp_in(*snap)

    def _fp_in(self, writer: int | None, readers: tuple[int, ...],
               queue: tuple[tuple[int, str], ...]) -> Footprint:
        """The footprint with the semaphore in the given state."""
        s = self.sem
        k = self.kind
        free = writer is None and not queue
        ok = free and (k == "try_r" or not readers)
        fp = s.fp(ok or not k.startswith("try"))
        if s.seq is not None and (k in ("up_w", "downgrade", "grant_w")
                                  or (k == "req_w" and free and not readers)
                                  or (k == "try_w" and ok)):
            fp = (*fp, (s.seq.oid, True))
        return fp

    def _try_ok(self) -> bool:
        s = self.sem
        if s.writer is not None or s.queue:
            return False
        return self.kind == "try_r" or not s.readers

    def enabled(self, ex: Execution, tid: int) -> bool:
        if not self.kind.startswith("grant"):
            return True
        s = self.sem
        return _rw_grant_ok(self.kind, tid, s.writer, s.readers, s.queue)

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        if not self.kind.startswith("grant"):
            return True
        if oid != self.sem.oid:
            return self.enabled(ex, tid)
        state: tuple[int | None, tuple[int, ...], tuple[tuple[int, str], ...]] = snap  # type: ignore[assignment]
        return _rw_grant_ok(self.kind, tid, state[0], state[1], state[2])

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        s = self.sem
        out = set(s.readers)
        if s.writer is not None:
            out.add(s.writer)
        for qtid, mode in s.queue:
            if qtid == tid:
                break
            if self.kind == "grant_w" or mode == "W":
                out.add(qtid)
        out.discard(tid)
        return frozenset(out)

    def execute(self, ex: Execution, tid: int) -> Any:
        s = self.sem
        k = self.kind
        if k in ("req_r", "req_w"):
            mode = "R" if k == "req_r" else "W"
            if self._try_ok_mode(mode):
                self._acquire(ex, tid, mode)
                return True
            s.queue = (*s.queue, (tid, mode))
            return False
        if k in ("grant_r", "grant_w"):
            s.queue = tuple(e for e in s.queue if e[0] != tid)
            self._acquire(ex, tid, "R" if k == "grant_r" else "W")
            return None
        if k in ("try_r", "try_w"):
            if not self._try_ok():
                return False
            self._acquire(ex, tid, "R" if k == "try_r" else "W", trylock=True)
            return True
        if k == "up_r":
            if tid not in s.readers:
                ex.report("bad-unlock", self._bad_unlock_msg(ex, "read"), tid)
                return None
            readers = list(s.readers)
            readers.remove(tid)
            s.readers = tuple(readers)
            if ex.memory is not None:  # up_read is a release
                ex.memory.release_to(tid, s.oid)
            ex.unhold(tid, (s, "R"))
            return None
        if s.writer != tid:
            ex.report("bad-unlock", self._bad_unlock_msg(ex, "write"), tid)
            return None
        if self.sem.seq is not None:
            self.sem.seq._value += 1
        if ex.memory is not None:  # up_write and downgrade_write are releases
            ex.memory.release_to(tid, s.oid)
        ex.unhold(tid, (s, "W"))
        s.writer = None
        if k == "downgrade":
            s.readers = (*s.readers, tid)
            ex.hold(tid, (s, "R"), f"{s.name} (read)", None)
        return None

    def _try_ok_mode(self, mode: str) -> bool:
        s = self.sem
        if s.writer is not None or s.queue:
            return False
        return mode == "R" or not s.readers

    def _bad_unlock_msg(self, ex: Execution, mode: str) -> str:
        s = self.sem
        if s.writer is not None:
            state = f"write-held by {ex.threads[s.writer].name}"
        elif s.readers:
            state = "read-held by " + ", ".join(ex.threads[r].name for r in s.readers)
        else:
            state = "not held"
        return f"{mode} unlock of {s.name}, which this thread does not hold ({state})"

    def _acquire(self, ex: Execution, tid: int, mode: str, trylock: bool = False) -> None:
        s = self.sem
        if ex.memory is not None:  # every grant is an acquire
            ex.memory.acquire_from(tid, s.oid)
        if mode == "W":
            s.writer = tid
            if s.seq is not None:
                s.seq._value += 1
        else:
            s.readers = (*s.readers, tid)
        desc = f"{s.name} ({'write' if mode == 'W' else 'read'})"
        ex.hold(tid, (s, mode), desc, s.lock_class, trylock=trylock)

    def describe(self) -> str:
        names = {"req_r": "down_read", "req_w": "down_write", "grant_r": "down_read (granted)",
                 "grant_w": "down_write (granted)", "try_r": "down_read_trylock",
                 "try_w": "down_write_trylock", "up_r": "up_read", "up_w": "up_write",
                 "downgrade": "downgrade_write"}
        return f"{names[self.kind]} {self.sem.name}"

    def target(self) -> Shared:
        return self.sem
