"""The pure Result diff and outcome table helpers (vmacheck.scenarios.diff)."""

from __future__ import annotations

from vmacheck.explore.findings import Finding, Outcome, Result
from vmacheck.scenarios.diff import diff_results, format_table, outcome_table


def result(outcomes: dict[str, int], kinds: list[str]) -> Result:
    findings = tuple(Finding(k, f"{k} 1", "t", None, "0", "0", (), 1, 0, 0) for k in kinds)
    return Result("dpor", True, 3, 0, 9, 0.0, findings,
                  tuple(Outcome(label, n, "0*3") for label, n in outcomes.items()), "exhausted")


def test_diff_and_table() -> None:
    a = result({"x; shrink page 0: skip": 2, "shrink page 0: reclaim": 1}, ["invariant"])
    b = result({"shrink page 0: reclaim": 4}, [])
    d = diff_results(a, b)
    assert d.complete and not d.same
    assert list(d.outcomes_only_a) == ["x; shrink page 0: skip"]
    assert d.kinds_only_a == ("invariant",) and d.kinds_only_b == ()
    assert list(d.findings_only_a) == ["invariant: invariant #"]
    rows = outcome_table(a, prefix="shrink page")
    assert rows == [("shrink page 0: reclaim", 1), ("shrink page 0: skip", 2)]
    assert "executions" in format_table(rows, "t")
    assert diff_results(b, b).same
