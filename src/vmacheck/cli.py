"""The command line: a thin layer over the catalogue, the explorer and the reports.

Exit codes: 0 clean, 1 findings, 2 bad usage, 3 internal error, 130 interrupted (what was
found so far is still printed), 141 output pipe closed by its reader (as a shell's SIGPIPE).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from vmacheck._engine import engine
from vmacheck.cli_support import (
    UsageError,
    check_budgets,
    check_output_paths,
    parse_config,
    selection_from_args,
)
from vmacheck.explore.memory import MEMORY_MODELS, using
from vmacheck.explore.units import SplitError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _global(p: argparse.ArgumentParser) -> None:
    """--debug and --no-color are accepted before or after the command."""
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show a Python traceback on internal errors")
    p.add_argument("--no-color", action="store_true", default=argparse.SUPPRESS,
                   help="never colour the output")


def _common(p: argparse.ArgumentParser, *, budgets: bool = True) -> None:
    _global(p)
    p.add_argument("--variant", action="append", default=[], metavar="FUNCTION@VERSION",
                   help="select a version of a model function (repeatable)")
    p.add_argument("--variant-file", action="append", default=[], metavar="FILE.py",
                   help="load your own versions of model functions from a Python file")
    p.add_argument("--config", action="append", default=[], metavar="NAME=y|n",
                   help="kernel configuration switch, e.g. PER_VMA_LOCK=n (repeatable)")
    p.add_argument("--inject", action="append", default=[], choices=["ENOMEM"],
                   help="make every allocation site a branch that may fail with ENOMEM")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    if budgets:
        p.add_argument("--mode", default="dpor", choices=["dpor", "random", "pct", "bounded"],
                       help="exploration mode (default: dpor, every distinct interleaving)")
        p.add_argument("--seed", type=int, default=0, help="seed for random and pct modes")
        p.add_argument("--max-executions", type=int, default=None, metavar="N",
                       help="executions per run")
        p.add_argument("--max-seconds", type=float, default=None, metavar="S",
                       help="time for the whole command, minimising included")
        p.add_argument("--max-steps", type=int, default=None, metavar="N",
                       help="steps per execution before a step-limit finding")
        p.add_argument("--pct-depth", type=int, default=3, metavar="D")
        p.add_argument("--preemption-bound", type=int, default=2, metavar="K")
        p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                       help="run the runs on N processes (default: the number of CPUs)")
        p.add_argument("--workers", type=int, default=1, metavar="N",
                       help="split each dpor exploration across N processes")
        p.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the work units on a Dask scheduler (tcp://HOST:PORT, or "
                            "'local' for a local cluster of --workers processes)")
        p.add_argument("--checkpoint", metavar="FILE",
                       help="save each dpor run's frontier to FILE.<scenario>-<digest> "
                            "every few seconds, and resume from it")
        p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
        p.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vmacheck", description=(
        "Check Linux mmap_lock / per-VMA lock changes by exploring every interleaving of "
        "small kernel models."))
    parser.add_argument("--debug", action="store_true",
                        help="show a Python traceback on internal errors")
    parser.add_argument("--no-color", action="store_true", help="never colour the output")
    parser.add_argument("--version", action="version",
                        version=f"vmacheck {_version()}, engine {engine()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser("list", help="list scenarios, versioned functions and finding kinds")
    _global(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--variant-file", action="append", default=[], metavar="FILE.py")
    p = sub.add_parser("check", help="explore scenarios and print the verdicts and findings")
    p.add_argument("scenario", nargs="*", metavar="SCENARIO",
                   help="scenario names or globs such as 'binder-*' (default: the whole "
                   "catalogue against every seed version)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print the full report of every finding")
    _common(p)
    p = sub.add_parser("show", help="the full reports of one bug of the last check")
    p.add_argument("bug", metavar="BUG-ID", help="a bug id printed by 'vmacheck check'")
    _global(p)
    p = sub.add_parser("outcomes", help="the reachable end states of a scenario, with counts")
    p.add_argument("scenario")
    _common(p)
    p = sub.add_parser("diff", help="what one selection of versions can do that another cannot")
    p.add_argument("scenario")
    p.add_argument("a", metavar="A", help="comma-separated FUNCTION@VERSION list")
    p.add_argument("b", metavar="B", help="comma-separated FUNCTION@VERSION list")
    _common(p)
    p = sub.add_parser("replay", help="re-run one schedule and print its trace and findings")
    p.add_argument("scenario")
    p.add_argument("--schedule", required=True, help="schedule string, e.g. '0*3,1,0*2'")
    _common(p, budgets=False)
    from vmacheck.cli_litmus import add_parser as add_litmus
    add_litmus(sub)
    for name in ("check", "outcomes", "diff", "replay"):
        sub.choices[name].add_argument("--memory-model", default="sc", choices=MEMORY_MODELS,
                                       help="memory model: sc (default) or weak")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args = build_parser().parse_args(args_list)
        if args.command is None:
            raise UsageError("missing command (choose from list, check, outcomes, diff, "
                             "replay, litmus; see --help)")
        return _dispatch(args)
    except (UsageError, SplitError) as err:
        sys.stdout.flush()
        print(f"vmacheck: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("vmacheck: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as cat does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_BROKEN_PIPE
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else EXIT_USAGE
    except Exception as err:  # an internal error: one line, traceback only with --debug
        if debug:
            traceback.print_exc()
        msg = str(err).splitlines()[0] if str(err) else ""
        print(f"vmacheck: internal error: {type(err).__name__}: {msg} "
              "(run with --debug for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _dispatch(args: argparse.Namespace) -> int:
    from vmacheck import cli_commands as cmd

    color = not args.no_color and sys.stdout.isatty()
    if args.command == "list":
        return cmd.do_list(args)
    if args.command == "litmus":
        from vmacheck.cli_litmus import do_litmus
        return do_litmus(args)
    if args.command == "show":
        return cmd.do_show(args, color)
    with using(getattr(args, "memory_model", "sc")):
        return _run_command(args, color)


def _run_command(args: argparse.Namespace, color: bool) -> int:
    from vmacheck import cli_commands as cmd
    from vmacheck.cli_progress import Progress

    if args.memory_model != "sc" and not args.json:
        print(f"memory model: {args.memory_model} (view-based release/acquire; see README "
              "'Memory models')")
    selection = selection_from_args(args)
    if args.command == "replay":
        return cmd.do_replay(args, selection, color)
    options = _explore_options(args)
    check_output_paths(args)
    progress = Progress(sys.stderr, color=not args.no_color)
    if args.command == "check":
        return cmd.do_check(args, selection, options, progress, color)
    if args.command == "outcomes":
        return cmd.do_outcomes(args, selection, options, progress, color)
    return cmd.do_diff(args, selection, options, progress, color)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vmacheck")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _explore_options(args: argparse.Namespace) -> dict[str, Any]:
    check_budgets(args)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.mode in ("random", "pct") and args.max_executions is None \
            and args.max_seconds is None:
        args.max_executions = 1000
    opts: dict[str, Any] = {"mode": args.mode, "seed": args.seed,
                            "max_executions": args.max_executions,
                            "max_seconds": args.max_seconds,
                            "pct_depth": args.pct_depth,
                            "preemption_bound": args.preemption_bound}
    if args.max_steps is not None:
        opts["max_steps"] = args.max_steps
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if (args.workers != 1 or args.scheduler or args.checkpoint) and args.mode != "dpor":
        raise UsageError("--workers, --scheduler and --checkpoint split a dpor exploration "
                         "(--mode dpor)")
    for name in ("workers", "scheduler", "checkpoint"):
        if getattr(args, name) not in (None, 1):
            opts[name] = getattr(args, name)
    return opts


def dump_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


__all__ = ["main", "parse_config"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
