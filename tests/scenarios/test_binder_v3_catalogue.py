"""binder_alloc_free_page@hansen-v3 over the whole binder scenario catalogue.

The expectations below are what the checker found (recorded, not steered): v3 is clean where
lock_vma_under_rcu fails transiently, and gives up a page still mapped by an attached VMA and
leaks the VMA read lock when it finds a VMA while ``mapped`` is false (partial munmap, a new
mapping at the old address)."""

from __future__ import annotations

from vmacheck.scenarios.catalogue import all_scenarios, run

V3 = {"binder_alloc_free_page": "hansen-v3"}
GIVEN_UP = "invariant violated: binder-no-page-given-up-while-mapped"
REFS = "invariant violated: binder-page-references-balanced"


def test_v3_catalogue() -> None:
    seen: dict[str, set[str]] = {}
    for s in all_scenarios():
        if s.group != "binder":
            continue
        r = run(s, V3)
        assert r.complete, s.name
        seen[s.name] = {f"{f.kind}: {f.message}" for f in r.findings}
    partial = seen.pop("binder-shrink-partial-munmap")
    assert f"invariant: {GIVEN_UP}" in partial
    assert any(x.startswith("resource-leak: shrinker exited holding") and "vma read lock" in x
               for x in partial)
    remap = seen.pop("binder-shrink-remap")
    assert remap and all(x.startswith("resource-leak: shrinker exited holding") for x in remap)
    # a moved binder mapping: the expected finding every shrinker version shows (see the
    # scenario's description in vmacheck.scenarios.mm_ops_binder)
    moved = seen.pop("binder-shrink-mremap")
    assert f"invariant: {GIVEN_UP}" in moved
    race = seen.pop("binder-install-race")
    assert race == {f"invariant: {REFS}"}       # the install path's, not the shrinker's
    assert all(v == set() for v in seen.values()), seen
