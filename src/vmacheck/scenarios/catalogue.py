"""The scenario catalogue: named scenarios the command line lists and checks.

A scenario is a model (a function building shared state and returning threads) with a name,
documentation, the versioned model functions it exercises and a default kernel configuration.
Modules under :mod:`vmacheck.scenarios` register their scenarios at import; :func:`load_all`
imports them.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


class ScenarioError(ValueError):
    """An unknown scenario name."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named, documented model.

    ``functions`` lists the versioned model functions (see :mod:`vmacheck.kernel.variants`)
    whose versions matter here: ``vmacheck check`` with no scenario runs each scenario once per
    seed version of each of them.  ``config`` is the kernel configuration it runs under unless
    the user overrides it.
    """

    name: str
    summary: str
    build: Callable[[], Iterable[Any]]
    functions: tuple[str, ...] = ()
    config: dict[str, bool] = field(default_factory=dict)
    doc: str = ""
    max_steps: int = 2_000
    group: str = "mm"


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """One scenario explored under one selection of versions: what reports render."""

    scenario: str
    variants: dict[str, str]
    config: dict[str, bool]
    result: Any
    called: frozenset[str] = frozenset()
    """The versioned functions some execution of the run called."""
    reused_from: dict[str, str] | None = None
    """When the run was not explored because an explored run (these variants) differs only
    in versions of functions no execution calls: the result is that run's."""

    def verdict(self) -> str:
        return "findings" if self.result.findings else "clean"

    def replay_command(self, schedule: str) -> str:
        parts = ["vmacheck", "replay", self.scenario]
        for fn, version in sorted(self.variants.items()):
            parts += ["--variant", f"{fn}@{version}"]
        for name, value in sorted(self.config.items()):
            parts += ["--config", f"{name}={'y' if value else 'n'}"]
        parts += ["--schedule", f"'{schedule}'"]
        return " ".join(parts)


_SCENARIOS: dict[str, Scenario] = {}
SEED_VARIANTS: dict[str, tuple[str, ...]] = {}
"""Per versioned function, the versions that come from the seeds (checked by default)."""


def register(scenario: Scenario) -> Scenario:
    if scenario.name in _SCENARIOS:
        raise ValueError(f"scenario {scenario.name!r} registered twice")
    _SCENARIOS[scenario.name] = scenario
    return scenario


HISTORIC_VARIANTS: dict[str, tuple[str, ...]] = {}
"""Per versioned function, versions that re-create a historic kernel bug (fix removed)."""


def seed_versions(function: str, versions: Iterable[str]) -> None:
    """Declare which versions of ``function`` come from the seed patches.  ``vmacheck check``
    runs every combination of them in each scenario that exercises the function."""
    SEED_VARIANTS[function] = tuple(versions)


def historic_versions(function: str, versions: Iterable[str]) -> None:
    """Declare versions of ``function`` that re-create historic kernel bugs.  ``vmacheck
    check`` runs each of them once per scenario that exercises the function, with the seed
    functions at their defaults."""
    HISTORIC_VARIANTS[function] = tuple(versions)


def load_all() -> None:
    """Import every scenario module of the package so that all scenarios are registered."""
    import vmacheck.scenarios as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "catalogue" and not info.name.startswith("_"):
            importlib.import_module(f"vmacheck.scenarios.{info.name}")


def all_scenarios() -> list[Scenario]:
    load_all()
    return sorted(_SCENARIOS.values(), key=lambda s: (s.group, s.name))


def get(name: str) -> Scenario:
    load_all()
    s = _SCENARIOS.get(name)
    if s is None:
        close = difflib.get_close_matches(name, list(_SCENARIOS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ScenarioError(f"unknown scenario {name!r}{hint} (see 'vmacheck list')")
    return s


def run(
    scenario: Scenario | str,
    variants: dict[str, str] | None = None,
    config: dict[str, bool] | None = None,
    **explore_options: Any,
) -> Any:
    """Explore ``scenario`` with the given versions selected (exhaustive DPOR by default).

    Returns the :class:`vmacheck.Result`.  ``explore_options`` go to :func:`vmacheck.explore`.
    With a ``checkpoint`` path, each scenario and selection saves to its own file (the path
    plus ``.`` and the scenario name and a digest of the selection); with a Dask
    ``scheduler``, the model travels as a :class:`SelectedModel`.
    """
    from vmacheck.explore import explore
    from vmacheck.kernel.variants import Selection, select

    s = get(scenario) if isinstance(scenario, str) else scenario
    selection = Selection(dict(variants or {}), {**s.config, **(config or {})})
    explore_options.setdefault("max_steps", s.max_steps)
    if explore_options.get("checkpoint"):
        digest = hashlib.sha256(repr((sorted(selection.variants.items()),
                                      sorted(selection.config.items()))).encode()).hexdigest()
        explore_options["checkpoint"] = f"{explore_options['checkpoint']}.{s.name}-{digest[:10]}"
    model: Callable[[], Iterable[Any]] = s.build
    if explore_options.get("scheduler"):
        model = SelectedModel(s.name, selection)
    with select(selection):
        return explore(model, **explore_options)


@dataclass(frozen=True, slots=True)
class SelectedModel:
    """A scenario's model under a selection of versions, as a picklable callable: it reaches
    a Dask worker as the scenario's name and the selection, and makes that selection the
    active one in the worker before it builds the model.  (Versions loaded from a variant
    file exist only where the file was loaded.)"""

    scenario: str
    selection: Any

    def __call__(self) -> Iterable[Any]:
        from vmacheck.kernel import variants

        if self.scenario not in _SCENARIOS:
            load_all()
        variants._ACTIVE = self.selection  # this process runs this selection's units
        return get(self.scenario).build()
