"""Behaviour difference of two explorations of one scenario, and outcome tables.

Pure functions over :class:`vmacheck.Result` values: which outcome labels and which finding
kinds (with their messages, digits normalised) are reachable under one selection of versions
and not under the other, with a schedule that reaches each; and a plain-text outcome table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vmacheck.explore.findings import Result
from vmacheck.explore.findings import normalise_message as _normalise


@dataclass(frozen=True)
class ResultDiff:
    """What only ``a`` reaches and what only ``b`` reaches (labels, kinds, findings)."""

    complete: bool
    outcomes_only_a: dict[str, str] = field(default_factory=dict)
    outcomes_only_b: dict[str, str] = field(default_factory=dict)
    kinds_only_a: tuple[str, ...] = ()
    kinds_only_b: tuple[str, ...] = ()
    findings_only_a: dict[str, str] = field(default_factory=dict)
    findings_only_b: dict[str, str] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.outcomes_only_a or self.outcomes_only_b or self.findings_only_a
                    or self.findings_only_b)


def _findings(r: Result) -> dict[str, str]:
    return {f"{f.kind}: {_normalise(f.message)}": f.minimal_schedule for f in r.findings}


def diff_results(a: Result, b: Result) -> ResultDiff:
    """Outcomes and findings reachable under ``a`` and not ``b``, and the reverse.

    Each entry maps the outcome label (or ``kind: message``) to a schedule reaching it.
    ``complete`` is True only when both explorations were exhaustive.
    """
    oa = {o.label: o.schedule for o in a.outcomes}
    ob = {o.label: o.schedule for o in b.outcomes}
    fa, fb = _findings(a), _findings(b)
    return ResultDiff(
        complete=bool(a.complete and b.complete),
        outcomes_only_a={k: v for k, v in sorted(oa.items()) if k not in ob},
        outcomes_only_b={k: v for k, v in sorted(ob.items()) if k not in oa},
        kinds_only_a=tuple(sorted(a.kinds() - b.kinds())),
        kinds_only_b=tuple(sorted(b.kinds() - a.kinds())),
        findings_only_a={k: v for k, v in sorted(fa.items()) if k not in fb},
        findings_only_b={k: v for k, v in sorted(fb.items()) if k not in fa},
    )


def outcome_table(result: Result, *, prefix: str = "") -> list[tuple[str, int]]:
    """Rows ``(label, executions)``: each outcome label, or only the ``;``-separated parts
    starting with ``prefix`` (e.g. ``"shrink page"``), summed over executions."""
    rows: dict[str, int] = {}
    for o in result.outcomes:
        parts = [p.strip() for p in o.label.split(";")] if prefix else [o.label]
        chosen = [p for p in parts if p.startswith(prefix)] if prefix else parts
        key = "; ".join(chosen) if chosen else "(none)"
        rows[key] = rows.get(key, 0) + o.count
    return sorted(rows.items())


def format_table(rows: list[tuple[str, int]], title: str = "") -> str:
    """A plain-text table of :func:`outcome_table` rows."""
    width = max((len(label) for label, _ in rows), default=10)
    lines = [title] if title else []
    lines.append(f"{'outcome':<{width}}  executions")
    lines.extend(f"{label:<{width}}  {count:>10}" for label, count in rows)
    return "\n".join(lines)


def diff_report(d: ResultDiff, name_a: str, name_b: str) -> dict[str, Any]:
    """A JSON-friendly rendering of a :class:`ResultDiff`."""
    return {
        "complete": d.complete,
        f"only {name_a}": {"outcomes": d.outcomes_only_a, "findings": d.findings_only_a},
        f"only {name_b}": {"outcomes": d.outcomes_only_b, "findings": d.findings_only_b},
    }
