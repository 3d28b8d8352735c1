"""Every mm scenario is registered, documented, small, and explores exhaustively fast."""

from __future__ import annotations

import time

from vmacheck.kernel.variants import REGISTRY
from vmacheck.scenarios import catalogue


def test_mm_scenarios_are_documented_and_fast() -> None:
    mm = [s for s in catalogue.all_scenarios() if s.name.startswith("mm_")]
    assert len(mm) >= 12
    for s in mm:
        assert s.group == "mm" and s.doc and s.summary
        for fn in s.functions:
            assert fn in REGISTRY
        start = time.monotonic()
        r = catalogue.run(s)
        assert r.complete
        assert time.monotonic() - start < 5
