"""SARIF 2.1.0 output, for code-scanning dashboards and editors.

Each finding kind is a rule (described by :data:`vmacheck.FINDING_KINDS`); each finding is a
result at the model source line where it was reported, with ``level`` ``error`` for BUG-type
and ``warning`` for WARN-type findings (see :mod:`vmacheck.report._common`).  The minimised
interleaving becomes a ``codeFlow`` with one ``threadFlow`` per thread, so viewers can step
through it; the replay command and schedule are in the result's ``properties``.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from vmacheck.explore.findings import FINDING_KINDS, Finding, Location
from vmacheck.report import _common as c

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"


def _uri(file: str) -> str:
    """Relative to the project root where possible, else a ``file://`` URI."""
    path = c.short_path(file)
    if os.path.isabs(path):
        return pathlib.Path(path).as_uri()
    return path.replace(os.sep, "/")


def _physical(loc: Location) -> dict[str, Any]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": _uri(loc.file)},
        "region": {"startLine": max(1, loc.line)}}}


def _location(loc: Location | None, message: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = _physical(loc) if loc is not None else {}
    if loc is not None:
        out["logicalLocations"] = [{"name": loc.function, "kind": "function"}]
    if message:
        out["message"] = {"text": message}
    return out


def _code_flow(finding: Finding) -> dict[str, Any]:
    flows: dict[int, dict[str, Any]] = {}
    stop = c.focus(finding)
    for k, s in enumerate(finding.trace):
        flow = flows.setdefault(s.tid, {"id": s.thread, "message": {"text": s.thread},
                                        "locations": []})
        entry: dict[str, Any] = {
            "location": _location(s.location, s.op),
            "executionOrder": s.index + 1,
            "nestingLevel": max(0, len(s.stack) - 1),
            "state": {"held": {"text": ", ".join(s.held) or "-"}},
        }
        kind = c.lock_op(s.op)
        if kind is not None:
            entry["kinds"] = [kind]
        if k == stop:
            entry["importance"] = "essential"
            entry.setdefault("kinds", []).append("danger")
        flow["locations"].append(entry)
    return {"message": {"text": f"interleaving (schedule {c.schedule_of(finding)})"},
            "threadFlows": [flows[t] for t in sorted(flows)]}


def _result(run: Any, finding: Finding, rule_index: int) -> dict[str, Any]:
    loc = c.location(finding)
    text = f"{c.header(finding)[0]}: {finding.message}"
    result: dict[str, Any] = {
        "ruleId": finding.kind,
        "ruleIndex": rule_index,
        "level": c.level(finding),
        "message": {"text": text},
        "locations": [_location(loc)] if loc is not None else [],
        "partialFingerprints": {"vmacheck/v1": f"{run.scenario}:{finding.kind}:"
                                               f"{finding.message}"},
        "properties": {
            "scenario": run.scenario,
            "variants": dict(run.variants),
            "thread": finding.thread,
            "schedule": c.schedule_of(finding),
            "originalSchedule": finding.schedule,
            "occurrences": finding.occurrences,
            "replay": c.replay_line(run, finding),
        },
    }
    if finding.trace:
        result["codeFlows"] = [_code_flow(finding)]
    return result


def to_sarif(runs: list[Any], *, interrupted: bool = False) -> dict[str, Any]:
    """The findings of ``runs`` as one SARIF 2.1.0 log with a single run of tool vmacheck.

    Expected findings (demonstrations, known bugs) carry an external ``suppression`` with the
    reason; ``executionSuccessful`` is false when the check was interrupted."""
    from vmacheck import __version__

    kinds = list(FINDING_KINDS)
    rules = [{"id": kind, "name": "".join(p.capitalize() for p in kind.split("-")),
              "shortDescription": {"text": FINDING_KINDS[kind]},
              "fullDescription": {"text": f"{kind}: {FINDING_KINDS[kind]}"},
              "defaultConfiguration": {"level": "warning" if kind in (
                  "lock-order", "resource-leak", "bad-unlock") else "error"}}
             for kind in kinds]
    results = []
    for run in runs:
        for f in run.result.findings:
            if f.kind not in FINDING_KINDS:
                kinds.append(f.kind)
                rules.append({"id": f.kind, "shortDescription": {"text": f.kind}})
            result = _result(run, f, kinds.index(f.kind))
            expected = run.is_expected(f) if hasattr(run, "is_expected") else None
            if expected is not None:
                result["suppressions"] = [{"kind": "external", "status": "accepted",
                                           "justification": expected.reason}]
            results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "vmacheck", "version": __version__,
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "invocations": [{"executionSuccessful": not interrupted,
                             "properties": {"runs": [
                                 {"scenario": r.scenario, "variants": dict(r.variants),
                                  "verdict": r.verdict(), "complete": bool(r.result.complete)}
                                 for r in runs]}}],
        }],
    }


def write_sarif(path: str, runs: list[Any], *, interrupted: bool = False) -> None:
    """Write :func:`to_sarif` of ``runs`` to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_sarif(runs, interrupted=interrupted), fh, indent=2)
        fh.write("\n")
