"""The default output of ``vmacheck check``: a verdict matrix and one entry per distinct bug.

Rendered with ``rich`` to the terminal's width: the scenarios with new findings (and the
selections of versions that fail, with the bugs they hit), the scenarios with only expected
findings and the clean ones in a line each, then every distinct new bug once (kind, violating
function and line, message, where it appears, the shortest replay), then the expected ones
with their reasons, and expected findings that no longer appear.  Full splats come from
``vmacheck show BUG-ID``, ``check -v`` or ``--html``.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from vmacheck.report import summary as s


def console(width: int, color: bool, file: Any = None) -> Console:
    """A rich console writing plain text (or ANSI colour when ``color``) at ``width``."""
    return Console(file=file if file is not None else io.StringIO(), width=width,
                   color_system="standard" if color else None, force_terminal=color,
                   no_color=not color, highlight=False, emoji=False, soft_wrap=False,
                   legacy_windows=False)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _names(items: list[str], limit: int) -> str:
    shown = items[:limit]
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(shown) + more


def headline(runs: list[Any], bugs: list[s.Bug], seconds: float | None,
             interrupted: bool, not_run: int = 0) -> Text:
    """The first line: what ran, how long, how many bugs, whether everything completed."""
    scenarios = len({r.scenario for r in runs})
    new = sum(1 for b in bugs if not b.expected)
    expected = sum(1 for b in bugs if b.expected)
    cut = sum(1 for r in runs if not r.result.complete)
    took = f" in {_duration(seconds)}" if seconds is not None else ""
    text = Text(f"vmacheck: {len(runs)} run{'s' if len(runs) != 1 else ''} of {scenarios} "
                f"scenario{'s' if scenarios != 1 else ''}{took}: ")
    text.append(f"{new} new bug{'s' if new != 1 else ''}", style="bold red" if new else
                "bold green")
    text.append(f", {expected} expected")
    if interrupted:
        text.append("; INTERRUPTED, results incomplete", style="bold yellow")
    elif cut:
        text.append(f"; {cut} run{'s' if cut != 1 else ''} incomplete (budget)",
                    style="yellow")
    else:
        text.append("; every run complete")
    if not_run:
        text.append(f"; {not_run} run{'s' if not_run != 1 else ''} not started (time budget)",
                    style="yellow")
    return text


def _matrix(runs: list[Any], bugs: list[s.Bug], width: int, verbose: bool) -> list[Any]:
    out: list[Any] = []
    rows = s.culprits(runs, bugs)
    if rows:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold",
                      padding=(0, 1), expand=True)
        table.add_column("VERSIONS WITH NEW BUGS", overflow="fold", ratio=1)
        table.add_column("SCENARIOS", justify="right", no_wrap=True)
        table.add_column("BUGS", overflow="fold", width=21)  # two ids a row
        for row in rows:
            table.add_row(Text(row.versions, style="red"), str(len(row.scenarios)),
                          " ".join(row.bugs))
        out.append(table)
    states = s.scenario_states(runs)
    keys = ("new", "expected", "clean", "incomplete") if verbose or not rows else \
        ("expected", "clean", "incomplete")  # the matrix shows where the new bugs are
    for key, label, style in (("new", "Scenarios with new bugs", "bold red"),
                              ("expected", "With expected findings only", "bold"),
                              ("clean", "Clean (complete)", "bold green"),
                              ("incomplete", "No findings, incomplete", "bold yellow")):
        names = states[key]
        if names and key in keys:
            out.append(_line(Text.assemble((f"{label} ({len(names)}): ", style),
                                           ", ".join(names)), verbose))
    return out


def _is_command(line: Any) -> bool:
    """Replay commands are printed whole (the terminal wraps them; pasting still works)."""
    return isinstance(line, Text) and line.plain.startswith("  vmacheck ")


def _first_line(message: str) -> str:
    from vmacheck.report.listing import public_text

    text = message.splitlines()[0].removeprefix("invariant violated: ") if message else ""
    return public_text(text)


def _indent(text: Text) -> Padding:
    return Padding(text, (0, 0, 0, 2))


class _Cut:
    """A renderable printed on one terminal row, cut with an ellipsis."""

    def __init__(self, item: Any) -> None:
        self.item = item


def _line(text: Any, verbose: bool) -> Any:
    """One terminal row (cut with an ellipsis), or wrapped in full with ``-v``."""
    return text if verbose else _Cut(text)


def _emit(con: Console, item: Any) -> None:
    if isinstance(item, _Cut):
        con.print(item.item, no_wrap=True, overflow="ellipsis")
    else:
        con.print(item, soft_wrap=_is_command(item))


def _bug_entry(bug: s.Bug, verbose: bool) -> list[Any]:
    """Three lines: id, kind, where and message; occurrences and file; the replay."""
    n_runs = bug.runs()
    scen = bug.scenarios()
    head = Text.assemble((bug.bug_id, "bold"), " ",
                         (bug.kind, "yellow" if bug.expected else "bold red"),
                         f" {_where_fn(bug)}: {_first_line(bug.message)}")
    loc = bug.where.rsplit(" (", 1)[1].rstrip(")") if " (" in bug.where else ""
    count = (f"{n_runs} run{'s' if n_runs != 1 else ''} ({bug.executions()} executions) in "
             f"{len(scen)} scenario{'s' if len(scen) != 1 else ''}")
    if verbose:
        places = "; ".join(dict.fromkeys(f"{r.scenario} [{s.selection_text(r)}]"
                                         for r, _ in bug.occurrences))
    else:
        places = _names(scen, 2)
    where = Text((f"{loc}; " if loc else "") + f"{count}: {places}")
    lines: list[Any] = [_line(head, verbose), _line(_indent(where), verbose)]
    if bug.expected:
        lines.append(_line(_indent(Text("expected: " + bug.expected_reason, style="dim")),
                           verbose))
    return lines


def _replay_groups(bugs: list[s.Bug]) -> list[tuple[list[s.Bug], str]]:
    """Bugs whose shortest replays are the same command, each group with that command (one
    interleaving shows them all), in the order of their first bug."""
    groups: dict[str, list[s.Bug]] = {}
    for bug in bugs:
        groups.setdefault(s.short_replay(*bug.shortest()), []).append(bug)
    return [(members, cmd) for cmd, members in groups.items()]


def _print_bugs(con: Console, bugs: list[s.Bug], verbose: bool) -> None:
    for members, cmd in _replay_groups(bugs):
        for bug in members:
            for line in _bug_entry(bug, verbose):
                _emit(con, line)
        _emit(con, Text("  " + cmd, style="cyan"))


def _where_fn(bug: s.Bug) -> str:
    """``in function`` or ``at end of execution`` (the file and line go on the next line)."""
    return bug.where.split(" (", 1)[0]


def render_check(runs: list[Any], *, width: int = 100, color: bool = False,
                 seconds: float | None = None, interrupted: bool = False,
                 verbose: bool = False, not_run: int = 0) -> str:
    """The compact report of a check (see the module docstring)."""
    bugs = s.group_bugs(runs)
    buffer = io.StringIO()
    con = console(width, color, buffer)
    con.print(headline(runs, bugs, seconds, interrupted, not_run))
    configs = sorted({s.config_line(r) for r in runs if s.config_chosen(r)})
    if configs:
        _emit(con, _line(Text("Configuration: " + " | ".join(c or "defaults" for c in configs),
                              style="dim"), verbose))
    con.print()
    for item in _matrix(runs, bugs, width, verbose):
        _emit(con, item)
    new = [b for b in bugs if not b.expected]
    expected = [b for b in bugs if b.expected]
    if new:
        con.print()
        con.print(Text(f"New bugs ({len(new)}):", style="bold red"))
        _print_bugs(con, new, verbose)
    if expected:
        con.print()
        con.print(Text(f"Expected findings ({len(expected)}, not failures):", style="bold"))
        if verbose:
            _print_bugs(con, expected, verbose)
        for bug in expected if not verbose else ():
            n = bug.runs()
            _emit(con, _line(Text.assemble((bug.bug_id, "bold"), f" {bug.kind} ×{n}: ",
                                           (bug.expected_reason, "dim")), verbose))
    missing = s.missing_expected(runs)
    if missing:
        con.print()
        con.print(Text(f"Expected but no longer found ({len(missing)}):", style="bold red"))
        for run, e in missing:
            con.print(_indent(Text(f"{run.scenario} [{s.selection_text(run)}]: "
                                   f"{e.describe()}")))
    if bugs:
        con.print()
        con.print(Text("Full reports: vmacheck show BUG-ID (same arguments), check -v, "
                       "--html FILE", style="dim"))
    out = buffer.getvalue()
    return "\n".join(line.rstrip() for line in out.split("\n"))
