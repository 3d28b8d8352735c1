"""Explored results of the small models in report_models, shared by the report tests."""

from __future__ import annotations

from typing import Any

import pytest
from report_models import MAX_STEPS, MODELS, lost_update, warn_on

import vmacheck as vc
from vmacheck.scenarios.catalogue import ScenarioRun


@pytest.fixture(scope="session")
def results() -> dict[str, Any]:
    """Per model name (the finding kind it produces, or 'warn_on'), its exploration result."""
    out = {kind: vc.explore(model, max_steps=MAX_STEPS) for kind, model in MODELS.items()}
    out["warn_on"] = vc.explore(warn_on, max_steps=MAX_STEPS)
    return out


@pytest.fixture(scope="session")
def runs(results: dict[str, Any]) -> list[ScenarioRun]:
    """One ScenarioRun per model, with made-up versions and configuration."""
    return [ScenarioRun(f"report-{name}", {"zap_vma_range": "v2", "lock_vma": "seed"},
                        {"CONFIG_PER_VMA_LOCK": True, "CONFIG_DEBUG_VM": False}, result)
            for name, result in results.items()]


@pytest.fixture(scope="session")
def outcome_run() -> ScenarioRun:
    return ScenarioRun("report-lost-update", {}, {}, vc.explore(lost_update))
