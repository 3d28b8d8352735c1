"""Exhaustive DPOR over every catalogue scenario: executions, steps, seconds, verdict.

    python benchmarks/kernel_scenarios.py [--group mm] [--match mm-ops-] [--only NAME ...]
                                          [--new] [--json]

One row per scenario under its default versions and configuration (the kernel as it is), and
one per non-default seed version of each versioned function it exercises (e.g. the historic
bugs with their fix removed).  The verdict is ``clean`` or the sorted finding kinds.
``seconds`` is wall time, ``cpu`` the process CPU time (what one core spends; the machine may
be shared).  ``--new`` runs the scenarios added for issue 8 (listed in ``NEW_SCENARIOS``; all
exhaustive DPOR, none bounded, each under 60 s of CPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vmacheck.kernel.variants import REGISTRY
from vmacheck.scenarios import catalogue

NEW_SCENARIOS = (
    "mm-vma-reused-by-other-mm",
    "mm-rcu-prelock-read-vs-munmap",
    "mm-killable-writer-vs-readers",
    "binder-owner-exit-install-shrink",
    "binder-mmap-enomem",
    "binder-debug-print-shrink-munmap",
)
"""The scenarios issue 8 added (two processes, free regimes, killable waits, exit and files,
ENOMEM injection, debug readers)."""



def rows(group: str | None, match: str | None = None,
         only: list[str] | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for s in catalogue.all_scenarios():
        if group is not None and s.group != group:
            continue
        if match is not None and match not in s.name:
            continue
        if only and s.name not in only:
            continue
        selections: list[dict[str, str]] = [{}]
        for fn in s.functions:
            default = REGISTRY[fn].default if fn in REGISTRY else None
            for version in catalogue.SEED_VARIANTS.get(fn, ()):
                if version != default:
                    selections.append({fn: version})
        for variants in selections:
            start = time.perf_counter()
            cpu = time.process_time()
            r = catalogue.run(s, variants=variants, minimise=False)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu
            verdict = ",".join(sorted(r.kinds())) if r.findings else "clean"
            out.append({"scenario": s.name, "group": s.group,
                        "variants": ",".join(f"{k}@{v}" for k, v in variants.items()),
                        "executions": r.executions, "steps": r.steps,
                        "seconds": round(seconds, 3), "cpu": round(cpu, 3),
                        "complete": r.complete,
                        "verdict": verdict})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", default=None, help="only scenarios of this group (e.g. mm)")
    parser.add_argument("--match", default=None,
                        help="only scenarios whose name contains this (e.g. mm-ops-)")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="only this scenario (repeatable)")
    parser.add_argument("--new", action="store_true",
                        help="only the scenarios of issue 8 parts A (NEW_SCENARIOS)")
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args()
    only = list(NEW_SCENARIOS) if args.new else args.only
    table = rows(args.group, args.match, only)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    header = (f"{'scenario':40} {'variant':40} {'executions':>10} {'steps':>8} "
              f"{'seconds':>8} {'cpu':>8}  verdict")
    print(header)
    print("-" * len(header))
    for row in table:
        print(f"{row['scenario']!s:40} {row['variants'] or 'default'!s:40} "
              f"{row['executions']!s:>10} {row['steps']!s:>8} {row['seconds']!s:>8} "
              f"{row['cpu']!s:>8}  "
              f"{row['verdict']}{'' if row['complete'] else ' (incomplete)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
