"""A replayed prefix reuses the last execution's happens-before state, cut to the prefix: the
cut must equal the state built by feeding the prefix's steps one by one (races excepted:
those among replayed steps are left out on purpose, see ``HappensBefore.truncated``)."""

from __future__ import annotations

import random

import pytest
from benchmarks.dpor_programs import counter, lastzero, philosophers, readers

from vmacheck.explore.core import Event, Execution
from vmacheck.explore.happens_before import HappensBefore
from vmacheck.explore.runner import Model, run_one

MODELS = [("lastzero(4)", lastzero(4)), ("philosophers(3)", philosophers(3)),
          ("counter(3, locked)", counter(3, locked=True)), ("readers(3)", readers(3))]


def _state(hb: HappensBefore) -> tuple[object, ...]:
    return (hb.clocks, hb.seq, hb.hist, hb.lastw, hb.thread_clock, hb.thread_seq)


def _random_run(model: Model, seed: int) -> tuple[Execution, HappensBefore]:
    rng = random.Random(seed)
    hb = HappensBefore()

    def listener(ex: Execution, ev: Event) -> None:
        hb.on_step(ex, ev)

    ex, _, _ = run_one(model, lambda ex, en, d: rng.choice(en), max_steps=1000,
                       listener=listener)
    return ex, hb


@pytest.mark.parametrize(("name", "model"), MODELS, ids=[m[0] for m in MODELS])
def test_truncated_equals_the_state_fed_by_the_prefix(name: str, model: Model) -> None:
    raced = 0
    for seed in range(5):
        ex, hb = _random_run(model, seed)
        raced += len(hb.races)
        for r in range(1, len(ex.events) + 1):
            fed = HappensBefore()
            for ev in ex.events[:r]:
                fed.on_step(ex, ev)
            cut = hb.truncated(r, ex.events)
            assert _state(cut) == _state(fed), (name, seed, r)
            assert cut.races == [] and cut.blocked_races == []
    assert raced, "some run has races to leave out"


def test_truncated_state_is_independent_of_the_original() -> None:
    ex, hb = _random_run(lastzero(3), 1)
    before = _state(hb)
    cut = hb.truncated(len(ex.events) // 2, ex.events)
    for ev in ex.events[len(ex.events) // 2:]:
        cut.on_step(ex, ev)
    assert _state(hb) == before


@pytest.mark.parametrize(("name", "model"), MODELS, ids=[m[0] for m in MODELS])
def test_truncate_in_place_equals_truncated(name: str, model: Model) -> None:
    for seed in range(3):
        ex, _ = _random_run(model, seed)
        for r in range(0, len(ex.events) + 1, 3):
            _, hb = _random_run(model, seed)  # the same run: a fresh state to cut
            expected = _state(hb.truncated(r, ex.events))
            hb.truncate(r, ex.events)
            assert _state(hb) == expected, (name, seed, r)
            assert hb.races == [] and hb.blocked_races == []
