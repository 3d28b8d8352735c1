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
class Expected:
    """A finding a scenario or a version is known to produce, and why.

    A finding matches when its kind is ``kind``, ``message`` (if given) occurs in its message
    and ``function`` (if given) is where it was reported.  ``variants`` restricts the
    expectation to runs with those versions selected (``{"function": "version"}``), ``config``
    to runs under that configuration.  ``reason`` says why it is expected: a demonstration
    scenario, or a known kernel bug with the commit that introduced it.  Expected findings do
    not make ``vmacheck check`` fail; an expected finding that a complete run no longer
    reaches is reported.
    """

    kind: str
    reason: str
    message: str = ""
    function: str = ""
    variants: dict[str, str] = field(default_factory=dict)
    config: dict[str, bool] = field(default_factory=dict)
    required_in: tuple[str, ...] = ()

    def applies(self, variants: dict[str, str], config: dict[str, bool]) -> bool:
        """Whether a run with these versions and configuration should show this finding."""
        return (all(variants.get(k) == v for k, v in self.variants.items())
                and all(config.get(k, True) == v for k, v in self.config.items()))

    def matches(self, finding: Any) -> bool:
        """Whether ``finding`` (a :class:`vmacheck.Finding`) is this expected finding."""
        if finding.kind != self.kind or self.message not in finding.message:
            return False
        loc = finding.location
        return not self.function or (loc is not None and loc.function == self.function)

    def describe(self) -> str:
        what = self.kind + (f" ({self.message})" if self.message else "")
        where = f" in {self.function}" if self.function else ""
        return what + where


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
    expected: tuple[Expected, ...] = ()


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

    variant_files: tuple[str, ...] = ()

    def verdict(self) -> str:
        return "findings" if self.result.findings else "clean"

    def expectations(self) -> list[Expected]:
        """The expected findings that apply to this run (scenario's and versions')."""
        return expectations_for(self.scenario, self.variants, self.config)

    def is_expected(self, finding: Any) -> Expected | None:
        """The expectation ``finding`` matches, or None when it is a new finding."""
        return next((e for e in self.expectations() if e.matches(finding)), None)

    def new_findings(self) -> list[Any]:
        return [f for f in self.result.findings if self.is_expected(f) is None]

    def missing_expected(self) -> list[Expected]:
        """Expected findings this run did not reach (meaningful when it is complete)."""
        return [e for e in self.expectations()
                if (not e.required_in or self.scenario in e.required_in)
                and not any(e.matches(f) for f in self.result.findings)]

    def state(self) -> str:
        """``new findings``, ``expected findings``, ``clean`` (complete runs only) or
        ``no findings (incomplete: REASON)``."""
        if self.new_findings():
            return "new findings"
        if self.result.findings:
            return "expected findings"
        if self.result.complete:
            return "clean"
        return f"no findings (incomplete: {stop_text(self.result.stop_reason)})"

    def replay_command(self, schedule: str) -> str:
        parts = ["vmacheck", "replay", self.scenario]
        for path in self.variant_files:
            parts += ["--variant-file", _quote(path)]
        for fn, version in sorted(self.variants.items()):
            parts += ["--variant", f"{fn}@{version}"]
        for name, value in sorted(self.config.items()):
            parts += ["--config", f"{name}={'y' if value else 'n'}"]
        parts += ["--schedule", f"'{schedule}'"]
        return " ".join(parts)


def stop_text(reason: str) -> str:
    """A run's stop reason as the reports say it."""
    return {"max_executions": "execution budget", "max_seconds": "time budget",
            "interrupted": "interrupted", "exhausted": "sampled"}.get(reason, reason)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


_SCENARIOS: dict[str, Scenario] = {}
_EXPECTED_BY_SCENARIO: dict[str, list[Expected]] = {}
_EXPECTED_BY_VERSION: dict[tuple[str, str], list[Expected]] = {}


def expect(scenario: str, expected: Expected) -> None:
    """Declare that ``scenario`` is expected to produce a finding (a demonstration)."""
    _EXPECTED_BY_SCENARIO.setdefault(scenario, []).append(expected)


def expect_for_version(function: str, version: str, expected: Expected) -> None:
    """Declare a known finding of ``function@version`` (e.g. a mainline bug with its commit):
    every run with that version selected may show it without failing."""
    _EXPECTED_BY_VERSION.setdefault((function, version), []).append(
        Expected(expected.kind, expected.reason, expected.message, expected.function,
                 {**expected.variants, function: version}, dict(expected.config),
                 expected.required_in))


def expectations_for(scenario: str, variants: dict[str, str],
                     config: dict[str, bool]) -> list[Expected]:
    """Every expected finding that applies to a run of ``scenario`` with these versions."""
    found = list(_SCENARIOS[scenario].expected) if scenario in _SCENARIOS else []
    found += _EXPECTED_BY_SCENARIO.get(scenario, [])
    for fn, version in variants.items():
        found += _EXPECTED_BY_VERSION.get((fn, version), [])
    return [e for e in found if e.applies(variants, config)]
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
        variants.activate(self.selection)  # this process runs this selection's units
        return get(self.scenario).build()
