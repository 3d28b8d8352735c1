"""Machine-readable results: a versioned JSON document and the JSON Schema that describes it.

``to_json(runs)`` returns the list of runs, each carrying ``"schema_version": "1"``; it validates
against ``schema/vmacheck-result.schema.json`` (JSON Schema draft 2020-12), which ships with the
package and which :func:`load_schema` reads.  The schema version changes only when a field is
removed or its meaning changes; new optional fields keep the version.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from vmacheck.explore.findings import Finding, Location

SCHEMA_VERSION = "1"
SCHEMA_FILE = "vmacheck-result.schema.json"


def _location(loc: Location | None) -> dict[str, Any] | None:
    if loc is None:
        return None
    return {"function": loc.function, "file": loc.file, "line": loc.line}


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "message": f.message,
        "thread": f.thread,
        "location": _location(f.location),
        "schedule": f.minimal_schedule,
        "original_schedule": f.schedule,
        "occurrences": f.occurrences,
        "context_switches": f.context_switches,
        "original_context_switches": f.original_context_switches,
        "extra": _plain(f.extra),
        "trace": [{"index": s.index, "tid": s.tid, "thread": s.thread, "op": s.op,
                   "object": s.obj, "location": _location(s.location),
                   "held": list(s.held)} for s in f.trace],
        "threads": [{"tid": t.tid, "name": t.name, "state": t.state,
                     "stack": [_location(loc) for loc in t.stack], "held": list(t.held),
                     "pending": t.pending} for t in f.threads],
    }


def _with_bug(run: Any, f: Finding) -> dict[str, Any]:
    from vmacheck.report.summary import bug_id

    out = _finding(f)
    out["bug_id"] = bug_id(f)
    expected = run.is_expected(f) if hasattr(run, "is_expected") else None
    out["expected"] = expected.reason if expected is not None else None
    return out


def _plain(value: Any) -> Any:
    """``extra`` values as JSON: containers kept, anything else as its string."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def run_to_json(run: Any) -> dict[str, Any]:
    """One :class:`ScenarioRun` as a JSON object (one entry of ``runs``)."""
    r = run.result
    return {
        "schema_version": SCHEMA_VERSION,
        "scenario": run.scenario,
        "variants": dict(sorted(run.variants.items())),
        "config": dict(sorted(run.config.items())),
        "verdict": run.verdict(),
        "mode": r.mode,
        "complete": bool(r.complete),
        "executions": r.executions,
        "blocked": r.blocked,
        "steps": r.steps,
        "seconds": round(float(r.seconds), 6),
        "stop_reason": r.stop_reason,
        "state": run.state() if hasattr(run, "state") else run.verdict(),
        "missing_expected": [e.describe() for e in run.missing_expected()]
        if hasattr(run, "missing_expected") and r.complete else [],
        "findings": [_with_bug(run, f) for f in r.findings],
        "outcomes": [{"label": o.label, "count": o.count, "schedule": o.schedule}
                     for o in r.outcomes],
        "reused_from": None if getattr(run, "reused_from", None) is None
        else dict(sorted(run.reused_from.items())),
    }


def to_json(runs: list[Any]) -> list[dict[str, Any]]:
    """The results of ``runs`` as a document valid against :func:`load_schema`: a list of
    runs, each with its ``schema_version``."""
    return [run_to_json(r) for r in runs]


def write_json(path: str, runs: list[Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(to_json(runs), fh, indent=2)
        fh.write("\n")


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of :func:`to_json`'s output, from the package data."""
    text = resources.files("vmacheck.report").joinpath("schema", SCHEMA_FILE).read_text(
        encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
