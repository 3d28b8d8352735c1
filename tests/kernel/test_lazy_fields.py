"""The model kernel's slab slots, VMA lives and pages make their shared fields on first use:
on every catalogue scenario, an execution made lazily gives each object it made the id and
name that the same object has when everything is made at once (a recording run), so ids do
not depend on which fields an execution happened to touch."""

from __future__ import annotations

import pytest

from vmacheck.explore.core import Execution
from vmacheck.explore.runner import follow, run_one
from vmacheck.kernel.variants import Selection, select
from vmacheck.scenarios.catalogue import all_scenarios

SCENARIOS = {s.name: s for s in all_scenarios()}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lazily_made_objects_have_their_eager_ids(name: str) -> None:
    scenario = SCENARIOS[name]
    with select(Selection({}, dict(scenario.config))):
        eager = Execution(scenario.build, record=True)
        names = [None if o is None else o.name for o in eager.objects]
        eager.close()
        lazy, sched, _ = run_one(scenario.build, follow([]), max_steps=scenario.max_steps)
        made = {o.oid: o.name for o in lazy.objects if o is not None}
        lazy.close()
    assert sched
    assert len(lazy.objects) >= len(names)
    for oid, obj_name in made.items():
        if oid < len(names):  # objects made at set-up (later ones: made while running)
            assert names[oid] == obj_name, (oid, obj_name, names[oid])
    unmade = sum(1 for o in range(len(names)) if o not in made)
    assert None not in names  # a recording run makes every field at set-up
    if name == "binder-reclaim-readopt":  # the spare slab slots and pages are never made
        assert unmade > 100, unmade


def test_binder_end_checks_pass_over_pages_never_allocated() -> None:
    """binder's page-reference check scans the whole page pool at the end of each execution:
    a page whose fields were never made is passed over, not built."""
    from vmacheck.kernel.drivers.android.binder_props import page_reference_problems
    from vmacheck.kernel.include.linux.mm_types import Page, kernel_state
    from vmacheck.scenarios.binder import binder_world

    def model() -> list[object]:
        world = binder_world(lru_pages=())
        assert page_reference_problems(world.alloc) == []
        pool.extend(kernel_state().pages)

        async def idle() -> None:
            return None

        return [("idle", idle())]

    pool: list[Page] = []
    ex = Execution(model)
    made = [Page.private.made(p) for p in pool]
    ex.close()
    assert len(made) > 1 and made == [None] * len(made)


def test_page_tables_make_a_pte_when_it_is_first_looked_up() -> None:
    from vmacheck.kernel.include.linux.mm_types import PAGE_SIZE, MmStruct

    seen: dict[str, object] = {}

    def model() -> list[object]:
        mm = MmStruct("mm", task_size=4 * PAGE_SIZE)
        pte = mm.pte
        seen["before"] = list(pte.made_items())
        assert len(pte) == 4 and list(pte) == [0, PAGE_SIZE, 2 * PAGE_SIZE, 3 * PAGE_SIZE]
        assert PAGE_SIZE in pte and 4 * PAGE_SIZE not in pte and 1 not in pte
        with pytest.raises(KeyError):
            pte[PAGE_SIZE + 1]
        assert pte.made(2 * PAGE_SIZE) is None and pte.made(9 * PAGE_SIZE) is None
        third = pte[2 * PAGE_SIZE]
        assert pte[2 * PAGE_SIZE] is third and pte.made(2 * PAGE_SIZE) is third
        assert third.oid == pte.ids()[2] and third.name == "mm.pte[2]"
        seen["after"] = [(a, v.name) for a, v in pte.made_items()]

        async def idle() -> None:
            return None

        return [("idle", idle())]

    Execution(model).close()
    assert seen == {"before": [], "after": [(2 * PAGE_SIZE, "mm.pte[2]")]}


def test_a_page_table_has_a_pte_for_every_page_begun() -> None:
    from vmacheck.kernel.include.linux.mm_types import PAGE_SIZE, MmStruct

    sizes: list[int] = []

    def model() -> list[object]:
        mm = MmStruct("mm", task_size=4 * PAGE_SIZE + 1)
        sizes.append(len(mm.pte))
        assert 4 * PAGE_SIZE in mm.pte and 5 * PAGE_SIZE not in mm.pte

        async def idle() -> None:
            return None

        return [("idle", idle())]

    Execution(model).close()
    assert sizes == [5]
