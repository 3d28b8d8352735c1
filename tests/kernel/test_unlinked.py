"""The kernel models unlink what they link in cycles (a VMA slot and its lives, an mm and its
model kernel, binder's mdata pool and its alloc) when the explorer closes an execution: with
the cyclic garbage collector off, exploring any catalogue scenario leaves no garbage for it.
A model structure that adds a cycle needs an ``at_close`` that undoes it."""

from __future__ import annotations

import gc
import itertools

import pytest

from vmacheck.explore.modes import dpor
from vmacheck.kernel.variants import Selection, select
from vmacheck.scenarios.catalogue import all_scenarios

SCENARIOS = {s.name: s for s in all_scenarios()}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_explored_executions_leave_no_cyclic_garbage(name: str) -> None:
    scenario = SCENARIOS[name]
    gc.collect()
    gc.disable()
    try:
        with select(Selection({}, {})):
            runs = dpor(scenario.build, max_steps=scenario.max_steps)
            n = sum(1 for _ in itertools.islice(runs, 8))
            runs.close()
        assert n >= 1
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage == 0, f"{name}: {garbage} objects in cycles after {n} executions"
