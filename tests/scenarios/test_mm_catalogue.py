"""Every mm scenario is registered, documented, and explores exhaustively to completion."""

from __future__ import annotations

from vmacheck.kernel.variants import REGISTRY
from vmacheck.scenarios import catalogue


def test_mm_scenarios_are_documented_and_fast() -> None:
    mm = [s for s in catalogue.all_scenarios() if s.name.startswith("mm-")]
    assert len(mm) >= 12
    for s in mm:
        assert s.group == "mm" and s.doc and s.summary
        for fn in s.functions:
            assert fn in REGISTRY
        r = catalogue.run(s)
        assert r.complete  # speed is measured in benchmarks/kernel_scenarios.py
