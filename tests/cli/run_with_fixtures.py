"""Run the command line with the test fixture scenarios registered (for subprocess tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import lost_update, spin_forever

from vmacheck.cli import main
from vmacheck.scenarios import catalogue

catalogue.load_all()
catalogue.register(catalogue.Scenario("test-lost-update", "fixture", lost_update, group="test"))
catalogue.register(catalogue.Scenario("test-spin-forever", "fixture", spin_forever,
                                      group="test", max_steps=200))
sys.exit(main(sys.argv[1:]))
