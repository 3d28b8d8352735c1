"""The command line's commands: list, check, outcomes, diff, replay."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vmacheck.cli import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERRUPTED, dump_json
from vmacheck.cli_support import (
    Progress,
    UsageError,
    describe_run,
    load_variant_files,
    parse_selection_list,
    scenario,
    schedule,
)
from vmacheck.explore.findings import FINDING_KINDS
from vmacheck.explore.runner import replay
from vmacheck.kernel.variants import REGISTRY, Selection, load_kernel, select
from vmacheck.scenarios.catalogue import SEED_VARIANTS, ScenarioRun, all_scenarios
from vmacheck.scenarios.matrix import Plan, behaviour_diff, seed_matrix


def do_list(args: argparse.Namespace) -> int:
    load_kernel()
    load_variant_files(args.variant_file)
    scenarios = all_scenarios()
    functions: dict[str, dict[str, Any]] = {
        name: {"default": k.default, "seed": list(SEED_VARIANTS.get(name, ())),
               "versions": {v: k.docs.get(v, "") for v in sorted(k.versions)},
               "follows": {"function": k.follows, "file": k.source},
               "model": f"{k.module}.{name}", "replaceable": True}
        for name, k in sorted(REGISTRY.items())}
    if args.json:
        dump_json({"scenarios": [{"name": s.name, "group": s.group, "summary": s.summary,
                                  "functions": list(s.functions), "config": s.config}
                                 for s in scenarios],
                   "functions": functions, "finding_kinds": FINDING_KINDS})
        return EXIT_CLEAN
    out = sys.stdout
    out.write("Scenarios:\n")
    width = max((len(s.name) for s in scenarios), default=10)
    for s in scenarios:
        out.write(f"  {s.name.ljust(width)}  {s.summary}\n")
    out.write("\nVersioned functions (function@version; * = seed version, all combinations "
              "checked;\nunstarred: historic versions, run once each):\n")
    for name, info in functions.items():
        if len(info["versions"]) < 2 and not info["seed"]:
            continue
        for v, doc in info["versions"].items():
            star = "*" if v in info["seed"] else " "
            dflt = " (default)" if v == info["default"] else ""
            out.write(f"  {star} {name}@{v}{dflt}  {doc}\n")
    out.write(f"\nReplaceable model functions ({len(functions)}; each can be replaced from a "
              "variant file:\n@variant(\"function\", \"version\")), with the kernel file and "
              "function each follows:\n")
    width = max((len(n) for n in functions), default=10)
    for name, info in functions.items():
        follows = info["follows"]
        out.write(f"  {name.ljust(width)}  {follows['file']}: {follows['function']}\n")
    out.write("\nFinding kinds:\n")
    for kind, meaning in FINDING_KINDS.items():
        out.write(f"  {kind.ljust(16)}  {meaning}\n")
    return EXIT_CLEAN


def _run_plans(plans: list[Plan], options: dict[str, Any], progress: Progress,
               jobs: int | None = None) -> tuple[list[ScenarioRun], bool]:
    from vmacheck.scenarios.batch import default_jobs, run_plans

    def start(plan: Plan) -> None:
        label = plan.scenario.name + "".join(f" {k}@{v}" for k, v in
                                              sorted(plan.variants.items()))
        progress.start(label, options.get("max_executions"))

    def done(run: ScenarioRun) -> None:
        progress.done(describe_run(run))

    return run_plans(plans, options, jobs=default_jobs() if jobs is None else jobs,
                     on_start=start, on_done=done, on_progress=progress)


def _calling(runs: list[ScenarioRun], functions: set[str]) -> list[ScenarioRun]:
    """The runs of the scenarios in which some execution calls one of ``functions``."""
    keep = {r.scenario for r in runs if r.called & functions}
    return [r for r in runs if r.scenario in keep]


def _write_files(args: argparse.Namespace, runs: list[ScenarioRun], **extra: Any) -> None:
    if getattr(args, "html", None):
        from vmacheck.report.html import write_html

        write_html(args.html, runs, **extra)
    if getattr(args, "sarif", None):
        from vmacheck.report.sarif import write_sarif

        write_sarif(args.sarif, runs)


def _exit(runs: list[ScenarioRun], interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FINDINGS if any(r.result.findings for r in runs) else EXIT_CLEAN


def do_check(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
             progress: Progress, color: bool) -> int:
    scenarios = [scenario(args.scenario)] if args.scenario else all_scenarios()
    plans = seed_matrix(scenarios, selection.variants, selection.config)
    runs, interrupted = _run_plans(plans, options, progress, args.jobs)
    skipped = 0
    if not args.scenario and selection.variants:
        # a version of a function a scenario never calls cannot change its verdict
        kept = _calling(runs, set(selection.variants))
        skipped = len({r.scenario for r in runs}) - len({r.scenario for r in kept})
        runs = kept
    from vmacheck.report.jsonout import to_json
    from vmacheck.report.text import render_result, render_verdict_table

    _write_files(args, runs)
    if args.json:
        dump_json(to_json(runs))
        return _exit(runs, interrupted)
    out = sys.stdout
    if skipped:
        out.write(f"({skipped} scenarios left out: no execution calls "
                  f"{', '.join(sorted(selection.variants))})\n")
    out.write(render_verdict_table(runs, color=color))
    for run in runs:
        if run.result.findings:
            out.write("\n" + render_result(run, color=color))
    if interrupted:
        out.write("\nvmacheck: interrupted: the results above are incomplete\n")
    return _exit(runs, interrupted)


def do_outcomes(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
                progress: Progress, color: bool) -> int:
    s = scenario(args.scenario)
    plans = seed_matrix([s], selection.variants, selection.config, historic=False)
    runs, interrupted = _run_plans(plans, options, progress, args.jobs)
    from vmacheck.report.jsonout import to_json
    from vmacheck.report.text import render_outcomes

    _write_files(args, runs, outcomes=runs)
    if args.json:
        dump_json(to_json(runs))
        return _exit(runs, interrupted)
    for run in runs:
        sys.stdout.write(render_outcomes(run) + "\n")
    return EXIT_INTERRUPTED if interrupted else EXIT_CLEAN


def do_diff(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
            progress: Progress, color: bool) -> int:
    s = scenario(args.scenario)
    a = parse_selection_list(args.a)
    b = parse_selection_list(args.b)
    from vmacheck.report.text import render_diff

    plan_a = Plan(s, {**selection.variants, **a}, {**s.config, **selection.config})
    plan_b = Plan(s, {**selection.variants, **b}, {**s.config, **selection.config})
    runs, interrupted = _run_plans([plan_a, plan_b], options, progress, args.jobs)
    if len(runs) < 2:
        sys.stdout.write("vmacheck: interrupted before both sides ran\n")
        return EXIT_INTERRUPTED
    diff = behaviour_diff(runs[0], runs[1], args.a, args.b)
    _write_files(args, runs, diffs=[diff])
    if args.json:
        dump_json(diff)
    else:
        sys.stdout.write(render_diff(diff) + "\n")
    if interrupted:
        return EXIT_INTERRUPTED
    differs = any(diff[side][k] for side in ("only_a", "only_b") for k in ("outcomes",
                                                                             "findings"))
    return EXIT_FINDINGS if differs else EXIT_CLEAN


def do_replay(args: argparse.Namespace, selection: Selection, color: bool) -> int:
    s = scenario(args.scenario)
    schedule(args.schedule)  # a malformed schedule is a usage error before anything runs
    sel = Selection(selection.variants, {**s.config, **selection.config})
    from vmacheck.explore.schedule import ScheduleError

    with select(sel):
        try:
            rep = replay(s.build, args.schedule, max_steps=s.max_steps)
        except ScheduleError as err:
            raise UsageError(f"--schedule: {err}") from None
    if args.json:
        dump_json({
            "scenario": s.name, "schedule": rep.schedule, "outcome": rep.outcome,
            "threads": list(rep.threads),
            "findings": [{"kind": f.kind, "message": f.message, "thread": f.thread,
                          "step": f.step,
                          "location": None if f.location is None else
                          {"function": f.location.function, "file": f.location.file,
                           "line": f.location.line}} for f in rep.findings],
            "trace": [{"index": t.index, "thread": t.thread, "op": t.op, "object": t.obj,
                       "location": str(t.location) if t.location else None}
                      for t in rep.trace]})
        return EXIT_FINDINGS if rep.findings else EXIT_CLEAN
    out = sys.stdout
    out.write(f"replay of {s.name} with schedule {rep.schedule}\n")
    for t in rep.trace:
        out.write(f"  {t.index + 1:4d}  {t.thread:<18} {t.op:<40} {t.location or ''}\n")
    for f in rep.findings:
        where = f" at {f.location}" if f.location else ""
        out.write(f"{f.kind}: {f.message} [{f.thread}{where}, step {f.step + 1}]\n")
    if rep.outcome:
        out.write(f"outcome: {rep.outcome}\n")
    if not rep.findings:
        out.write("no findings\n")
    return EXIT_FINDINGS if rep.findings else EXIT_CLEAN
