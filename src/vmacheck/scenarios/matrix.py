"""Which runs a check makes: scenarios crossed with the seed versions of their functions."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vmacheck.explore.findings import Result
from vmacheck.kernel.variants import CALLED, REGISTRY
from vmacheck.scenarios.catalogue import (
    HISTORIC_VARIANTS,
    SEED_VARIANTS,
    Scenario,
    ScenarioRun,
    run,
)
from vmacheck.scenarios.diff import diff_results


@dataclass(frozen=True, slots=True)
class Plan:
    """One planned run: a scenario under a selection of versions and configuration."""

    scenario: Scenario
    variants: dict[str, str] = field(default_factory=dict)
    config: dict[str, bool] = field(default_factory=dict)


def seed_matrix(scenarios: list[Scenario], fixed: dict[str, str],
                config: dict[str, bool], *, historic: bool = True) -> list[Plan]:
    """The runs of a check.

    Each scenario runs under every combination of the seed versions of the functions it
    exercises (versions interact: a caller's patch version and the helper's version), and
    once more for each historic-bug version of a function it exercises (unless
    ``historic`` is False).  Versions the user
    fixed with ``--variant`` are kept in every run and not varied.
    """
    plans: list[Plan] = []
    for s in scenarios:
        cfg = {**s.config, **config}
        varied = [f for f in s.functions if f not in fixed and SEED_VARIANTS.get(f)]
        for combo in itertools.product(*(SEED_VARIANTS[f] for f in varied)):
            plans.append(Plan(s, {**fixed, **dict(zip(varied, combo, strict=True))}, cfg))
        for fn in s.functions if historic else ():
            if fn in fixed:
                continue
            for version in HISTORIC_VARIANTS.get(fn, ()):
                if fn in REGISTRY and version == REGISTRY[fn].default:
                    continue
                plans.append(Plan(s, {**fixed, fn: version}, cfg))
    return plans


def execute(plan: Plan, *, on_progress: Callable[[Any], None] | None = None,
            **explore_options: Any) -> ScenarioRun:
    """Run one plan and wrap its result for the reports (with the versioned functions its
    executions called)."""
    CALLED.clear()
    result: Result = run(plan.scenario, plan.variants, plan.config, progress=on_progress,
                         **explore_options)
    called = frozenset(CALLED)
    return ScenarioRun(plan.scenario.name, shown_variants(plan), plan.config, result, called)


def shown_variants(plan: Plan) -> dict[str, str]:
    """The plan's selection as reports show it: its versions plus the defaults of the
    functions the scenario exercises."""
    shown = {fn: v for fn, v in plan.variants.items()}
    for fn in plan.scenario.functions:
        if fn in REGISTRY and fn not in shown:
            shown[fn] = REGISTRY[fn].default
    return shown


def behaviour_diff(a: ScenarioRun, b: ScenarioRun, label_a: str,
                   label_b: str) -> dict[str, Any]:
    """Outcomes and findings reachable under one selection and not the other, with a
    schedule reaching each (the shape the reports render)."""
    d = diff_results(a.result, b.result)
    return {
        "scenario": a.scenario,
        "a": label_a,
        "b": label_b,
        "complete": d.complete,
        "only_a": {"outcomes": sorted(d.outcomes_only_a), "findings": sorted(d.findings_only_a)},
        "only_b": {"outcomes": sorted(d.outcomes_only_b), "findings": sorted(d.findings_only_b)},
        "schedules_a": {**d.outcomes_only_a, **d.findings_only_a},
        "schedules_b": {**d.outcomes_only_b, **d.findings_only_b},
    }
