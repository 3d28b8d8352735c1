"""Trace counts of the published DPOR benchmarks: executions must equal the published count.

    python benchmarks/dpor_counts.py [--json] [--small]

One row per program and size: program, N, published trace count, executions run, executions
blocked by their sleep set, and seconds.  An optimal DPOR has executions == published and
blocked == 0 on every row; the exit status is 1 when a row disagrees.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vmacheck as vc
from benchmarks.dpor_programs import build, cases


def measure(include_large: bool = True) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, n, published in cases(include_large):
        start = time.perf_counter()
        r = vc.explore(build(name, n), max_steps=100_000, minimise=False)
        seconds = time.perf_counter() - start
        rows.append({"program": name, "n": n, "published": published,
                     "executions": r.executions, "blocked": r.blocked,
                     "seconds": round(seconds, 3)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    ap.add_argument("--small", action="store_true", help="skip lastzero(10) and indexer(15)")
    args = ap.parse_args(argv)
    rows = measure(include_large=not args.small)
    bad = [r for r in rows if r["executions"] != r["published"] or r["blocked"] != 0]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'program':<22}{'N':>4}{'published':>11}{'executions':>12}{'blocked':>9}"
              f"{'seconds':>10}")
        for r in rows:
            mark = "" if r not in bad else "   <-- MISMATCH"
            print(f"{r['program']:<22}{r['n']:>4}{r['published']:>11}{r['executions']:>12}"
                  f"{r['blocked']:>9}{r['seconds']:>10.3f}{mark}")
        total = sum(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
        print(f"{len(rows)} rows, {len(bad)} mismatches, {total:.1f} s total")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
