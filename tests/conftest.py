"""Suite-wide settings: tests marked ``pure_engine`` are skipped where the engine's compiled
modules run (CI runs them again with ``VMACHECK_PURE_PYTHON=1``)."""

from __future__ import annotations

import pytest

import vmacheck


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not vmacheck.engine().startswith("compiled"):
        return
    skip = pytest.mark.skip(reason="patches engine functions that compiled code calls "
                                   "directly: run with VMACHECK_PURE_PYTHON=1")
    for item in items:
        if "pure_engine" in item.keywords:
            item.add_marker(skip)
