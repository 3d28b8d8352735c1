"""One exploration split across worker processes: executions and seconds with 1 and 2 workers.

    python benchmarks/parallel.py [--lastzero 13] [--scenario binder-reclaim-readopt]

For each model: the sequential explorer (workers=1) and the split explorer with 2 forked
workers, in this process one after the other; executions (they must be equal), blocked,
wall seconds, CPU seconds (this process plus its workers), the speedup, and the executions the
split ran and discarded (entries rolled back: its redundancy).  The machine load
(``os.getloadavg``) is printed with each measurement: on a shared machine the seconds are
only as good as the load allows.  Last line: ``lastzero13: N traces/s`` with 2 workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vmacheck as vc
from benchmarks.dpor_programs import lastzero
from vmacheck.explore import parallel
from vmacheck.scenarios import catalogue


def cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(run: Any) -> tuple[vc.Result, float, float, float]:
    load = os.getloadavg()[0]
    c, t = cpu(), time.perf_counter()
    r = run()
    return r, time.perf_counter() - t, cpu() - c, load


def compare(name: str, run: Any) -> float:
    one, s1, c1, l1 = timed(lambda: run(1))
    two, s2, c2, l2 = timed(lambda: run(2))
    stats = parallel.last_stats
    print(f"{name:<24} workers=1 {one.executions:>7} executions {one.blocked} blocked "
          f"{s1:8.1f} s wall {c1:8.1f} s cpu  load {l1:.1f}")
    print(f"{'':<24} workers=2 {two.executions:>7} executions {two.blocked} blocked "
          f"{s2:8.1f} s wall {c2:8.1f} s cpu  load {l2:.1f}  speedup {s1 / s2:.2f}  "
          f"discarded {stats.get('discarded_executions', 0)} "
          f"(rollbacks {stats.get('rollbacks', 0)}, units {stats.get('units', 0)})",
          flush=True)
    if one.executions != two.executions or two.blocked:
        print(f"{name}: MISMATCH", flush=True)
    return two.executions / s2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lastzero", type=int, default=13)
    ap.add_argument("--scenario", default="binder-reclaim-readopt")
    args = ap.parse_args(argv)
    print(f"engine: {vc.engine()}")
    catalogue.load_all()
    if args.scenario:
        compare(args.scenario, lambda w: catalogue.run(args.scenario, workers=w,
                                                        minimise=False))
    rate = compare(f"lastzero({args.lastzero})",
                   lambda w: vc.explore(lastzero(args.lastzero), workers=w, minimise=False))
    print(f"lastzero{args.lastzero}: {rate:.0f} traces/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
