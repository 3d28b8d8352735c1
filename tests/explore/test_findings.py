"""Planted bugs: one small model per finding kind.

For each: the kind, the thread and the model line of the bad statement (found with
``inspect``, never hard-coded); replaying ``minimal_schedule`` reproduces the finding; the
minimised interleaving has no more context switches than the original one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import vmacheck as vc

Model = Callable[[], list[Any]]


def line_of(fn: Callable[..., Any], marker: str) -> int:
    """The line number of the one source line of ``fn`` that contains ``marker``."""
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, text in enumerate(lines) if marker in text]
    assert len(hits) == 1, f"marker {marker!r} found {len(hits)} times"
    return hits[0]


def the_finding(r: vc.Result, kind: str) -> vc.Finding:
    found = r.by_kind(kind)
    assert len(found) == 1, [f.headline() for f in r.findings]
    return found[0]


def check(model: Model, kind: str, thread: str, marker: str, *, function: str | None = None,
          max_steps: int = 5_000, **kw: Any) -> tuple[vc.Result, vc.Finding]:
    r = vc.explore(model, max_steps=max_steps, **kw)
    f = the_finding(r, kind)
    assert f.thread == thread
    assert f.location is not None
    assert f.location.line == line_of(model, marker), f.location
    if function is not None:
        assert f.location.function == function
    assert f.context_switches <= f.original_context_switches
    # the minimal schedule reproduces the same finding (kind, thread and line)
    rep = vc.replay(model, f.minimal_schedule, max_steps=max_steps)
    assert any(x.kind == kind and x.thread == thread and x.location is not None
               and x.location.line == f.location.line for x in rep.findings), rep.findings
    # so does the original one
    rep = vc.replay(model, f.schedule, max_steps=max_steps)
    assert any(x.kind == kind and x.thread == thread for x in rep.findings)
    return r, f


# --------------------------------------------------------------------------- assertion


def bug_on_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def writer() -> None:
        await x.store(1)
        await x.store(2)

    async def checker() -> None:
        v = await x.load()
        vc.BUG_ON(v == 1, "saw a half-done update")
        vc.label("checker done")

    return [("writer", writer()), ("checker", checker())]


@pytest.mark.kind("assertion")
def test_bug_on() -> None:
    r, f = check(bug_on_model, "assertion", "checker", "vc.BUG_ON(", function="checker")
    assert "half-done" in f.message
    assert f.context_switches == 1  # writer, checker: one preemption is all it takes
    # BUG_ON kills the thread: the execution that fires it never reaches the label
    assert r.outcome_labels() == {"checker done": 2}
    assert r.complete and r.executions == 3


def warn_on_model() -> list[Any]:
    x = vc.Var("x", 0)

    async def writer() -> None:
        await x.store(1)
        await x.store(2)

    async def checker() -> None:
        v = await x.load()
        vc.WARN_ON(v == 1, "saw a half-done update")
        vc.label("checker done")

    return [("writer", writer()), ("checker", checker())]


@pytest.mark.kind("assertion")
def test_warn_on_reports_and_continues() -> None:
    r, f = check(warn_on_model, "assertion", "checker", "vc.WARN_ON(", function="checker")
    assert f.message == "WARN_ON(saw a half-done update)"
    assert r.outcome_labels() == {"checker done": 3}  # the thread went on every time


# --------------------------------------------------------------------------- exceptions


def exception_model() -> list[Any]:
    n = vc.Var("n", 1)

    async def decrementer() -> None:
        v = await n.load()
        await n.store(v - 1)

    async def divider() -> None:
        v = await n.load()
        vc.label(f"ratio={10 // v}")

    return [("decrementer", decrementer()), ("divider", divider())]


@pytest.mark.kind("exception")
def test_exception() -> None:
    _, f = check(exception_model, "exception", "divider", "10 // v", function="divider")
    assert f.message.startswith("ZeroDivisionError")


def null_deref_model() -> list[Any]:
    target = vc.Var("target", 7)
    ptr = vc.Var("ptr", target)

    async def unpublisher() -> None:
        await ptr.store(None)

    async def reader() -> None:
        p = await ptr.load()
        vc.label(f"value={await p.load()}")

    return [("unpublisher", unpublisher()), ("reader", reader())]


@pytest.mark.kind("null-deref")
def test_null_deref() -> None:
    r, f = check(null_deref_model, "null-deref", "reader", "await p.load()")
    assert "NoneType" in f.message
    assert r.by_kind("exception") == []  # classified as a NULL dereference, not generic


# --------------------------------------------------------------------------- memory


def uaf_model() -> list[Any]:
    obj = vc.Allocation("obj")
    field = vc.Var("obj.field", 1, alloc=obj)

    async def freer() -> None:
        await obj.free()

    async def user() -> None:
        vc.label(f"field={await field.load()}")

    return [("freer", freer()), ("user", user())]


@pytest.mark.kind("use-after-free")
def test_use_after_free() -> None:
    r, f = check(uaf_model, "use-after-free", "user", "await field.load()", function="user")
    assert "obj.field" in f.message and "freed obj" in f.message
    assert r.executions == 2


def double_free_model() -> list[Any]:
    obj = vc.Allocation("obj")
    freed = vc.Var("freed", False)

    async def release() -> None:
        if not await freed.load():
            await obj.free()
            await freed.store(True)

    return [("a", release()), ("b", release())]


@pytest.mark.kind("double-free")
def test_double_free() -> None:
    _, f = check(double_free_model, "double-free", "b", "await obj.free()", function="release")
    assert f.message == "double free of obj"
    assert f.context_switches == 1


# --------------------------------------------------------------------------- deadlocks


def abba_model() -> list[Any]:
    a = vc.Mutex("A")
    b = vc.Mutex("B")

    async def t1() -> None:
        await a.lock()
        await b.lock()  # t1 blocks here
        await b.unlock()
        await a.unlock()

    async def t2() -> None:
        await b.lock()
        await a.lock()  # t2 blocks here
        await a.unlock()
        await b.unlock()

    return [("t1", t1()), ("t2", t2())]


@pytest.mark.kind("deadlock")
def test_full_deadlock() -> None:
    r, f = check(abba_model, "deadlock", "t1", "t1 blocks here", function="t1")
    assert sorted(f.extra["cycle"]) == ["t1", "t2"]
    assert "wait-for cycle" in f.message
    assert f.occurrences == 1 and r.executions == 3
    assert f.minimal_schedule == "0,1"
    blocked = {t.name: t.state for t in f.threads}
    assert blocked == {"t1": "blocked", "t2": "blocked"}


def partial_deadlock_model() -> list[Any]:
    a = vc.Mutex("A")
    b = vc.Mutex("B")
    work = vc.Var("work", 0)

    async def t1() -> None:
        await a.lock()
        await b.lock()  # t1 blocks here
        await b.unlock()
        await a.unlock()

    async def t2() -> None:
        await b.lock()
        await a.lock()
        await a.unlock()
        await b.unlock()

    async def worker() -> None:
        for i in range(5):
            await work.store(i + 1)
        vc.label("worker finished")

    return [("t1", t1()), ("t2", t2()), ("worker", worker())]


@pytest.mark.kind("deadlock")
def test_partial_deadlock_while_another_thread_runs() -> None:
    r, f = check(partial_deadlock_model, "deadlock", "t1", "t1 blocks here")
    assert sorted(f.extra["cycle"]) == ["t1", "t2"]  # the worker is not part of it
    # reported when the cycle forms, while the worker can still run ...
    states = {t.name: t.state for t in f.threads}
    assert states == {"t1": "blocked", "t2": "blocked", "worker": "runnable"}
    # ... and the worker then finishes its work in the same execution
    rep = vc.replay(partial_deadlock_model, f.minimal_schedule)
    assert rep.outcome == "worker finished"
    found = [x for x in rep.findings if x.kind == "deadlock"]
    assert len(found) == 1 and found[0].step < rep.steps - 1
    assert r.executions == 3  # the worker is independent of the lock pair


# --------------------------------------------------------------------------- resources


def leak_model() -> list[Any]:
    m = vc.Mutex("m")
    stop = vc.Var("stop", False)

    async def worker() -> None:
        await m.lock()  # taken here
        if await stop.load():
            return  # bug: the error path forgets mutex_unlock
        await m.unlock()

    async def stopper() -> None:
        await stop.store(True)

    return [("worker", worker()), ("stopper", stopper())]


@pytest.mark.kind("resource-leak")
def test_resource_leak_located_where_the_lock_was_taken() -> None:
    _, f = check(leak_model, "resource-leak", "worker", "taken here", function="worker")
    assert f.message == "worker exited holding m"


def bad_unlock_model() -> list[Any]:
    m = vc.Mutex("m")

    async def owner() -> None:
        await m.lock()
        await m.unlock()

    async def meddler() -> None:
        await m.unlock()  # not ours

    return [("owner", owner()), ("meddler", meddler())]


@pytest.mark.kind("bad-unlock")
def test_bad_unlock() -> None:
    r = vc.explore(bad_unlock_model)
    messages = {f.message for f in r.by_kind("bad-unlock")}
    assert messages == {"unlock of m held by nobody", "unlock of m held by owner"}
    for f in r.by_kind("bad-unlock"):
        assert f.thread == "meddler"
        assert f.location is not None
        assert f.location.line == line_of(bad_unlock_model, "not ours")
        assert f.context_switches <= f.original_context_switches
        rep = vc.replay(bad_unlock_model, f.minimal_schedule)
        assert f.message in {x.message for x in rep.findings}


def rcu_sleep_model() -> list[Any]:
    m = vc.Mutex("m")
    s = vc.SpinLock("s")

    async def reader() -> None:
        vc.atomic_enter("rcu_read_lock")
        await m.lock()  # sleeps under RCU
        await m.unlock()
        vc.atomic_exit("rcu_read_lock")

    async def spinner() -> None:
        await s.lock()
        await s.unlock()

    return [("reader", reader()), ("spinner", spinner())]


@pytest.mark.kind("sleep-in-atomic")
def test_sleep_in_atomic() -> None:
    _, f = check(rcu_sleep_model, "sleep-in-atomic", "reader", "sleeps under RCU")
    assert "rcu_read_lock" in f.message


def spin_sleep_model() -> list[Any]:
    m = vc.Mutex("m")
    s = vc.SpinLock("s")

    async def t() -> None:
        await s.lock()
        await m.lock()  # sleeps under a spinlock
        await m.unlock()
        await s.unlock()

    return [("t", t())]


@pytest.mark.kind("sleep-in-atomic")
def test_sleep_under_spinlock() -> None:
    _, f = check(spin_sleep_model, "sleep-in-atomic", "t", "sleeps under a spinlock")
    assert "spinlock s" in f.message


# --------------------------------------------------------------------------- step limit


def livelock_model() -> list[Any]:
    x = [vc.Var("x0", 0), vc.Var("x1", 0)]

    async def polite(me: int) -> None:
        # each thread waits for the other to change, then changes its own: forever
        while True:
            vc.loop_begin()
            v = await x[1 - me].load()  # livelock: load
            await x[me].store(v + 1)  # livelock: store
            await vc.retry()  # livelock: retry

    return [("ping", polite(0)), ("pong", polite(1))]


@pytest.mark.kind("step-limit")
def test_step_limit_on_a_real_livelock() -> None:
    r = vc.explore(livelock_model, max_steps=60, max_executions=200)
    found = r.by_kind("step-limit")
    assert found
    lines = {line_of(livelock_model, f"livelock: {what}") for what in ("load", "store", "retry")}
    for f in found:
        assert f.thread in ("ping", "pong")
        assert f.location is not None and f.location.line in lines
        assert f.context_switches <= f.original_context_switches
        rep = vc.replay(livelock_model, f.minimal_schedule, max_steps=60)
        assert any(x.kind == "step-limit" for x in rep.findings)
        assert rep.steps == 60
    # every execution livelocks: no other outcome, nothing else found
    assert r.kinds() == {"step-limit"}
    assert sum(f.occurrences for f in found) == r.executions


def wait_loop_model() -> list[Any]:
    flag = vc.Var("flag", 0)
    data = vc.Var("data", 0)

    async def waiter() -> None:
        while True:
            vc.loop_begin()
            if await flag.load():
                break
            await vc.retry()
        vc.label(f"data={await data.load()}")

    async def setter() -> None:
        await data.store(42)
        await flag.store(1)

    return [("waiter", waiter()), ("setter", setter())]


def test_terminating_retry_loop_stays_finite_under_dpor() -> None:
    r = vc.explore(wait_loop_model, max_steps=100)
    assert r.complete and r.stop_reason == "exhausted"
    assert r.findings == ()
    assert r.outcome_labels() == {"data=42": r.executions}
    assert r.executions <= 4 and r.blocked == 0


# --------------------------------------------------------------------------- invariant


def invariant_model() -> list[Any]:
    x = vc.Var("x", 0)
    vc.invariant("x stays below 2", lambda: x.peek() < 2)

    async def adder() -> None:
        v = await x.load()
        await x.store(v + 1)  # breaks the invariant

    async def setter() -> None:
        await x.store(1)

    return [("adder", adder()), ("setter", setter())]


@pytest.mark.kind("invariant")
def test_invariant() -> None:
    r, f = check(invariant_model, "invariant", "adder", "breaks the invariant",
                 function="adder")
    assert f.message == "invariant violated: x stays below 2"
    assert r.executions == 3


# --------------------------------------------------------------------------- lock order


def lock_order_model() -> list[Any]:
    a = vc.Mutex("A")
    b = vc.Mutex("B")
    big = vc.Mutex("big")  # serialises both: the AB/BA order never deadlocks

    async def t1() -> None:
        await big.lock()
        await a.lock()  # t1 takes A
        await b.lock()  # t1 takes B under A
        await b.unlock()
        await a.unlock()
        await big.unlock()

    async def t2() -> None:
        await big.lock()
        await b.lock()  # t2 takes B
        await a.lock()  # t2 takes A under B
        await a.unlock()
        await b.unlock()
        await big.unlock()

    return [("t1", t1()), ("t2", t2())]


@pytest.mark.kind("lock-order")
def test_lock_order_without_any_deadlock() -> None:
    r = vc.explore(lock_order_model)
    assert r.complete and r.executions == 2
    assert r.by_kind("deadlock") == []  # no explored execution deadlocked
    f = the_finding(r, "lock-order")
    assert f.thread == "t2"
    assert f.location is not None
    assert f.location.line == line_of(lock_order_model, "t2 takes A under B")
    chains = f.extra["chains"]
    assert len(chains) == 2
    l1a, l1b = (line_of(lock_order_model, m) for m in ("t1 takes A", "t1 takes B under A"))
    l2b, l2a = (line_of(lock_order_model, m) for m in ("t2 takes B", "t2 takes A under B"))
    assert any(c.startswith("t1 took B") and f":{l1b})" in c and f":{l1a})" in c
               for c in chains), chains
    assert any(c.startswith("t2 took A") and f":{l2a})" in c and f":{l2b})" in c
               for c in chains), chains
    assert sorted(f.extra["cycle"]) == ["A", "B"]
    assert f.context_switches <= f.original_context_switches
    # the schedule is one where the second chain is taken; replaying it shows both orders
    rep = vc.replay(lock_order_model, f.minimal_schedule)
    ops = [(s.thread, s.op) for s in rep.trace]
    assert ("t1", "mutex_lock B") in ops and ("t2", "mutex_lock A") in ops
    assert not rep.findings


def test_every_finding_kind_has_a_planted_bug() -> None:
    tested = {mark.args[0] for fn in list(globals().values()) if callable(fn)
              for mark in getattr(fn, "pytestmark", []) if mark.name == "kind"}
    assert tested == set(vc.FINDING_KINDS)


def soft_lockup_model() -> list[Any]:
    flag = vc.Var("flag", 0)

    async def spinner() -> None:
        await flag.store(1)
        n = 0
        while n >= 0:  # soft lockup: a loop that never awaits
            n += 1

    async def other() -> None:
        await flag.load()

    return [("spinner", spinner()), ("other", other())]


@pytest.mark.kind("soft-lockup")
def test_soft_lockup_stops_a_loop_that_never_awaits() -> None:
    import time

    start = time.monotonic()
    r = vc.explore(soft_lockup_model, soft_lockup_seconds=0.3)
    took = time.monotonic() - start
    f = the_finding(r, "soft-lockup")
    assert f.thread == "spinner" and "without awaiting" in f.message
    assert f.location is not None and f.location.function == "spinner"
    assert f.location.line in {line_of(soft_lockup_model, "soft lockup: a loop"),
                               line_of(soft_lockup_model, "n += 1")}
    assert r.stop_reason == "soft-lockup" and not r.complete
    assert took < 10.0, took  # found, replayed once, and stopped: not a hang
