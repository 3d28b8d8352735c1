"""The compact report of a check: a verdict matrix and one entry per distinct bug.

A check runs many scenarios under many selections of versions, and one bug shows up in many
of those runs (the same invariant in every scenario where the broken version runs).  This
module groups findings into *bugs* (same kind, same violating function, same message with its
numbers blanked), counts where each bug appears, keeps the shortest replay, and tells new bugs
from expected ones (see :class:`vmacheck.scenarios.catalogue.Expected`).  Full splats are
rendered by :mod:`vmacheck.report.text`; this is what a kernel developer reads first.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from vmacheck.explore.findings import Finding, normalise_message
from vmacheck.report import _common as c


@dataclass(slots=True)
class Bug:
    """One distinct bug: every (run, finding) that is the same kind at the same place."""

    bug_id: str
    kind: str
    function: str
    where: str
    message: str
    occurrences: list[tuple[Any, Finding]] = field(default_factory=list)
    expected_reason: str = ""

    @property
    def expected(self) -> bool:
        return bool(self.expected_reason)

    def shortest(self) -> tuple[Any, Finding]:
        """The occurrence with the fewest context switches, then the shortest replay
        command (its location is the one shown)."""
        return min(self.occurrences, key=lambda rf: (rf[1].context_switches,
                                                     len(short_replay(*rf)), rf[0].scenario))

    def runs(self) -> int:
        """In how many runs (scenario and selection) the bug appeared."""
        return len({id(run) for run, _ in self.occurrences})

    def executions(self) -> int:
        return sum(f.occurrences for _, f in self.occurrences)

    def scenarios(self) -> list[str]:
        return sorted({r.scenario for r, _ in self.occurrences})


AT_END = "end of execution"


def bug_key(finding: Finding) -> tuple[str, str, str]:
    """What makes two findings one bug: kind, violating function, normalised message.

    A check of the final state has no violating function (:data:`AT_END`); a check after
    every step is one bug whichever thread's step broke it (its name is the message)."""
    loc = c.location(finding)
    fn = loc.function if loc is not None else "?"
    if finding.kind == "invariant":
        fn = AT_END if not finding.thread else "(any step)"
    return finding.kind, fn, normalise_message(_without_tasks(finding))


def _without_tasks(finding: Finding) -> str:
    """The message with the names of the scenario's tasks blanked: "blocked: munmap (...)"
    and "blocked: mprotect (...)" are one bug seen from two scenarios."""
    text = finding.message
    if finding.kind == "resource-leak":  # which task leaked is part of the bug
        return text
    names = {t.name for t in finding.threads} | {s.thread for s in finding.trace}
    for name in sorted((n for n in names if n), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "<task>", text)
    return text


def short_where(loc: Any) -> str:
    """``function (file:line)`` with the file relative to the package for vmacheck's own
    models (``kernel/mm/fork.py``), else as :func:`_common.where` gives it."""
    text = c.where(loc)
    return text.replace("(src/vmacheck/", "(")


def bug_where(finding: Finding) -> str:
    """``in function (file:line)``, or ``at end of execution``."""
    if finding.kind == "invariant" and not finding.thread:
        return "at " + AT_END
    return "in " + short_where(c.location(finding))


def bug_id(finding: Finding) -> str:
    """A short stable name for the bug ``finding`` belongs to (``BUG-`` and 6 hex digits)."""
    text = "|".join(bug_key(finding))
    return "BUG-" + hashlib.sha1(text.encode()).hexdigest()[:6]


def group_bugs(runs: list[Any]) -> list[Bug]:
    """The distinct bugs of ``runs``, new ones first, then by kind and function."""
    bugs: dict[str, Bug] = {}
    for run in runs:
        for f in run.result.findings:
            bid = bug_id(f)
            bug = bugs.get(bid)
            if bug is None:
                kind, fn, _ = bug_key(f)
                bug = bugs[bid] = Bug(bid, kind, fn, bug_where(f), f.message)
            bug.occurrences.append((run, f))
    for bug in bugs.values():
        bug.where = bug_where(bug.shortest()[1])
    for bug in bugs.values():
        reasons = [run.is_expected(f) for run, f in bug.occurrences]
        if all(e is not None for e in reasons):
            bug.expected_reason = next(e.reason for e in reasons if e is not None)
    first = {bid: k for k, bid in enumerate(bugs)}
    return sorted(bugs.values(), key=lambda b: (b.expected, first[b.bug_id]))


def selection_text(run: Any) -> str:
    """The versions of ``run`` that differ from the defaults (``defaults`` if none)."""
    from vmacheck.kernel.variants import REGISTRY

    parts = [f"{fn}@{v}" for fn, v in sorted(run.variants.items())
             if fn not in REGISTRY or REGISTRY[fn].default != v]
    return ", ".join(parts) or "defaults"


def config_line(run: Any) -> str:
    """The configuration switches of ``run`` (``PER_VMA_LOCK=n, ...``), empty if none."""
    return ", ".join(f"{k}={'y' if v else 'n'}" for k, v in sorted(run.config.items()))


def config_chosen(run: Any) -> bool:
    """Whether ``run``'s configuration differs from its scenario's own (a --config)."""
    from vmacheck.scenarios.catalogue import get

    try:
        base = get(run.scenario).config
    except ValueError:
        return bool(run.config)
    return any(base.get(k) != v for k, v in run.config.items())


def short_replay(run: Any, finding: Finding) -> str:
    """The replay command of ``finding`` without the versions and switches that are defaults
    anyway (it replays the same interleaving)."""
    from vmacheck.kernel.variants import REGISTRY
    from vmacheck.scenarios.catalogue import get

    try:
        base = get(run.scenario).config
    except ValueError:
        base = {}
    parts = ["vmacheck", "replay", run.scenario]
    for path in getattr(run, "variant_files", ()):
        parts += ["--variant-file", shlex.quote(path)]
    for fn, v in sorted(run.variants.items()):
        if fn not in REGISTRY or REGISTRY[fn].default != v:
            parts += ["--variant", f"{fn}@{v}"]
    for name, value in sorted(run.config.items()):
        if base.get(name) != value:
            parts += ["--config", f"{name}={'y' if value else 'n'}"]
    parts += ["--schedule", f"'{c.schedule_of(finding)}'"]
    return " ".join(parts)


def _non_default(run: Any) -> set[str]:
    from vmacheck.kernel.variants import REGISTRY

    return {f"{fn}@{v}" for fn, v in run.variants.items()
            if fn not in REGISTRY or REGISTRY[fn].default != v}


def _describe(failing: list[Any], passing: list[Any]) -> str:
    """The versions that explain why ``failing`` runs (of one scenario) show a bug and
    ``passing`` ones do not: one function's non-default versions (``f@a | b``) when every
    run with them fails; else the non-default versions all failing runs share; else two
    functions' versions (``f@a + g@b``); else the failing selections.  ``every version``
    when all runs fail and they share no changed version."""
    from vmacheck.kernel.variants import REGISTRY

    functions = sorted({fn for r in failing for fn in r.variants})
    single = []
    for fn in functions:
        bad = {r.variants.get(fn) for r in failing}
        if not any(r.variants.get(fn) in bad for r in passing):
            single.append((fn, sorted(v for v in bad if v)))
    default = {fn: REGISTRY[fn].default for fn in functions if fn in REGISTRY}
    for fn, bad_versions in single:
        if default.get(fn) not in bad_versions:
            return f"{fn}@{' | '.join(bad_versions)}"
    common = set.intersection(*(_non_default(r) for r in failing))
    if common and not any(common <= _non_default(r) for r in passing):
        return " + ".join(sorted(common))
    if not passing:
        return "every version"
    for i, f in enumerate(functions):
        for g in functions[i + 1:]:
            pairs = {(r.variants.get(f), r.variants.get(g)) for r in failing}
            if not any((r.variants.get(f), r.variants.get(g)) in pairs for r in passing):
                fs = sorted({a for a, _ in pairs if a})
                gs = sorted({b for _, b in pairs if b})
                if len(pairs) == len(fs) * len(gs):
                    return f"{f}@{' | '.join(fs)} + {g}@{' | '.join(gs)}"
    if single:
        fn, bad_versions = single[0]
        return f"{fn}@{' | '.join(bad_versions)}"
    return "; ".join(selection_text(r) for r in failing)


@dataclass(slots=True)
class Culprit:
    """A row of the verdict matrix: versions, the scenarios where they fail, the bugs."""

    versions: str
    scenarios: list[str] = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)


def culprits(runs: list[Any], bugs: list[Bug]) -> list[Culprit]:
    """The verdict matrix of new bugs: which versions fail in which scenarios with which
    bugs (per bug and scenario, the versions that tell its failing runs from the others)."""
    by_scenario: dict[str, list[Any]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    rows: dict[str, Culprit] = {}
    for bug in bugs:
        if bug.expected:
            continue
        failing_runs: dict[str, list[Any]] = {}
        for run, _ in bug.occurrences:
            if run not in failing_runs.setdefault(run.scenario, []):
                failing_runs[run.scenario].append(run)
        for scen, failing in failing_runs.items():
            passing = [r for r in by_scenario[scen] if r not in failing]
            what = _describe(failing, passing)
            if what == "every version":
                what = f"{scen} (every version)"
            row = rows.setdefault(what, Culprit(what))
            if scen not in row.scenarios:
                row.scenarios.append(scen)
            if bug.bug_id not in row.bugs:
                row.bugs.append(bug.bug_id)
    return list(rows.values())


def scenario_states(runs: list[Any]) -> dict[str, list[str]]:
    """Scenario names by state: ``new`` (a run has a new finding), ``expected`` (only
    expected findings), ``clean`` (every run complete and clean), ``incomplete``."""
    out: dict[str, list[str]] = {"new": [], "expected": [], "clean": [], "incomplete": []}
    by_scenario: dict[str, list[Any]] = {}
    for run in runs:
        by_scenario.setdefault(run.scenario, []).append(run)
    for name, rs in by_scenario.items():
        if any(r.new_findings() for r in rs):
            out["new"].append(name)
        elif any(r.result.findings for r in rs):
            out["expected"].append(name)
        elif all(r.result.complete for r in rs):
            out["clean"].append(name)
        else:
            out["incomplete"].append(name)
    return out


def missing_expected(runs: list[Any]) -> list[tuple[Any, Any]]:
    """(run, expectation) pairs: expected findings a complete run did not reach."""
    return [(r, e) for r in runs if r.result.complete for e in r.missing_expected()]


def exit_status(runs: list[Any]) -> bool:
    """Whether the check failed: a new finding, or an expected one a complete run lost."""
    return any(r.new_findings() for r in runs) or bool(missing_expected(runs))
