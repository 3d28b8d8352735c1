"""Where a held resource was taken: the innermost model frame, however the execution finds it.

An execution that notes no sites itself but has per-step checks takes it from the op being
executed (each op notes where it was awaited); otherwise it walks the thread's frames.  Both
must name the same line, also when the lock is taken through an engine coroutine (an rwsem's
``down_read``) or a model helper.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import vmacheck as vc
from vmacheck.explore.runner import follow, run_one


def line_of(fn: Callable[..., Any], marker: str) -> int:
    lines, start = inspect.getsourcelines(fn)
    hits = [start + i for i, text in enumerate(lines) if marker in text]
    assert len(hits) == 1, marker
    return hits[0]


async def take_both(m: vc.Mutex, sem: vc.RwSem) -> None:
    await m.lock()  # mutex taken in the helper
    await sem.down_read()  # rwsem taken in the helper


def leaky_model(with_check: bool) -> Callable[[], list[Any]]:
    def model() -> list[Any]:
        m = vc.Mutex("m")
        sem = vc.RwSem("sem")
        x = vc.Var("x", 0)
        if with_check:  # per-step checks: ops note where they are awaited
            vc.invariant("x stays small", lambda: x.peek() < 10, reads=[x])

        async def worker() -> None:
            await take_both(m, sem)
            await x.store(1)

        return [("worker", worker())]

    return model


@pytest.mark.parametrize("with_check", [True, False])
@pytest.mark.parametrize("sites", [True, False])
def test_leaked_locks_are_located_where_the_model_took_them(with_check: bool,
                                                            sites: bool) -> None:
    ex, _, _ = run_one(leaky_model(with_check), follow([]), max_steps=100, sites=sites)
    held = [h for t in ex.threads for h in t.held]
    assert [h.desc for h in held] == ["m", "sem (read)"]
    mutex_line = line_of(take_both, "mutex taken in the helper")
    rwsem_line = line_of(take_both, "rwsem taken in the helper")
    assert [(h.where.function, h.where.line) for h in held if h.where is not None] == [
        ("take_both", mutex_line), ("take_both", rwsem_line)]
    # either way (the site the op noted where it was awaited, or the frames found when the
    # lock was taken) a hold keeps the instruction's offset; the line is worked out above
    assert [h.offset for h in held] == [True, True]
    leak = [f for f in ex.findings if f.kind == "resource-leak"]
    assert len(leak) == 1 and leak[0].location is not None
    assert leak[0].location.line == mutex_line
