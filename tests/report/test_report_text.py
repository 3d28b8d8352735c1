"""The text splat: its structure for every finding kind, and that its schedule replays."""

from __future__ import annotations

import re
from typing import Any

import pytest
from report_models import MAX_STEPS, MODELS, violating_step, warn_on

import vmacheck as vc
from vmacheck.explore.findings import FINDING_KINDS, Finding
from vmacheck.report.text import (
    render_diff,
    render_finding,
    render_outcomes,
    render_result,
    render_verdict_table,
)
from vmacheck.scenarios.catalogue import ScenarioRun

SRC = "tests/report/report_models.py"

HEADERS: dict[str, list[str]] = {
    "assertion": ["BUG: vmacheck: BUG_ON in validate_mm", f"kernel BUG at {SRC}:{{line}}!"],
    "warn_on": ["WARNING: vmacheck: WARN_ON in vma_end_write_all",
                f"WARNING: at {SRC}:{{line}} vma_end_write_all"],
    "exception": ["BUG: vmacheck: unhandled exception in split"],
    "null-deref": ["BUG: vmacheck: NULL pointer dereference in rmap_walk"],
    "use-after-free": ["BUG: vmacheck: use-after-free in zap_vma_range"],
    "double-free": ["BUG: vmacheck: double-free in put_anon_vma"],
    "deadlock": ["INFO: task shrinker/1 blocked forever: vmacheck: deadlock with truncate/2"],
    "resource-leak": ["WARNING: vmacheck: lock held when task fault/1 exited!"],
    "bad-unlock": ["WARNING: vmacheck: bad unlock balance detected!"],
    "sleep-in-atomic": ["BUG: vmacheck: sleeping function called from invalid context in "
                        "follow_page"],
    "step-limit": ["BUG: vmacheck: soft lockup in spin (step limit)"],
    "soft-lockup": ["BUG: vmacheck: soft lockup in wait_for_unlock (stuck without awaiting)"],
    "invariant": ["BUG: vmacheck: invariant violated at end of execution"],
    "lock-order": ["WARNING: possible circular locking dependency detected"],
}
"""Expected header lines per model ({line} is the finding's line)."""

HOLDS_LOCKS = {"assertion", "deadlock", "resource-leak", "bad-unlock", "sleep-in-atomic",
               "lock-order"}
"""Models whose reporting thread holds a lock at the violating step."""

CASES = [*FINDING_KINDS, "warn_on"]


def test_every_kind_has_a_model_and_a_header() -> None:
    assert set(MODELS) == set(FINDING_KINDS)
    assert set(HEADERS) == set(CASES)


def finding_of(results: dict[str, Any], case: str) -> Finding:
    kind = "assertion" if case == "warn_on" else case
    found = results[case].by_kind(kind)
    assert found, f"model {case} did not produce a {kind} finding"
    return sorted(found, key=lambda f: f.thread)[0]


def model_of(case: str) -> Any:
    return warn_on if case == "warn_on" else MODELS[case]


def thread_names(f: Finding) -> list[str]:
    names = {t.tid: t.name for t in f.threads}
    for s in f.trace:
        names.setdefault(s.tid, s.thread)
    return [names[t] for t in sorted(names)]


def section(text: str, name: str) -> list[str]:
    """The lines of the per-thread block of ``name`` (up to the next blank line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"task {name} (tid "))
    end = lines.index("", start)
    return lines[start:end]


def listing(text: str, names: list[str]) -> tuple[dict[str, int], list[tuple[str, int, str]]]:
    """Column offset per thread, and rows (mark, step number, row text) of the listing."""
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("  step  "))
    offsets = {n: lines[head].index(n) for n in names}
    assert list(offsets.values()) == sorted(offsets.values()), "columns out of tid order"
    rows = []
    for line in lines[head + 2:]:
        m = re.match(r"^ ([* ])\s*(\d+)  ", line)
        if m is None:
            if line.startswith("        ... "):
                continue
            break
        rows.append((m.group(1), int(m.group(2)), line))
    return offsets, rows


def replayed_schedule(text: str) -> tuple[str, int]:
    m = re.search(r'^  vmacheck\.replay\(model, "([^"]*)"(?:, max_steps=(\d+))?\)$', text,
                  re.M)
    assert m is not None, "no replay line in the splat"
    return m.group(1), int(m.group(2) or 10_000)


@pytest.mark.parametrize("case", CASES)
def test_splat_structure(results: dict[str, Any], case: str) -> None:
    f = finding_of(results, case)
    text = render_finding(None, f, scenario=f"model-{case}")
    lines = text.splitlines()
    line = f.location.line if f.location else 0
    expected = [h.format(line=line) for h in HEADERS[case]]
    assert lines[0] == "=" * 66 and lines[-1] == "=" * 66
    assert lines[1:1 + len(expected)] == expected
    assert f"scenario: model-{case}" in lines
    assert "\x1b" not in text

    names = thread_names(f)
    assert f.thread == "" or f.thread in names
    for name in names:
        block = section(text, name)
        trace_at = block.index(" Call Trace:")
        assert all(b.startswith((" waiting in: ", " next: ", "     ")) for b in block[1:trace_at])
        frames = [b for b in block[trace_at + 1:] if b.startswith("  ")]
        assert frames, f"no Call Trace lines for {name}"
        held_line = next(b for b in block if "held by" in b)
        snap = next((t for t in f.threads if t.name == name), None)
        held = snap.held if snap is not None else None
        if held is not None:
            n = len(held)
            want = (f"{n} lock{'s' if n != 1 else ''} held by {name}:" if n
                    else f"no locks held by {name}.")
            assert held_line == want
            assert [b for b in block if b.startswith(" #")] == [
                f" #{i}: {h}" for i, h in enumerate(held)]
        if snap is not None and snap.stack:
            shown = [re.sub(r"^  ", "", fr) for fr in frames]
            assert shown == [f"{loc.function} ({SRC}:{loc.line})"
                             for loc in reversed(snap.stack)]
    if f.thread:
        culprit = section(text, f.thread)
        assert culprit[0].endswith("<== reported here")
        if case in HOLDS_LOCKS:
            assert re.fullmatch(rf"\d+ locks? held by {re.escape(f.thread)}:",
                                next(b for b in culprit if "held by" in b))
            assert any(b.startswith(" #0: ") for b in culprit)
        if f.location is not None and not f.location.function.startswith("<"):
            assert any(f"  {f.location.function} ({SRC}:" in b for b in culprit)

    offsets, rows = listing(text, names)
    assert len(offsets) == len(names) >= 1
    numbers = [n for _, n, _ in rows]
    assert numbers == sorted(numbers) and numbers[0] == 1
    assert [m for m, _, _ in rows].count("*") == 1
    by_index = {s.index + 1: s for s in f.trace}
    for _, n, row in rows:
        step = by_index[n]
        col = offsets[step.thread]
        assert row[:col].strip(" *0123456789") == "", f"step {n} is not in {step.thread}'s column"
        assert step.op.startswith(row[col:].strip().removesuffix("..."))
    starred = next(n for m, n, _ in rows if m == "*")
    assert starred == violating_step(f).index + 1

    schedule, _ = replayed_schedule(text)
    assert schedule == f.minimal_schedule


@pytest.mark.parametrize("case", CASES)
def test_printed_schedule_replays_the_finding(results: dict[str, Any], case: str) -> None:
    f = finding_of(results, case)
    text = render_finding(None, f)
    schedule, max_steps = replayed_schedule(text)
    rep = vc.replay(model_of(case), schedule, max_steps=max_steps)
    if case == "lock-order":
        m = re.search(r"^(\S+) is trying to acquire lock:\n (.+), at: .*\n\n"
                      r"but task is already holding lock:\n (.+)$", text, re.M)
        assert m is not None
        thread, wanted, holding = m.groups()
        assert any(s.thread == thread and s.op.endswith(" " + wanted) and holding in s.held
                   for s in rep.trace), "the replay does not take the locks in that order"
        return
    assert any(r.kind == f.kind and r.message == f.message for r in rep.findings), \
        f"replay of {schedule!r} gave {[r.kind for r in rep.findings]}"
    assert [s.op for s in rep.trace[: len(f.trace)]] == [s.op for s in f.trace]


def test_splat_with_a_run_prints_versions_and_the_cli_replay(
        runs: list[ScenarioRun]) -> None:
    run = next(r for r in runs if r.scenario == "report-deadlock")
    f = run.result.by_kind("deadlock")[0]
    text = render_finding(run, f)
    assert "scenario: report-deadlock" in text
    assert "variants: lock_vma@seed, zap_vma_range@v2" in text
    assert "config:   CONFIG_DEBUG_VM=n, CONFIG_PER_VMA_LOCK=y" in text
    assert f"  {run.replay_command(f.minimal_schedule)}\n" in text
    m = re.search(r"--schedule '([^']*)'", text)
    assert m is not None and m.group(1) == f.minimal_schedule
    assert vc.replay(MODELS["deadlock"], m.group(1)).findings[0].kind == "deadlock"


@pytest.mark.parametrize("case", ["deadlock", "use-after-free", "lock-order", "assertion"])
def test_splat_fits_a_mail(results: dict[str, Any], case: str) -> None:
    text = render_finding(None, finding_of(results, case))
    assert max(len(line) for line in text.splitlines()) <= 100
    assert all(line == line.rstrip() for line in text.splitlines())


def test_colour_only_on_request(results: dict[str, Any]) -> None:
    f = finding_of(results, "use-after-free")
    plain = render_finding(None, f)
    coloured = render_finding(None, f, color=True)
    assert "\x1b[" not in plain
    assert "\x1b[31;1mBUG: vmacheck: use-after-free in zap_vma_range\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_lock_order_splat_reads_like_lockdep(results: dict[str, Any]) -> None:
    text = render_finding(None, finding_of(results, "lock-order"))
    assert re.search(r"^\S+ is trying to acquire lock:$", text, re.M)
    for want in ("but task is already holding lock:",
                 "which lock already depends on the new lock.",
                 "the existing dependency chain (in reverse order) is:",
                 " Possible unsafe locking scenario:", " *** DEADLOCK ***"):
        assert want in text.splitlines(), want
    assert re.search(r"^-> #1 \(.+\):$", text, re.M) and re.search(r"^-> #0 \(.+\):$", text,
                                                                      re.M)


def test_long_listing_is_elided_but_numbered(results: dict[str, Any]) -> None:
    f = finding_of(results, "step-limit")
    text = render_finding(None, f)
    assert "steps not shown (the replay prints them all)" in text
    assert re.search(rf"^ \*\s*{MAX_STEPS}  ", text, re.M)


def test_result_and_verdict_table(runs: list[ScenarioRun], outcome_run: ScenarioRun) -> None:
    run = next(r for r in runs if r.scenario == "report-deadlock")
    text = render_result(run)
    first, second = text.splitlines()[:2]
    assert first.startswith("report-deadlock [lock_vma@seed, zap_vma_range@v2]: findings (2: ")
    assert second.startswith(f"  complete, {run.result.executions} executions (")
    assert text.count("=" * 66) == 2 * len(run.result.findings)

    table = render_verdict_table([*runs, outcome_run]).splitlines()
    assert len(table) == len(runs) + 2
    head = table[0]
    cols = ["SCENARIO", "VARIANTS", "VERDICT", "COMPLETE", "EXECUTIONS", "FINDINGS"]
    starts = [head.index(c) for c in cols]
    assert starts == sorted(starts)
    for row, r in zip(table[1:], [*runs, outcome_run], strict=True):
        assert row[starts[0]:].startswith(r.scenario)
        assert row[starts[2]:].startswith(r.verdict())
        assert row[starts[3]:].startswith("yes" if r.result.complete else
                                          f"no ({r.result.stop_reason})")
        end = starts[4] + len("EXECUTIONS")
        assert row[:end].endswith(str(r.result.executions))
        kinds = row[starts[5]:]
        if r.result.findings:
            assert all(k in kinds for k in r.result.kinds())
        else:
            assert kinds == "-"
    assert "clean" in table[-1]
    coloured = render_verdict_table([*runs, outcome_run], color=True)
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured).splitlines() == table
    assert "\x1b[31;1mfindings\x1b[0m" in coloured and "\x1b[32mclean\x1b[0m" in coloured


def test_outcome_table_schedules_replay_to_their_outcome(outcome_run: ScenarioRun) -> None:
    from report_models import lost_update

    text = render_outcomes(outcome_run)
    lines = text.splitlines()
    assert lines[0].startswith("Outcomes of report-lost-update [-]: 2 distinct over 4 "
                               "executions (complete)")
    assert lines[1].split() == ["COUNT", "OUTCOME", "SCHEDULE"]
    rows = [line.split() for line in lines[2:]]
    assert {r[1] for r in rows} == {"map_count=1", "map_count=2"}
    for count, label, schedule in rows:
        assert int(count) >= 1
        assert vc.replay(lost_update, schedule).outcome == label


def test_diff() -> None:
    diff = {"scenario": "munmap-vs-fault", "a": "zap_vma_range@v1", "b": "zap_vma_range@v2",
            "complete": True,
            "only_a": {"outcomes": ["rss=0"], "findings": []},
            "only_b": {"outcomes": [], "findings": ["use-after-free: load vm_flags"]},
            "schedules_b": {"use-after-free: load vm_flags": "1*3,0"}}
    text = render_diff(diff)
    assert text.splitlines() == [
        "Behaviour diff of munmap-vs-fault: A = zap_vma_range@v1  vs  B = zap_vma_range@v2",
        "Only under A (zap_vma_range@v1): 1",
        "  outcome: rss=0",
        "Only under B (zap_vma_range@v2): 1",
        "  finding: use-after-free: load vm_flags  [schedule 1*3,0]",
    ]
    same = render_diff({"a": "x", "b": "y", "complete": False,
                        "only_a": {"outcomes": [], "findings": []},
                        "only_b": {"outcomes": [], "findings": []}})
    assert "no difference in reachable outcomes or findings" in same
    assert "(exploration incomplete: a difference may be missing)" in same


def test_bare_finding_still_renders() -> None:
    """A finding with no trace, no snapshots and no location (e.g. from a foreign tool)."""
    from vmacheck.report.html import render_html
    from vmacheck.report.sarif import to_sarif

    f = Finding("deadlock", "no thread can run; blocked: a (join thread 1)", "a", None, "",
                "", (), 1, 0, 0)
    text = render_finding(None, f)
    assert text.splitlines()[1] == "INFO: task a blocked forever: vmacheck: deadlock (no task " \
                                   "can run)"
    assert "Interleaving: (no steps recorded)" in text
    assert 'vmacheck.replay(model, "")' in text
    result = vc.Result("dpor", True, 1, 1, 0, 0.0, (f,), (), "exhausted")
    run = ScenarioRun("bare", {}, {}, result)
    assert '<table class="sequence">' in render_html([run])
    assert to_sarif([run])["runs"][0]["results"][0]["locations"] == []


@pytest.mark.parametrize("case, function", [("bad-unlock", "mmap_write_downgrade"),
                                            ("double-free", "put_anon_vma"),
                                            ("lock-order", "one")])
def test_findings_raised_inside_an_op_point_into_the_model(results: dict[str, Any], case: str,
                                                           function: str) -> None:
    """The engine may locate these at the explorer's caller; the report shows the model line."""
    f = finding_of(results, case)
    text = render_finding(None, f)
    at = [line for line in text.splitlines()
          if line.startswith(f"task {f.thread} at ") or ", at: " in line]
    assert at and f" {function} ({SRC}:" in at[0]
