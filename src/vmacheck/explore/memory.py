"""A weak memory model the explorer runs exhaustively: view-based release/acquire with SC fences.

Under ``memory_model="sc"`` (the default) every load sees the latest store and none of this
module runs.  Under ``memory_model="weak"`` each shared :class:`~vmacheck.explore.Var` keeps
its *modification order*: a list of messages ``(timestamp, value, view)``.  Each thread keeps
views (per location, the timestamp of the latest message it must not read before), as in the
view-based operational semantics of release/acquire (Kang, Hur, Lahav, Vafeiadis and Dreyer,
"A Promising Semantics for Relaxed-Memory Concurrency", POPL 2017, without promises):

- ``cur``: what the thread has observed; a load of ``x`` may read any message of ``x`` at or
  after ``cur[x]`` (a nondeterministic choice the explorer branches on, newest first), a store
  is placed anywhere in ``x``'s order after ``cur[x]`` (another choice; appending first);
- ``acq``: ``cur`` plus the views of every message read; an acquire fence (``smp_rmb``) makes
  it current;
- ``rel``: ``cur`` as of the last release fence (``smp_wmb``); a relaxed store carries it.

A release store carries ``cur``; an acquire load joins the view of the message it read.  A
read-modify-write reads a message nobody else's RMW read and is placed right after it (its
message also carries the view of the message it read: release sequences).  A full fence
(``smp_mb``) is an SC fence: the thread's views and one global view are joined both ways; SC
fences are totally ordered (each reads and writes one global object, so DPOR orders them).
Dependency ordering (the kernel's ``READ_ONCE`` and ``rcu_dereference``, unlike C11 relaxed):
every load remembers, per location, the view of the message it read; an access declared
dependent on that location (``dep=``) reads no older than that view.  Locks acquire the view
their last release left; ``spawn`` hands the parent's view to the child, ``join`` the child's
to the joiner.  Ops that do not know about the memory model (multi-variable locked sections)
act as SC read-modify-writes of the latest messages of the variables they touch.

The model has no promises, so load buffering (a load reading a store that comes later in
program order of another thread which itself read the first thread's later store) is never
allowed; the kernel memory model allows it without dependencies.  README "Memory models" lists
what it allows and forbids, with litmus tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

MEMORY_MODELS = ("sc", "weak")

View = dict[int, Fraction]
"""Per location (object id), a timestamp in that location's modification order."""

LOAD_MODES = frozenset({"plain", "once", "acquire", "rcu"})
STORE_MODES = frozenset({"plain", "once", "release", "rcu"})
RMW_MODES = frozenset({"relaxed", "acquire", "release", "mb"})
ZERO = Fraction(0)


_ACTIVE = "sc"


def active_memory_model() -> str:
    """The memory model executions use unless told otherwise (set by ``explore``/``replay``)."""
    return _ACTIVE


class using:
    """Run executions under memory model ``name`` for the duration of a ``with`` block."""

    def __init__(self, name: str) -> None:
        self.name = check_memory_model(name)
        self.saved = "sc"

    def __enter__(self) -> None:
        global _ACTIVE
        self.saved = _ACTIVE
        _ACTIVE = self.name

    def __exit__(self, *exc: object) -> None:
        global _ACTIVE
        _ACTIVE = self.saved


def check_memory_model(name: str) -> str:
    """``name`` if it is a memory model the explorer knows, else ValueError."""
    if name not in MEMORY_MODELS:
        raise ValueError(f"unknown memory model {name!r}; choose one of "
                         f"{', '.join(MEMORY_MODELS)}")
    return name


def join(into: View, other: View) -> None:
    """``into := into ⊔ other`` (per location, the later timestamp)."""
    for k, v in other.items():
        if into.get(k, ZERO) < v:
            into[k] = v


@dataclass(slots=True)
class Message:
    """One store in a location's modification order."""

    ts: Fraction
    value: Any
    view: View
    taken: bool = False
    """An RMW read this message and sits right after it: nothing may be placed between."""
    src: tuple[int, int] = (-1, 0)
    """Who stored it: (thread, that thread's access count); (-1, 0) for the initial value."""


@dataclass(slots=True)
class ThreadViews:
    """A thread's views (see the module docstring)."""

    cur: View = field(default_factory=dict)
    acq: View = field(default_factory=dict)
    rel: View = field(default_factory=dict)
    dep: dict[int, View] = field(default_factory=dict)
    last_read: View = field(default_factory=dict)
    """Per location, the timestamp of the message the thread's last load of it read."""

    def observe(self, view: View) -> None:
        join(self.cur, view)
        join(self.acq, view)


class WeakMemory:
    """The weak memory state of one execution: histories, thread views, sync views."""

    __slots__ = ("accesses", "fence_obj", "hist", "rf", "sc", "sync", "threads")

    def __init__(self) -> None:
        self.hist: dict[int, list[Message]] = {}
        self.threads: dict[int, ThreadViews] = {}
        self.sc: View = {}
        self.sync: dict[object, View] = {}
        self.fence_obj: Any = None
        self.rf: list[tuple[tuple[int, int], tuple[int, int]]] = []
        """The reads-from relation: (reader access, the ``src`` of the message it read)."""
        self.accesses: dict[int, int] = {}
        """The shared object every full fence writes (created by the first fence)."""

    # -- bookkeeping -----------------------------------------------------------------------
    def views(self, tid: int) -> ThreadViews:
        t = self.threads.get(tid)
        if t is None:
            t = self.threads[tid] = ThreadViews()
        return t

    def location(self, obj: Any) -> list[Message]:
        """The modification order of variable ``obj`` (an object with ``oid`` and ``_value``),
        created at its first access with its value then as the initialising store, visible to
        every thread (so set-up code may assign ``_value`` directly)."""
        h = self.hist.get(obj.oid)
        if h is None:
            h = self.hist[obj.oid] = [Message(ZERO, obj._value, {})]
        return h

    def spawn(self, parent: int, child: int) -> None:
        """The child starts with everything its parent observed."""
        p = self.views(parent)
        self.threads[child] = ThreadViews(dict(p.cur), dict(p.cur), dict(p.cur))

    def joined(self, tid: int, child: int) -> None:
        self.views(tid).observe(self.views(child).cur)

    def stale(self, tid: int, oid: int) -> bool:
        """True when ``oid`` has a newer message than the one the thread last read of it (a
        wait loop that read an old value may go round again)."""
        h = self.hist.get(oid)
        if h is None:
            return False
        t = self.views(tid)
        return t.last_read.get(oid, t.cur.get(oid, ZERO)) < h[-1].ts

    def catch_up(self, tid: int, oid: int) -> None:
        """The thread has seen the latest message of ``oid`` (a wait loop that spun on it)."""
        h = self.hist.get(oid)
        if h is not None:
            t = self.views(tid)
            t.observe({oid: h[-1].ts})
            t.last_read.pop(oid, None)

    # -- loads, stores, RMWs ---------------------------------------------------------------
    def _lower(self, t: ThreadViews, oid: int, deps: tuple[int, ...]) -> tuple[Fraction, View]:
        low = t.cur.get(oid, ZERO)
        extra: View = {}
        for d in deps:
            dv = t.dep.get(d)
            if dv is not None:
                join(extra, dv)
        return max(low, extra.get(oid, ZERO)), extra

    def load_candidates(self, tid: int, oid: int, deps: tuple[int, ...] = ()) -> list[Message]:
        """The messages a load may read, newest first."""
        low, _ = self._lower(self.views(tid), oid, deps)
        return [m for m in reversed(self.hist[oid]) if m.ts >= low]

    def read(self, tid: int, oid: int, m: Message, acquire: bool,
             deps: tuple[int, ...] = ()) -> Any:
        """Thread ``tid`` reads message ``m`` of ``oid``."""
        t = self.views(tid)
        _, extra = self._lower(t, oid, deps)
        self.rf.append((self._access(tid), m.src))
        t.last_read[oid] = m.ts
        own = {oid: m.ts}
        join(t.cur, own)
        join(t.acq, own)
        join(t.acq, m.view)
        carried = dict(m.view)
        join(carried, own)
        join(carried, extra)
        t.dep[oid] = carried
        if acquire:
            t.observe(m.view)
        return m.value

    def store_slots(self, tid: int, oid: int) -> list[int]:
        """Where a store may go: indices of the messages it may follow, last first."""
        h = self.hist[oid]
        low = self.views(tid).cur.get(oid, ZERO)
        return [i for i in range(len(h) - 1, -1, -1) if h[i].ts >= low and not h[i].taken]

    def write(self, tid: int, oid: int, after: int, value: Any, release: bool,
              carry: View | None = None, rmw: bool = False) -> None:
        """Place a store of ``value`` right after message ``after`` of ``oid``."""
        h = self.hist[oid]
        prev = h[after]
        ts = prev.ts + 1 if after == len(h) - 1 else (prev.ts + h[after + 1].ts) / 2
        t = self.views(tid)
        own = {oid: ts}
        t.observe(own)
        view = dict(t.cur if release else t.rel)
        join(view, own)
        if carry is not None:
            join(view, carry)
        if rmw:
            prev.taken = True
        h.insert(after + 1, Message(ts, value, view, src=self._access(tid)))

    def _access(self, tid: int) -> tuple[int, int]:
        n = self.accesses.get(tid, 0) + 1
        self.accesses[tid] = n
        return (tid, n)

    def graph(self) -> tuple[object, ...]:
        """This execution's reads-from and coherence orders (for measuring redundancy)."""
        co = tuple(sorted((oid, tuple(m.src for m in h)) for oid, h in self.hist.items()))
        return (tuple(sorted(self.rf)), co)

    def rmw_candidates(self, tid: int, oid: int) -> list[int]:
        """Indices of the messages an RMW may read (not read by another RMW), newest first."""
        return self.store_slots(tid, oid)

    # -- fences and synchronisation objects ------------------------------------------------
    def fence(self, tid: int, kind: str) -> None:
        """``rmb`` (acquire fence), ``wmb`` (release fence) or ``mb`` (SC fence)."""
        t = self.views(tid)
        if kind in ("rmb", "mb"):
            t.observe(t.acq)
        if kind == "mb":
            t.observe(self.sc)
            self.sc = dict(t.cur)
        if kind in ("wmb", "mb"):
            t.rel = dict(t.cur)

    def acquire_from(self, tid: int, key: object) -> None:
        """Join the view released to ``key`` (a lock, a grace period) into the thread's."""
        v = self.sync.get(key)
        if v is not None:
            self.views(tid).observe(v)

    def release_to(self, tid: int, key: object) -> None:
        """Publish the thread's view to ``key``; later ``acquire_from(key)`` see it."""
        v = self.sync.setdefault(key, {})
        join(v, self.views(tid).cur)

    # -- ops that know nothing of the memory model ------------------------------------------
    def legacy_before(self, tid: int, fp: tuple[tuple[int, bool], ...],
                      objects: list[Any]) -> None:
        """Before an op unaware of the model: it reads the latest message of each variable
        it touches, as an acquire."""
        t = self.views(tid)
        for oid, _ in fp:
            obj = objects[oid]
            if hasattr(obj, "_value"):
                last = self.location(obj)[-1]
                t.observe(last.view)
                t.observe({oid: last.ts})

    def legacy_after(self, tid: int, fp: tuple[tuple[int, bool], ...],
                     objects: list[Any]) -> None:
        """After it: each variable it wrote gets a release message with its new value,
        right after the latest (an SC read-modify-write)."""
        for oid, w in fp:
            obj = objects[oid]
            if w and hasattr(obj, "_value"):
                h = self.location(obj)
                self.write(tid, oid, len(h) - 1, obj._value, True, rmw=True)
