"""Plain-text reports shaped like the kernel splats their readers know.

A finding renders as a splat: the header the kernel's own detector would print (see the table
in :mod:`vmacheck.report._common`), the finding, the scenario and versions, every thread at
the violating step with its call stack and the locks it holds (lockdep's "2 locks held by"),
the minimised interleaving as a numbered listing with one column per thread, and the command
that replays it.  Output is plain text that pastes into a mail; ANSI colour only on request.
"""

from __future__ import annotations

import textwrap
from typing import Any

from vmacheck.explore.findings import Finding
from vmacheck.report import _common as c
from vmacheck.report.listing import public_text

RULE = "=" * 66
_ELIDE_HEAD, _ELIDE_TAIL = 12, 24
"""Listings longer than this (a livelock runs to the step limit) show only head and tail."""
_RED, _YELLOW, _BOLD, _CYAN, _DIM = "31;1", "33;1", "1", "36", "2"


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text


def render_finding(run: Any | None, finding: Finding, *, color: bool = False,
                   scenario: str | None = None) -> str:
    """One finding as a kernel-style splat.  ``run`` is the :class:`ScenarioRun` it came from
    (its replay command is printed); without one, a ``vmacheck.replay(model, ...)`` line is."""
    head = c.header(finding)
    tone = _YELLOW if c.is_warning(finding) else _RED
    out = [RULE, _paint(head[0], tone, color), *head[1:]]
    out += _wrap(public_text(finding.message))
    if finding.extra.get("values"):
        out += _wrap(f"values: {finding.extra['values']}")
    if finding.kind == "lock-order":
        out += ["-" * 66, *_lockdep_body(finding)]
    elif finding.thread:
        out.append(f"task {finding.thread} at {c.where(c.location(finding))}")
    out.append("")
    out += _context(run, finding, scenario)
    out.append("")
    out += _thread_sections(finding, color)
    out += _sites(finding)
    out += _listing(finding, color)
    out += ["", "Replay:", "  " + _paint(c.replay_line(run, finding), _CYAN, color), RULE]
    return "\n".join(out) + "\n"


def _wrap(message: str, indent: str = "") -> list[str]:
    """A finding's message in lines under 100 columns, split at '; ' first."""
    out: list[str] = []
    for k, part in enumerate(message.split("; ")):
        out += textwrap.wrap(part + (";" if k < message.count("; ") else ""), width=96,
                             initial_indent=indent + ("" if k == 0 else "  "),
                             subsequent_indent=indent + "    ",
                             break_on_hyphens=False) or [""]
    return out


def _context(run: Any | None, finding: Finding, scenario: str | None) -> list[str]:
    name = scenario or (run.scenario if run is not None else None) or "(model)"
    lines = [f"scenario: {name}"]
    if run is not None:
        lines.append(f"variants: {c.variants_text(run.variants)}")
        lines.append(f"config:   {c.config_text(run.config)}")
    switches = finding.context_switches
    orig = finding.original_context_switches
    lines.append(f"seen in {finding.occurrences} execution"
                 f"{'s' if finding.occurrences != 1 else ''}; interleaving minimised to "
                 f"{switches} context switch{'es' if switches != 1 else ''} (from {orig})")
    return lines


def _thread_sections(finding: Finding, color: bool) -> list[str]:
    views = c.threads(finding)
    culprit = [v for v in views if v.name == finding.thread]
    ordered = culprit + [v for v in views if v.name != finding.thread]
    out: list[str] = []
    for v in ordered:
        mark = "  <== reported here" if v.name == finding.thread else ""
        out.append(_paint(f"task {v.name} (tid {v.tid}) {v.state}{mark}", _BOLD, color))
        if v.pending and v.state == "blocked":
            out += _wrap(f"waiting in: {v.pending}", " ")
        elif v.pending and v.state in ("runnable", "acquiring", "running", "not yet run"):
            out += _wrap(f"next: {v.pending}", " ")
        out.append(" Call Trace:")
        if v.stack:
            out += [f"  {c.where(loc)}" for loc in reversed(v.stack)]
        else:
            out.append("  (no model frames)")
        out += _held(v.name, v.held)
        out.append("")
    return out


def _sites(finding: Finding) -> list[str]:
    """KASAN's "Allocated by task" and "Freed by task" blocks, when the engine recorded
    them (use-after-free, double-free)."""
    out: list[str] = []
    for key, title in (("allocated_by", "Allocated by"), ("freed_by", "Freed by")):
        site = finding.extra.get(key)
        if not isinstance(site, dict):
            continue
        step = site.get("step")
        when = f" at step {step}" if step else ""
        out.append(f"{title} task {site.get('task', '?')}{when}:")
        stack = list(site.get("stack") or [])
        out += [f"  {c.where(loc) if hasattr(loc, 'function') else loc}"
                for loc in reversed(stack)] or ["  (no model frames)"]
        out.append("")
    return out


def _held(name: str, held: tuple[str, ...]) -> list[str]:
    if not held:
        return [f"no locks held by {name}."]
    n = len(held)
    return [f"{n} lock{'s' if n != 1 else ''} held by {name}:",
            *(f" #{i}: {desc}" for i, desc in enumerate(held))]


def _lockdep_body(finding: Finding) -> list[str]:
    i = c.focus(finding)
    out: list[str] = []
    if i >= 0:
        step = finding.trace[i]
        wanted = step.op.split(" ", 1)[-1]
        out += [f"{step.thread} is trying to acquire lock:",
                f" {wanted}, at: {c.where(step.location)}", "",
                "but task is already holding lock:",
                *(f" {h}" for h in step.held[-1:]), "",
                "which lock already depends on the new lock.", ""]
    chains = [str(x) for x in finding.extra.get("chains", [])]
    cycle = [str(x) for x in finding.extra.get("cycle", [])]
    if chains:
        out.append("the existing dependency chain (in reverse order) is:")
        for n in range(len(chains) - 1, -1, -1):
            lock = f" ({cycle[(n + 1) % len(cycle)]})" if len(cycle) == len(chains) else ""
            out += ["", f"-> #{n}{lock}:", *_wrap(chains[n], "       ")]
        out.append("")
    if len(cycle) == 2:
        a, b = cycle
        w = max(len(a), len(b)) + 10
        out += [" Possible unsafe locking scenario:", "",
                "       " + "CPU0".ljust(w) + "CPU1", "       " + "----".ljust(w) + "----",
                f"  lock({a});", " " * (7 + w) + f"lock({b});",
                " " * (7 + w) + f"lock({a});", f"  lock({b});", "", " *** DEADLOCK ***"]
    elif cycle:
        out += ["Chain exists of:", "  " + " --> ".join([*cycle, cycle[0]])]
    return out


def _cell(text: str, width: int) -> str:
    if len(text) > width - 1:
        text = text[: max(1, width - 4)] + "..."
    return text.ljust(width)


def _fit(natural: list[int], budget: int) -> list[int]:
    """Column widths within ``budget``: narrow columns keep their width, wide ones share the
    rest equally (water-filling), never below 18."""
    widths = list(natural)
    wide = sorted(range(len(natural)), key=lambda i: natural[i])
    left = budget
    for k, i in enumerate(wide):
        share = max(18, left // (len(wide) - k))
        widths[i] = min(natural[i], share)
        left -= widths[i]
    return widths


def _listing(finding: Finding, color: bool) -> list[str]:
    cols = c.columns(finding)
    if not finding.trace:
        return ["Interleaving: (no steps recorded)"]
    stop = c.focus(finding)
    hidden = sum(1 for k, s in enumerate(finding.trace)
                 if getattr(s, "ghost", False) and k != stop)
    index = {tid: k for k, (tid, _) in enumerate(cols)}
    natural = [max([len(name)] + [len(s.op) for s in finding.trace if s.tid == tid]) + 2
               for tid, name in cols]
    widths = _fit(natural, 92)
    out = [f"Interleaving ({len(finding.trace)} steps, schedule "
           f"{c.schedule_of(finding) or '(default)'}; * = violating step):",
           ("  step  " + "".join(_cell(n, w) for (_, n), w in zip(cols, widths,
                                                                  strict=True))).rstrip(),
           ("  ----  " + "".join(_cell("-" * (w - 2), w) for w in widths)).rstrip()]
    for k, s in enumerate(finding.trace):
        if getattr(s, "ghost", False) and k != stop:
            continue
        if k == _ELIDE_HEAD and len(finding.trace) > _ELIDE_HEAD + _ELIDE_TAIL + 5 \
                and stop >= len(finding.trace) - _ELIDE_TAIL:
            out.append(f"        ... {len(finding.trace) - _ELIDE_HEAD - _ELIDE_TAIL} steps "
                       "not shown (the replay prints them all) ...")
        if _ELIDE_HEAD <= k < len(finding.trace) - _ELIDE_TAIL \
                and len(finding.trace) > _ELIDE_HEAD + _ELIDE_TAIL + 5 \
                and stop >= len(finding.trace) - _ELIDE_TAIL:
            continue
        cells = ["" for _ in cols]
        cells[index[s.tid]] = s.op
        row = "".join(_cell(t, w) for t, w in zip(cells, widths, strict=True)).rstrip()
        mark = "*" if k == stop else " "
        line = f" {mark}{s.index + 1:4d}  {row}"
        out.append(_paint(line, _RED, color) if k == stop else line)
    if stop >= 0:
        s = finding.trace[stop]
        out += _wrap(f"* step {s.index + 1}: {finding.kind}: {s.thread}: {s.op}", "  ")
        out.append(f"    at {c.where(s.location)}")
    if hidden:
        out.append(f"  ({hidden} checker bookkeeping step{'s' if hidden != 1 else ''} "
                   "not shown; the replay prints them)")
    return out


def verdict_line(run: Any, *, color: bool = False) -> str:
    """Two lines: scenario, versions and verdict; then how complete the exploration was."""
    r = run.result
    verdict = run.verdict()
    tone = _RED if verdict == "findings" else "32;1"
    done = "complete" if r.complete else f"INCOMPLETE ({r.stop_reason})"
    what = f"{verdict} ({len(r.findings)}: {c.kinds_text(r.findings)})" if r.findings \
        else verdict
    return (f"{run.scenario} [{c.variants_text(run.variants)}]: {_paint(what, tone, color)}\n"
            f"  {done}, {r.executions} executions ({r.blocked} blocked), {r.mode}, "
            f"{r.seconds:.2f} s")


def render_result(run: Any, *, color: bool = False) -> str:
    """The verdict line of ``run`` and a splat for each of its findings."""
    parts = [verdict_line(run, color=color) + "\n"]
    parts += ["\n" + render_finding(run, f, color=color) for f in run.result.findings]
    return "".join(parts)


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [cell.rjust(w) if i in right else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(r, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out


def render_verdict_table(runs: list[Any], *, color: bool = False) -> str:
    """One aligned row per run: scenario, variants, verdict, complete, executions, kinds."""
    rows = [["SCENARIO", "VARIANTS", "VERDICT", "COMPLETE", "EXECUTIONS", "FINDINGS"]]
    reused = any(getattr(run, "reused_from", None) for run in runs)
    if reused:  # runs not explored: no execution calls a function whose version differs
        rows[0].append("SAME AS")
    for run in runs:
        r = run.result
        rows.append([run.scenario, c.variants_text(run.variants), run.verdict(),
                     "yes" if r.complete else f"no ({r.stop_reason})", str(r.executions),
                     c.kinds_text(r.findings)])
        if reused:
            rows[-1].append(c.variants_text(run.reused_from) if run.reused_from else "")
    lines = _table(rows, {4})
    if color:
        at = lines[0].index("VERDICT")
        for k, run in enumerate(runs, start=1):
            v = run.verdict()
            code = _RED if v == "findings" else "32"
            lines[k] = lines[k][:at] + _paint(v, code, True) + lines[k][at + len(v):]
    return "\n".join(lines) + "\n"


def render_outcomes(run: Any) -> str:
    """The outcome table of ``run``: label, how many executions reached it, a schedule."""
    r = run.result
    total = sum(o.count for o in r.outcomes)
    done = "complete" if r.complete else f"INCOMPLETE ({r.stop_reason})"
    head = (f"Outcomes of {run.scenario} [{c.variants_text(run.variants)}]: "
            f"{len(r.outcomes)} distinct over {total} executions ({done})")
    tail = ""
    if r.findings:
        n = len(r.findings)
        tail = (f"  findings: {n} ({c.kinds_text(r.findings)}); 'vmacheck check "
                f"{run.scenario}' with the same --variant options reports them\n")
    if not r.outcomes:
        return head + "\n  (no outcome labels recorded)\n" + tail
    rows = [["COUNT", "OUTCOME", "SCHEDULE"]]
    rows += [[str(o.count), o.label or "(unlabelled)", o.schedule or "(default)"]
             for o in r.outcomes]
    return (head + "\n" + "\n".join("  " + line for line in _table(rows, {0})) + "\n"
            + tail)


def render_diff(diff: dict[str, Any]) -> str:
    """What one selection of versions can reach and the other cannot."""
    a, b = str(diff.get("a", "A")), str(diff.get("b", "B"))
    title = f"Behaviour diff of {diff['scenario']}" if diff.get("scenario") else "Behaviour diff"
    out = [f"{title}: A = {a}  vs  B = {b}"]
    if diff.get("complete") is False:
        out.append("(exploration incomplete: a difference may be missing)")
    same = True
    for side, lab, key in (("only_a", a, "schedules_a"), ("only_b", b, "schedules_b")):
        part = diff.get(side, {})
        schedules = diff.get(key, {})
        items = [("outcome", str(x)) for x in part.get("outcomes", [])]
        items += [("finding", str(x)) for x in part.get("findings", [])]
        out.append(f"Only under {side[-1].upper()} ({lab}): {len(items) or 'nothing'}")
        for what, text in items:
            same = False
            sched = schedules.get(text)
            tail = f"  [schedule {sched}]" if sched else ""
            out.append(f"  {what}: {text}{tail}")
    if same:
        out.append("no difference in reachable outcomes or findings")
    return "\n".join(out) + "\n"
