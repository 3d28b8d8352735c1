"""The fair rwsem: queue semantics, the classic deadlock, and DPOR against naive enumeration
for programs mixing rwsem, mutex and variable operations (blocking grants included)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import vmacheck as vc
from vmacheck.explore.core import Execution


def test_queued_writer_blocks_new_readers_and_trylocks() -> None:
    results: dict[str, object] = {}

    def model() -> list[Any]:
        sem = vc.RwSem("sem")

        async def reader1() -> None:
            await sem.down_read()
            await sem.up_read()

        async def writer() -> None:
            await sem.down_write()
            await sem.up_write()

        async def reader2() -> None:
            results["trylock"] = await sem.down_read_trylock()
            await sem.down_read()
            await sem.up_read()

        return [("reader1", reader1()), ("writer", writer()), ("reader2", reader2())]

    ex = Execution(model)
    ex.step(0)  # reader1 takes the read lock
    ex.step(1)  # the writer queues
    assert ex.enabled() == [0, 2]
    ex.step(2)  # reader2's trylock fails: somebody is queued
    assert results["trylock"] is False
    ex.step(2)  # reader2 queues behind the writer instead of joining reader1
    assert ex.enabled() == [0]
    ex.step(0)  # reader1 releases: only the writer may be granted
    assert ex.enabled() == [1]
    for tid in (1, 1, 2, 2):
        ex.step(tid)
    ex.finish()
    assert not ex.findings and all(t.done for t in ex.threads)


def test_classic_recursive_read_deadlock_has_cycle() -> None:
    def model() -> list[Any]:
        sem = vc.RwSem("mmap_lock")

        async def t1() -> None:
            await sem.down_read()
            await sem.down_read()  # e.g. a page fault under the read lock
            await sem.up_read()
            await sem.up_read()

        async def t2() -> None:
            await sem.down_write()
            await sem.up_write()

        return [("faulter", t1()), ("writer", t2())]

    r = vc.explore(model)
    dl = r.by_kind("deadlock")
    assert len(dl) == 1
    assert set(dl[0].extra["cycle"]) == {"faulter", "writer"}
    assert "wait-for cycle" in dl[0].message


# --------------------------------------------------------------------------- ground truth

OPS = st.sampled_from(["r", "w", "rt", "wt", "load", "store", "lock"])


def build(program: list[list[str]]) -> Any:
    def model() -> list[Any]:
        sem = vc.RwSem("sem")
        m = vc.Mutex("m")
        x = vc.Var("x", 0)
        log = vc.Var("log", ())

        async def thread(tid: int, ops: list[str]) -> None:
            for i, op in enumerate(ops):
                if op == "r":
                    await sem.down_read()
                    await log.update(lambda v, t=tid, i=i: (*v, (t, i)))
                    await sem.up_read()
                elif op == "w":
                    await sem.down_write()
                    await x.store(tid * 10 + i)
                    await sem.up_write()
                elif op == "rt":
                    if await sem.down_read_trylock():
                        await sem.up_read()
                elif op == "wt":
                    if await sem.down_write_trylock():
                        await x.store(-tid)
                        await sem.up_write()
                elif op == "load":
                    await x.load()
                elif op == "store":
                    await x.store(100 + tid)
                else:
                    await m.lock()
                    await x.store(200 + tid)
                    await m.unlock()

        vc.outcome(lambda: f"x={x.peek()} log={log.peek()}")
        return [(f"t{i}", thread(i, ops)) for i, ops in enumerate(program)]

    return model


def canonical(ex: Execution) -> tuple[Any, ...]:
    """The Mazurkiewicz trace of an execution: per object, its writes in order with the set
    of reads between them; events named by (thread, index within the thread)."""
    counts: dict[int, int] = {}
    per_obj: dict[int, list[Any]] = {}
    for ev in ex.events:
        k = counts.get(ev.tid, 0)
        counts[ev.tid] = k + 1
        for oid, write in ev.fp:
            blocks = per_obj.setdefault(oid, [])
            if write:
                blocks.append(("w", (ev.tid, k)))
            elif blocks and blocks[-1][0] == "r":
                blocks[-1][1].add((ev.tid, k))
            else:
                blocks.append(("r", {(ev.tid, k)}))
    return tuple((oid, tuple((kind, frozenset(v) if kind == "r" else v) for kind, v in bl))
                 for oid, bl in sorted(per_obj.items()))


def naive(model: Any) -> tuple[set[Any], set[str], int]:
    traces: set[Any] = set()
    outcomes: set[str] = set()
    executions = 0

    def run(prefix: list[int]) -> None:
        nonlocal executions
        ex = Execution(model)
        for tid in prefix:
            ex.step(tid)
        en = ex.enabled()
        if not en:
            ex.finish()
            executions += 1
            traces.add(canonical(ex))
            outcomes.add(ex.outcome() + ("|deadlock" if any(f.kind == "deadlock"
                                                             for f in ex.findings) else ""))
            return
        for tid in en:
            run([*prefix, tid])

    run([])
    return traces, outcomes, executions


@settings(max_examples=120, deadline=None, derandomize=True)
@given(st.lists(st.lists(OPS, min_size=1, max_size=2), min_size=2, max_size=3).filter(
    lambda p: sum(map(len, p)) <= 4))
def test_dpor_matches_naive_enumeration_with_rwsem(program: list[list[str]]) -> None:
    model = build(program)
    traces, outcomes, _ = naive(model)
    r = vc.explore(model, minimise=False)
    got = {o.label + ("|deadlock" if False else "") for o in r.outcomes}
    naive_labels = {o.split("|")[0] for o in outcomes}
    assert r.blocked == 0
    assert r.complete
    assert got == naive_labels
    assert r.executions == len(traces), (program, r.executions, len(traces))
