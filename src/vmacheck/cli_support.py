"""Helpers of the command line: argument checking, selections, live progress."""

from __future__ import annotations

import argparse
import difflib
import math
import os
from typing import Any

from vmacheck.explore.api import explore
from vmacheck.explore.schedule import ScheduleError, parse_schedule
from vmacheck.kernel.variants import Selection, VariantError, load_variant_file, parse_variant
from vmacheck.scenarios.catalogue import Scenario, ScenarioError, get, load_all


class UsageError(Exception):
    """Bad input from the user: one line on stderr, exit code 2."""


CONFIG_SWITCHES: dict[str, str] = {
    "PER_VMA_LOCK": "CONFIG_PER_VMA_LOCK before the series (mm/Kconfig): per-VMA locks are "
                    "built; default y",
    "SERIES_APPLIED": "Dave Hansen's 'mm: Unconditional per-VMA locks and cleanups' applied: "
                      "per-VMA locks always built, CONFIG_PER_VMA_LOCK gone; default n "
                      "(y in the scenarios of its wait helper)",
    "VMA_FREE_RCU": "VMAs freed through call_rcu after their last use (6.4-6.14) instead of "
                    "at once into the SLAB_TYPESAFE_BY_RCU cache (6.15+); default n",
    "FATAL_SIGNALS": "a fatal signal may arrive while a task sleeps in a *_killable lock, "
                     "which then returns -EINTR (an explored branch); default n",
    "INJECT_ENOMEM": "every allocation site may fail with -ENOMEM (an explored branch; "
                     "also --inject ENOMEM); default n",
}
"""The kernel configuration switches the models read (``--config NAME=y|n``)."""


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else f"; valid: {', '.join(known)}"


def parse_config(items: list[str]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name or value.lower() not in ("y", "n", "yes", "no", "1", "0",
                                                        "true", "false", "on", "off"):
            raise UsageError(f"--config {item!r}: expected NAME=y or NAME=n")
        key = name.upper().removeprefix("CONFIG_")
        if key not in CONFIG_SWITCHES:
            raise UsageError(f"--config {item!r}: unknown switch {key}"
                             f"{_close(key, sorted(CONFIG_SWITCHES))}")
        out[key] = value.lower() in ("y", "yes", "1", "true", "on")
    return out


def check_budgets(args: argparse.Namespace) -> None:
    """Budgets must be finite and positive (one line, exit 2, otherwise)."""
    for opt, value, least in (("--max-executions", args.max_executions, 1),
                              ("--max-steps", args.max_steps, 1),
                              ("--pct-depth", args.pct_depth, 1),
                              ("--preemption-bound", args.preemption_bound, 0)):
        if value is not None and value < least:
            raise UsageError(f"{opt} must be at least {least} (got {value})")
    sec = args.max_seconds
    if sec is not None and (not math.isfinite(sec) or sec <= 0):
        raise UsageError(f"--max-seconds must be a positive number of seconds (got {sec})")


def check_output_paths(args: argparse.Namespace) -> None:
    """``--html`` and ``--sarif`` files must be writable, checked before exploring."""
    for opt in ("html", "sarif"):
        path = getattr(args, opt, None)
        if path is None:
            continue
        where = f"--{opt} {path!r}"
        if not path:
            raise UsageError(f"{where}: empty file name")
        if os.path.isdir(path):
            raise UsageError(f"{where}: is a directory")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise UsageError(f"{where}: directory {parent!r} does not exist")
        if not os.access(parent, os.W_OK) or (os.path.exists(path)
                                              and not os.access(path, os.W_OK)):
            raise UsageError(f"{where}: not writable")


def load_variant_files(paths: list[str]) -> list[str]:
    """Load the user's variant files; the ``function@version`` ids they define.  A file may
    not replace a version vmacheck ships (it is put back and the user is told)."""
    from vmacheck.kernel.variants import REGISTRY

    loaded: list[str] = []
    for path in paths:
        before = {(n, v): f for n, k in REGISTRY.items() for v, f in k.versions.items()}
        try:
            new = load_variant_file(path)
        except VariantError as err:
            raise UsageError(str(err)) from None
        clash = sorted(f"{n}@{v}" for (n, v), f in before.items()
                       if REGISTRY[n].versions.get(v) is not f
                       and getattr(f, "__module__", "").startswith("vmacheck."))
        for (n, v), f in before.items():
            if getattr(f, "__module__", "").startswith("vmacheck."):
                REGISTRY[n].versions[v] = f
        if clash:
            raise UsageError(f"{path}: redefines the built-in version {clash[0]}; give "
                             "your version another name")
        loaded += new
    return loaded


def check_variants_used(scenarios: list[Scenario], variants: dict[str, str]) -> None:
    """Every --variant must name a function the chosen scenarios call.

    The scenarios' declared functions are taken as called; for the others, a short
    exploration (at most 300 executions) counts the calls of the selected version; if it
    is complete and none called it, the variant would change nothing: a user error.
    """
    from vmacheck.kernel.variants import REGISTRY, select

    declared = {f for s in scenarios for f in s.functions}
    for fn, version in variants.items():
        if fn in declared:
            continue
        k = REGISTRY[fn]
        original = k.versions[version]
        calls = [0]

        def counting(*a: Any, _orig: Any = original, _calls: list[int] = calls,
                     **kw: Any) -> Any:
            _calls[0] += 1
            return _orig(*a, **kw)

        k.versions[version] = counting
        complete = True
        try:
            for s in scenarios:
                with select(Selection(dict(variants), dict(s.config))):
                    res = explore(s.build, max_executions=300, max_steps=s.max_steps,
                                  max_seconds=2.0, minimise=False)
                complete = complete and res.complete
                if calls[0]:
                    break
        finally:
            k.versions[version] = original
        if not calls[0] and complete:
            names = ", ".join(s.name for s in scenarios)
            raise UsageError(f"--variant {fn}@{version}: {names} never calls {fn}")


def terminal_width(stream: Any) -> int:
    """The width reports are laid out for: the terminal's, else $COLUMNS, else 100."""
    import shutil

    if hasattr(stream, "isatty") and stream.isatty():
        return max(shutil.get_terminal_size((100, 24)).columns, 40)
    try:
        return max(int(os.environ.get("COLUMNS", "")), 40)
    except ValueError:
        return 100


def selection_from_args(args: argparse.Namespace) -> Selection:
    """The versions and switches chosen with --variant and --config.  A --variant-file given
    without --variant selects the versions the file defines (one run each)."""
    load_all()
    args.file_versions = load_variant_files(args.variant_file)
    variants: dict[str, str] = {}
    for text in args.variant:
        for part in text.split(","):
            fn, version = variant_arg(part.strip())
            if fn in variants and variants[fn] != version:
                raise UsageError(f"--variant: two versions of {fn} ({fn}@{variants[fn]} and "
                                 f"{fn}@{version}); give one")
            variants[fn] = version
    config = parse_config(args.config)
    if "ENOMEM" in getattr(args, "inject", []):
        config["INJECT_ENOMEM"] = True
    return Selection(variants, config)


def variant_arg(text: str) -> tuple[str, str]:
    """``function@version`` from the command line; an unknown version lists the valid ones."""
    from vmacheck.kernel.variants import REGISTRY

    try:
        return parse_variant(text)
    except VariantError as err:
        fn = text.partition("@")[0]
        valid = f" (versions of {fn}: {', '.join(sorted(REGISTRY[fn].versions))})" \
            if fn in REGISTRY and str(err).startswith("unknown version") else ""
        raise UsageError(f"{err}{valid}") from None


def parse_selection_list(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        fn, version = variant_arg(part.strip())
        out[fn] = version
    return out


def scenario(name: str) -> Scenario:
    try:
        return get(name)
    except ScenarioError as err:
        raise UsageError(str(err)) from None


def schedule(text: str) -> list[int]:
    if not text.strip():
        raise UsageError("--schedule: empty schedule (give thread ids, e.g. '0*3,1,0*2')")
    try:
        return parse_schedule(text)
    except ScheduleError as err:
        raise UsageError(f"--schedule: {err}") from None


def describe_run(run: Any) -> str:
    r = run.result
    variants = ", ".join(f"{k}@{v}" for k, v in sorted(run.variants.items())) or "defaults"
    state = "complete" if r.complete else f"incomplete ({r.stop_reason})"
    return (f"{run.scenario} [{variants}]: {run.state()}, {r.executions} executions, "
            f"{r.seconds:.2f}s, {state}")
