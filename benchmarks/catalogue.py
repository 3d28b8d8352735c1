"""The whole catalogue as ``vmacheck check`` runs it: wall and CPU seconds, runs explored and
reused.

    python benchmarks/catalogue.py [-j N] [--compare]

Runs every scenario under every selection of seed versions (and each historic version), on
``-j`` processes (default: the CPU count), reusing the result of an explored run for a
selection that differs only in versions of functions no execution called.  Prints the load
average before and after, wall seconds, CPU seconds (this process and its workers), runs, runs
explored and runs reused.  With ``--compare`` it runs the catalogue again with ``-j 1`` and
checks that every run has the same verdict, executions, outcomes and findings (kind, message,
location, minimal schedule); the exit status is 1 when one differs.  The last line is
``catalogue: X s`` (wall seconds of the ``-j`` run).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from vmacheck import engine
from vmacheck.scenarios.batch import default_jobs, run_plans
from vmacheck.scenarios.catalogue import all_scenarios
from vmacheck.scenarios.matrix import seed_matrix


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def summary(run: Any) -> tuple[object, ...]:
    """What must not depend on the number of processes."""
    r = run.result
    return (run.scenario, tuple(sorted(run.variants.items())), run.verdict(), r.complete,
            r.executions, r.blocked, tuple((o.label, o.count, o.schedule) for o in r.outcomes),
            tuple((f.kind, f.message, f.location, f.minimal_schedule) for f in r.findings))


def check_catalogue(jobs: int) -> tuple[list[Any], float, float]:
    plans = seed_matrix(all_scenarios(), {}, {})
    wall = time.perf_counter()
    cpu = _cpu()
    runs, interrupted = run_plans(plans, {}, jobs=jobs)
    if interrupted:
        raise SystemExit("interrupted")
    return runs, time.perf_counter() - wall, _cpu() - cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=default_jobs(), help="processes")
    ap.add_argument("--compare", action="store_true", help="also run with -j 1 and compare")
    args = ap.parse_args(argv)
    print(f"engine: {engine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs, wall, cpu = check_catalogue(args.jobs)
    reused = sum(1 for r in runs if r.reused_from is not None)
    findings = sum(1 for r in runs if r.result.findings)
    print(f"-j {args.jobs}: {len(runs)} runs, {len(runs) - reused} explored, {reused} reused, "
          f"{findings} with findings")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s")
    status = 0
    if args.compare:
        one, wall1, cpu1 = check_catalogue(1)
        print(f"-j 1: wall {wall1:.1f} s, CPU {cpu1:.1f} s")
        bad = [a.scenario for a, b in zip(runs, one, strict=True) if summary(a) != summary(b)]
        print(f"same verdicts and findings as -j 1: {'yes' if not bad else 'NO'}"
              f"{'' if not bad else ' (' + ', '.join(sorted(set(bad))) + ')'}")
        status = 1 if bad or len(one) != len(runs) else 0
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"catalogue: {wall:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
