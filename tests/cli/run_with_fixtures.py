"""Run the command line with the test fixture scenarios registered (for subprocess tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import lost_update, spin_forever  # noqa: E402

from vmacheck.cli import main  # noqa: E402
from vmacheck.scenarios import catalogue  # noqa: E402

catalogue.load_all()
catalogue.register(catalogue.Scenario("test-lost-update", "fixture", lost_update, group="test"))
catalogue.register(catalogue.Scenario("test-spin-forever", "fixture", spin_forever,
                                      group="test", max_steps=200))
sys.exit(main(sys.argv[1:]))
