"""Watching checks (``invariant(watch=)``): re-run after a step only when held resources
changed or a watched object was written; with ``lock_classes``, only the holds of those lock
classes count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import vmacheck as vc
from vmacheck.explore.context import hold, unhold
from vmacheck.explore.ops import current


def token_model(lock_classes: tuple[str, ...] | None, runs: list[int],
                depends_on: str = "a") -> Callable[[], list[Any]]:
    """One thread takes and drops a class-"b" token ten times (steps that write nothing
    watched), then takes a class-``depends_on`` token once.  The check fails while a thread
    holds a ``depends_on`` token; it counts its runs in ``runs``."""

    def model() -> list[Any]:
        flag = vc.Var("flag", 0)
        watched = vc.Var("watched", 0)

        async def worker() -> None:
            for _ in range(10):
                await flag.load()
                hold("b-token", "b token", "b")
                await flag.load()
                unhold("b-token")
            await flag.load()
            hold("token", "the token", depends_on)
            await flag.load()
            unhold("token")

        def nobody_holds_the_token() -> bool:
            runs[0] += 1
            return not any(h.key == "token" for t in current().threads for h in t.held)

        vc.invariant("nobody holds the token", nobody_holds_the_token,
                     watch=lambda: [watched], lock_classes=lock_classes)
        return [("worker", worker())]

    return model


def test_holds_of_other_lock_classes_do_not_rerun_the_check() -> None:
    every: list[int] = [0]
    narrowed: list[int] = [0]
    r_every = vc.run(token_model(None, every))
    r_narrowed = vc.run(token_model(("a",), narrowed))
    # both see the token held (a class-"a" hold re-runs the check)
    for r in (r_every, r_narrowed):
        assert [f.message for f in r.findings] == ["invariant violated: nobody holds the token"]
    # the twenty class-"b" holds and releases re-run only the unnarrowed check
    assert every[0] >= narrowed[0] + 20, (every[0], narrowed[0])


def test_a_hold_of_an_undeclared_class_is_not_seen() -> None:
    """The narrowing is real: a check that depends on a class it did not declare misses it
    (so declare every class the answer depends on)."""
    runs: list[int] = [0]
    r = vc.run(token_model(("a",), runs, depends_on="c"))
    assert r.findings == ()
    r = vc.run(token_model(("a", "c"), runs, depends_on="c"))
    assert [f.message for f in r.findings] == ["invariant violated: nobody holds the token"]


def test_narrowed_checks_find_what_every_step_checks_find(monkeypatch: Any) -> None:
    from vmacheck.explore import checking

    gated = vc.explore(token_model(("a",), [0]))
    monkeypatch.setattr(checking, "CHECK_EVERY_STEP", True)
    every = vc.explore(token_model(("a",), [0]))
    assert [(f.kind, f.message, f.location) for f in gated.findings] == \
        [(f.kind, f.message, f.location) for f in every.findings]
    assert gated.findings and gated.executions == every.executions
