"""Run the command line with the test fixture scenarios registered (for subprocess tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import register_fixtures
from vmacheck.cli import main

register_fixtures()
sys.exit(main(sys.argv[1:]))
