"""The command line's commands: list, check, outcomes, diff, replay."""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from dataclasses import replace
from typing import Any

from vmacheck.cli import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERRUPTED, dump_json
from vmacheck.cli_last import load_last_check, save_last_check
from vmacheck.cli_progress import Progress
from vmacheck.cli_support import (
    UsageError,
    check_variants_used,
    describe_run,
    load_variant_files,
    parse_selection_list,
    scenario,
    schedule,
    terminal_width,
)
from vmacheck.explore.findings import FINDING_KINDS
from vmacheck.explore.runner import replay
from vmacheck.kernel.variants import REGISTRY, Selection, load_kernel, select
from vmacheck.scenarios.catalogue import SEED_VARIANTS, Scenario, ScenarioRun, all_scenarios
from vmacheck.scenarios.matrix import Plan, behaviour_diff, execute, seed_matrix


def do_list(args: argparse.Namespace) -> int:
    from vmacheck.cli_support import CONFIG_SWITCHES
    from vmacheck.report.listing import public_text, version_summary

    load_kernel()
    load_variant_files(args.variant_file)
    scenarios = all_scenarios()
    functions: dict[str, dict[str, Any]] = {
        name: {"default": k.default, "seed": list(SEED_VARIANTS.get(name, ())),
               "versions": {v: version_summary(k, v) for v in sorted(k.versions)},
               "follows": {"function": k.follows, "file": k.source},
               "model": f"{k.module}.{getattr(k, '__name__', name)}",
               "replaceable": True}
        for name, k in sorted(REGISTRY.items())}
    if args.json:
        dump_json({"scenarios": [{"name": s.name, "group": s.group,
                                  "summary": public_text(s.summary),
                                  "functions": list(s.functions), "config": s.config}
                                 for s in scenarios],
                   "functions": functions, "config": CONFIG_SWITCHES,
                   "finding_kinds": FINDING_KINDS})
        return EXIT_CLEAN
    out = sys.stdout
    out.write("Scenarios:\n")
    width = max((len(s.name) for s in scenarios), default=10)
    for s in scenarios:
        out.write(f"  {s.name.ljust(width)}  {public_text(s.summary)}\n")
    out.write("\nReplaceable functions (function@version; --variant F@V selects a version, "
              "--variant-file adds yours;\n* = seed version, every combination checked; "
              "others: historic versions, run once each):\n")
    for name, info in functions.items():
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
    out.write("\nConfiguration switches (--config NAME=y|n):\n")
    for name, meaning in CONFIG_SWITCHES.items():
        out.write(f"  {name.ljust(16)}  {meaning}\n")
    out.write("\nFinding kinds:\n")
    for kind, meaning in FINDING_KINDS.items():
        out.write(f"  {kind.ljust(16)}  {meaning}\n")
    return EXIT_CLEAN


def _plan_label(plan: Plan) -> str:
    from vmacheck.kernel.variants import REGISTRY

    picked = [f"{k}@{v}" for k, v in sorted(plan.variants.items())
              if k not in REGISTRY or REGISTRY[k].default != v]
    return plan.scenario.name + (f" [{', '.join(picked)}]" if picked else "")


def _run_plans(plans: list[Plan], options: dict[str, Any], progress: Progress,
               variant_files: tuple[str, ...] = (),
               jobs: int | None = None) -> tuple[list[ScenarioRun], bool]:
    """Run every plan; returns the runs made and whether Ctrl-C stopped them.  Without a
    time budget the plans run on ``jobs`` processes (default: the CPU count), reusing results
    where versions cannot matter (:mod:`vmacheck.scenarios.batch`).  With
    ``options["max_seconds"]`` the budget bounds them all together: they run one after
    another, each with a fair share of what is left, minimising included."""
    from vmacheck.scenarios.batch import default_jobs, run_plans

    opts = dict(options)
    total = opts.pop("max_seconds", None)
    runs: list[ScenarioRun] = []
    if total is None:
        progress.begin(len(plans), None)

        def start(plan: Plan) -> None:
            progress.start(_plan_label(plan), opts.get("max_executions"))

        def done(run: ScenarioRun) -> None:
            progress.done(describe_run(run))

        try:
            runs, interrupted = run_plans(plans, opts,
                                          jobs=default_jobs() if jobs is None else jobs,
                                          on_start=start, on_done=done, on_progress=progress)
        finally:
            progress.close()
        if variant_files:
            runs = [replace(run, variant_files=variant_files) for run in runs]
        return runs, interrupted
    deadline = time.monotonic() + float(total)
    progress.begin(len(plans), deadline)
    try:
        for k, plan in enumerate(plans):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            opts["max_seconds"] = left / (len(plans) - k)
            progress.start(_plan_label(plan), opts.get("max_executions"))
            with select(Selection(plan.variants, plan.config)):
                run = execute(plan, on_progress=progress, **opts)
            if variant_files:
                run = replace(run, variant_files=variant_files)
            progress.done(describe_run(run))
            runs.append(run)
            if run.result.stop_reason == "interrupted":
                return runs, True
    except KeyboardInterrupt:
        return runs, True
    finally:
        progress.close()
    return runs, False


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

        write_sarif(args.sarif, runs, interrupted=extra.get("interrupted", False))


def _exit(runs: list[ScenarioRun], interrupted: bool) -> int:
    from vmacheck.report.summary import exit_status

    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FINDINGS if exit_status(runs) else EXIT_CLEAN


def _scenarios(names: list[str]) -> list[Scenario]:
    """Scenarios named on the command line (names or globs), in the order given."""
    if not names:
        return all_scenarios()
    known = all_scenarios()
    chosen: list[Scenario] = []
    for name in names:
        if any(ch in name for ch in "*?["):
            hits = [s for s in known if fnmatch.fnmatchcase(s.name, name)]
            if not hits:
                raise UsageError(f"no scenario matches {name!r} (see 'vmacheck list')")
        else:
            hits = [scenario(name)]
        chosen += [s for s in hits if s not in chosen]
    return chosen


def _check_plans(args: argparse.Namespace, selection: Selection) -> list[Plan]:
    scenarios = _scenarios(args.scenario)
    if args.scenario:
        check_variants_used(scenarios, selection.variants)
    fixed = dict(selection.variants)
    plans = seed_matrix(scenarios, fixed, selection.config)
    file_versions = [v.split("@", 1) for v in getattr(args, "file_versions", [])]
    if file_versions and not args.variant:
        # --variant-file alone: each version the file defines, once per scenario calling it
        plans = [Plan(p.scenario, {**p.variants, fn: v}, p.config) for p in
                 seed_matrix(scenarios, fixed, selection.config, historic=False)
                 for fn, v in file_versions if fn in p.scenario.functions or args.scenario]
        if not plans:
            raise UsageError("--variant-file: no chosen scenario exercises "
                             + ", ".join(f"{fn}@{v}" for fn, v in file_versions)
                             + "; name a scenario or add --variant")
    return plans


def do_check(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
             progress: Progress, color: bool) -> int:
    plans = _check_plans(args, selection)
    started = time.monotonic()
    runs, interrupted = _run_plans(plans, options, progress, tuple(args.variant_file),
                                   args.jobs)
    seconds = time.monotonic() - started
    if not args.scenario and selection.variants:
        # a version of a function a scenario never calls cannot change its verdict
        runs = _calling(runs, set(selection.variants))
    from vmacheck.report.compact import render_check
    from vmacheck.report.jsonout import to_json
    from vmacheck.report.text import render_result

    _write_files(args, runs, interrupted=interrupted)
    save_last_check(runs, options)
    if args.json:
        dump_json(to_json(runs))
        return _exit(runs, interrupted)
    out = sys.stdout
    width = terminal_width(out)
    out.write(render_check(runs, width=width, color=color, seconds=seconds,
                           interrupted=interrupted, verbose=args.verbose,
                           not_run=len(plans) - len(runs)))
    if args.verbose:
        for run in runs:
            if run.result.findings:
                out.write("\n" + render_result(run, color=color))
    if interrupted:
        out.write("\nvmacheck: interrupted: the results above are incomplete\n")
    out.flush()
    return _exit(runs, interrupted)


def do_show(args: argparse.Namespace, color: bool) -> int:
    """Re-run the runs of the last check where bug ``args.bug`` appeared; print its splats."""
    from vmacheck.report.summary import bug_id
    from vmacheck.report.text import render_finding

    entry, options = load_last_check(args.bug)
    load_variant_files(list(entry.get("variant_files", [])))
    shown = 0
    out = sys.stdout
    for where in entry["runs"]:
        plan = Plan(scenario(where["scenario"]), dict(where["variants"]),
                    {k: bool(v) for k, v in where["config"].items()})
        budget = {"max_seconds": where["max_seconds"]} if "max_seconds" in where else {}
        with select(Selection(plan.variants, plan.config)):
            run = execute(plan, **options, **budget)
        run = replace(run, variant_files=tuple(entry.get("variant_files", [])))
        for f in run.result.findings:
            if bug_id(f) == args.bug:
                out.write(render_finding(run, f, color=color) + "\n")
                shown += 1
    if not shown:
        out.write(f"{args.bug}: not reproduced by re-running its runs (the models or "
                  "versions changed since the check)\n")
        return EXIT_CLEAN
    return EXIT_FINDINGS


def do_outcomes(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
                progress: Progress, color: bool) -> int:
    s = scenario(args.scenario)
    plans = seed_matrix([s], selection.variants, selection.config, historic=False)
    runs, interrupted = _run_plans(plans, options, progress, tuple(args.variant_file),
                                   args.jobs)
    from vmacheck.report.jsonout import to_json
    from vmacheck.report.text import render_outcomes

    _write_files(args, runs, outcomes=runs)
    if args.json:
        dump_json(to_json(runs))
        return _exit(runs, interrupted)
    for run in runs:
        sys.stdout.write(render_outcomes(run) + "\n")
    return _exit(runs, interrupted)


def do_diff(args: argparse.Namespace, selection: Selection, options: dict[str, Any],
            progress: Progress, color: bool) -> int:
    s = scenario(args.scenario)
    a = parse_selection_list(args.a)
    b = parse_selection_list(args.b)
    from vmacheck.report.text import render_diff

    plan_a = Plan(s, {**selection.variants, **a}, {**s.config, **selection.config})
    plan_b = Plan(s, {**selection.variants, **b}, {**s.config, **selection.config})
    runs, interrupted = _run_plans([plan_a, plan_b], options, progress,
                                   tuple(args.variant_file), args.jobs)
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
        where = f" at {f.location}" if f.location and f.thread else ""
        who = f.thread or "end of execution"
        out.write(f"{f.kind}: {f.message} [{who}{where}, step {f.step + 1}]\n")
    if rep.outcome:
        out.write(f"outcome: {rep.outcome}\n")
    if not rep.findings:
        out.write("no findings\n")
    return EXIT_FINDINGS if rep.findings else EXIT_CLEAN
