"""Shared-state primitives for models: variables, locks, threads, assertions, labels.

Every method that touches shared state returns an :class:`~vmacheck.explore.core.Op` that the
model must ``await``; the engine sees it before it runs.  Plain functions (``BUG_ON``,
``WARN_ON``, ``label``, ``atomic_enter``) touch only the calling thread's own state.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from vmacheck.explore.core import (
    BugOn,
    Execution,
    Footprint,
    JoinOp,
    Op,
    Shared,
    SpawnOp,
    current,
)

# --------------------------------------------------------------------------- variables


class Var(Shared):
    """A shared variable.  ``peek`` is for invariants and outcome functions only."""

    __slots__ = ("_value",)

    def __init__(self, name: str, value: Any = None, alloc: Any = None) -> None:
        super().__init__(name, alloc)
        self._value = value

    def snapshot(self) -> object:
        return (self._value, self.version)

    def peek(self) -> Any:
        """Read without a step: allowed in invariants, outcomes and model set-up only."""
        ex = current()
        if ex.current_tid is not None:
            raise RuntimeError(f"peek() of {self.name} from a running thread: use await .load()")
        return self._value

    def load(self) -> Op:
        return _VarOp(self, "load", None, None)

    def store(self, value: Any) -> Op:
        return _VarOp(self, "store", value, None)

    def cas(self, expected: Any, new: Any) -> Op:
        """Compare-and-swap; returns True on success.  A failed CAS is a read."""
        return _VarOp(self, "cas", expected, new)

    def fetch_add(self, delta: int) -> Op:
        return _VarOp(self, "fetch_add", delta, None)

    def xchg(self, value: Any) -> Op:
        return _VarOp(self, "xchg", value, None)

    def update(self, fn: Callable[[Any], Any]) -> Op:
        """Atomic read-modify-write with a pure function; returns the old value."""
        return _VarOp(self, "update", fn, None)


class _VarOp(Op):
    __slots__ = ("a", "b", "kind", "var")

    def __init__(self, var: Var, kind: str, a: Any, b: Any) -> None:
        self.var = var
        self.kind = kind
        self.a = a
        self.b = b

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if self.kind == "load":
            return self.var.fp(False)
        if self.kind == "cas":
            return self.var.fp(self.var._value == self.a)
        return self.var.fp(True)

    @property
    def footprint_varies(self) -> bool:  # type: ignore[override]
        return self.kind == "cas"

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        snap = snaps.get(self.var.oid)
        if self.kind != "cas" or not isinstance(snap, tuple):
            return fp
        return self.var.fp(snap[0] == self.a)

    def execute(self, ex: Execution, tid: int) -> Any:
        v = self.var
        old = v._value
        k = self.kind
        if k == "load":
            return old
        if k == "store":
            v._value = self.a
            return None
        if k == "cas":
            if old == self.a:
                v._value = self.b
                return True
            return False
        if k == "fetch_add":
            v._value = old + self.a
            return old
        if k == "xchg":
            v._value = self.a
            return old
        v._value = self.a(old)
        return old

    def describe(self) -> str:
        if self.kind == "load":
            return f"load {self.var.name}"
        if self.kind == "cas":
            return f"cas {self.var.name} {self.a!r}->{self.b!r}"
        if self.kind == "update":
            return f"update {self.var.name}"
        return f"{self.kind} {self.var.name} {self.a!r}"

    def target(self) -> Shared:
        return self.var


# --------------------------------------------------------------------------- mutex, spinlock


class Mutex(Shared):
    """A sleeping mutex (``mutex_lock``): blocking lock, trylock, unlock by the owner only."""

    __slots__ = ("lock_class", "owner")
    sleeping = True

    def __init__(self, name: str, lock_class: str | None = None, alloc: Any = None) -> None:
        super().__init__(name, alloc)
        self.owner: int | None = None
        self.lock_class = lock_class or name

    def snapshot(self) -> object:
        return self.owner

    def lock(self) -> Op:
        return _LockOp(self, "lock")

    def trylock(self) -> Op:
        return _LockOp(self, "trylock")

    def unlock(self) -> Op:
        return _LockOp(self, "unlock")

    def statistics(self) -> dict[str, Any]:
        return {"owner": self.owner}


class SpinLock(Mutex):
    """A spinlock: waiting is not sleeping, and holding it is atomic context."""

    __slots__ = ()
    sleeping = False


class _LockOp(Op):
    __slots__ = ("kind", "lk")

    def __init__(self, lk: Mutex, kind: str) -> None:
        self.lk = lk
        self.kind = kind

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.kind == "lock"

    @property
    def sleeps(self) -> bool:  # type: ignore[override]
        return self.kind == "lock" and self.lk.sleeping

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        if self.kind == "trylock":
            return self.lk.fp(self.lk.owner is None)
        return self.lk.fp(True)

    @property
    def footprint_varies(self) -> bool:  # type: ignore[override]
        return self.kind == "trylock"

    def footprint_on(self, snaps: dict[int, object], fp: Footprint) -> Footprint:
        if self.kind != "trylock" or self.lk.oid not in snaps:
            return fp
        return self.lk.fp(snaps[self.lk.oid] is None)

    def enabled(self, ex: Execution, tid: int) -> bool:
        return self.kind != "lock" or self.lk.owner is None

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        if oid == self.lk.oid:
            return self.kind != "lock" or snap is None
        return True

    def waits_for(self, ex: Execution, tid: int) -> frozenset[int]:
        return frozenset() if self.lk.owner is None else frozenset({self.lk.owner})

    def execute(self, ex: Execution, tid: int) -> Any:
        lk = self.lk
        spin = not lk.sleeping
        if self.kind == "unlock":
            if lk.owner != tid:
                who = "nobody" if lk.owner is None else ex.threads[lk.owner].name
                ex.report("bad-unlock", f"unlock of {lk.name} held by {who}", tid)
                return None
            lk.owner = None
            ex.unhold(tid, lk)
            if spin:
                atomic_exit(f"spinlock {lk.name}", ex, tid)
            return None
        if self.kind == "trylock" and lk.owner is not None:
            return False
        if lk.owner == tid:
            ex.report("deadlock", f"recursive lock of {lk.name}", tid,
                      extra={"cycle": [ex.threads[tid].name]})
        lk.owner = tid
        ex.hold(tid, lk, lk.name, lk.lock_class, trylock=self.kind == "trylock")
        if spin:
            ex.threads[tid].atomic.append(f"spinlock {lk.name}")
        return True if self.kind == "trylock" else None

    def describe(self) -> str:
        verb = {"lock": "lock", "trylock": "trylock", "unlock": "unlock"}[self.kind]
        prefix = "spin_" if not self.lk.sleeping else "mutex_"
        return f"{prefix}{verb} {self.lk.name}"

    def target(self) -> Shared:
        return self.lk


# --------------------------------------------------------------------------- fair rwsem


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
    __slots__ = ("kind", "sem")

    def __init__(self, sem: RwSem, kind: str) -> None:
        self.sem = sem
        self.kind = kind

    @property
    def blocking(self) -> bool:  # type: ignore[override]
        return self.kind.startswith("grant")

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
            ex.unhold(tid, (s, "R"))
            return None
        if s.writer != tid:
            ex.report("bad-unlock", self._bad_unlock_msg(ex, "write"), tid)
            return None
        if self.sem.seq is not None:
            self.sem.seq._value += 1
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


# --------------------------------------------------------------------------- threads


def spawn(name: str, coro: Coroutine[Any, Any, Any]) -> Op:
    """Start a new thread; awaiting returns its handle (an int) for :func:`join`."""
    return SpawnOp(name, coro)


def join(handle: int) -> Op:
    """Wait for a spawned thread; returns its return value."""
    return JoinOp(handle)


# --------------------------------------------------------------------------- wait loops


def loop_begin() -> None:
    """Start (or restart) an iteration of a wait loop; see :func:`retry`."""
    ex = current()
    assert ex.current_tid is not None, "loop_begin() outside a model thread"
    ex.threads[ex.current_tid].loop_reads = {}


class _RetryOp(Op):
    __slots__ = ("reads",)
    blocking = True

    def __init__(self, reads: dict[int, int]) -> None:
        self.reads = reads

    def footprint(self, ex: Execution, tid: int) -> Footprint:
        return tuple((oid, False) for oid in self.reads)

    def enabled(self, ex: Execution, tid: int) -> bool:
        objs = ex.objects
        return any(objs[oid].version != v for oid, v in self.reads.items())

    def enabled_on(self, oid: int, snap: object, ex: Execution, tid: int) -> bool:
        for o, v in self.reads.items():
            if o == oid:
                if not (isinstance(ex.objects[o], Var) and isinstance(snap, tuple)):
                    return True
                ver = snap[1]
            else:
                ver = ex.objects[o].version
            if ver != v:
                return True
        return False

    def execute(self, ex: Execution, tid: int) -> None:
        ex.threads[tid].loop_reads = None

    def describe(self) -> str:
        return "retry (wait for a change)"


def retry() -> Op:
    """Block until something read since :func:`loop_begin` is written, then continue.

    A retry that observed nothing new would only repeat itself, so the engine parks the thread
    instead of letting it spin: wait loops stay finite under exhaustive search, and a loop that
    can never make progress shows up as a deadlock or, when writers keep changing what it
    reads, as a step-limit (livelock) finding.
    """
    ex = current()
    assert ex.current_tid is not None, "retry() outside a model thread"
    t = ex.threads[ex.current_tid]
    return _RetryOp(dict(t.loop_reads or {}))


# --------------------------------------------------------------------------- checks, labels


def BUG_ON(cond: object, message: str = "") -> None:
    """Kill the calling thread with an ``assertion`` finding when ``cond`` is true."""
    if cond:
        raise BugOn(f"BUG_ON({message})" if message else "BUG_ON")


def WARN_ON(cond: object, message: str = "") -> bool:
    """Report an ``assertion`` finding when ``cond`` is true; the thread goes on."""
    if cond:
        ex = current()
        ex.report("assertion", f"WARN_ON({message})" if message else "WARN_ON", ex.current_tid)
    return bool(cond)


def report(kind: str, message: str) -> None:
    """Report a finding of any kind from model code (e.g. ``bad-unlock`` from a model lock)."""
    ex = current()
    ex.report(kind, message, ex.current_tid)


def label(text: str) -> None:
    """Add a label to this execution's outcome."""
    current().labels.append(text)


def outcome(fn: Callable[[], object]) -> None:
    """Register a function, called at the end of every execution, that labels the outcome."""
    current().outcome_fns.append(fn)


def invariant(name: str, check: Callable[[], object], *, at_end: bool = False,
              reads: Iterable[Shared] | None = None) -> None:
    """Register a named check, run after every step (or only at the end with ``at_end``).

    The explorer runs one interleaving per Mazurkiewicz trace, so a check run after every
    step sees the intermediate states of those interleavings only.  Give ``reads`` (the
    shared objects the check looks at) to make every write to them visible: the explorer
    then orders those writes in every way and the check sees every state they can form.
    ``at_end`` checks need no ``reads``: the final state is the same for a whole trace.
    """
    current().add_invariant(name, check, at_end=at_end, reads=reads)


def atomic_enter(reason: str) -> None:
    """Enter atomic context (sleeping forbidden) for ``reason``, e.g. ``"rcu_read_lock"``."""
    ex = current()
    assert ex.current_tid is not None, "atomic_enter() outside a model thread"
    ex.threads[ex.current_tid].atomic.append(reason)


def atomic_exit(reason: str, ex: Execution | None = None, tid: int | None = None) -> None:
    """Leave the innermost atomic context entered for ``reason``."""
    ex = ex or current()
    tid = ex.current_tid if tid is None else tid
    assert tid is not None
    stack = ex.threads[tid].atomic
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] == reason:
            del stack[i]
            return
    ex.report("bad-unlock", f"leaving {reason}, which was not entered", tid)


def in_atomic() -> bool:
    ex = current()
    return ex.current_tid is not None and bool(ex.threads[ex.current_tid].atomic)


def thread_id() -> int:
    """The id of the calling model thread."""
    ex = current()
    assert ex.current_tid is not None
    return ex.current_tid


def hold(key: object, desc: str, lock_class: str | None = None, trylock: bool = False) -> None:
    """Record that the calling thread now holds a resource (for leak checks and lockdep)."""
    ex = current()
    assert ex.current_tid is not None
    ex.hold(ex.current_tid, key, desc, lock_class, trylock)


def unhold(key: object) -> bool:
    """Record a release; returns False when the thread did not hold it."""
    ex = current()
    assert ex.current_tid is not None
    return ex.unhold(ex.current_tid, key)
