"""Peak memory of exhaustive DPOR on lastzero(N), each size in a fresh process.

    python benchmarks/memory.py [--sizes 10,12,13,14] [--scenario NAME] [--baseline SRC]

One line per size: executions, peak RSS (``ru_maxrss`` of that process: RSS is per process,
so every size runs in its own interpreter) and the peak number of pending wakeup-tree nodes
(steps held in the wakeup trees of the current prefix, sampled every 25 executions), then the
same for one catalogue scenario (default ``binder-shrink-munmap-fork``), whose memory should
stay flat.  The machine load (``os.getloadavg``) is printed with each line: RSS does not depend
on it, seconds do.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
import vmacheck as vc
from vmacheck.explore import modes

peak = [0]
calls = [0]

def count(nodes):  # recursive: no transient list as large as the tree
    return sum(1 + len(x.tail) + count(x.children) for x in nodes)

def sampled(st):
    calls[0] += 1
    if calls[0] % 25 == 0:
        held = 0
        for node in st.stack:
            held += count(node.wut) + (count(node.saved) if node.saved else 0)
            if node.chosen is not None:
                held += count(node.chosen.children) + len(node.chosen.tail)
        peak[0] = max(peak[0], held)

if hasattr(modes, "OBSERVE_FRONTIER"):  # a tree without it (a baseline) is measured unsampled
    modes.OBSERVE_FRONTIER = sampled
else:
    peak[0] = -1
kind, arg = sys.argv[1], sys.argv[2]
start = time.monotonic()
if kind == "lastzero":
    from benchmarks.dpor_programs import lastzero
    r = vc.explore(lastzero(int(arg)), minimise=False)
else:
    from vmacheck.scenarios import catalogue
    catalogue.load_all()
    r = catalogue.run(arg, minimise=False)
print(json.dumps({{"executions": r.executions, "complete": r.complete,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "pending": peak[0], "seconds": time.monotonic() - start,
                  "load": os.getloadavg()[0]}}))
"""


def measure(kind: str, arg: str, src: Path = ROOT / "src") -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT)), kind, arg],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10,12,13,14")
    ap.add_argument("--scenario", default="binder-shrink-munmap-fork")
    ap.add_argument("--baseline", metavar="SRC", type=Path,
                    help="also measure lastzero(13) with another source tree (e.g. a checkout "
                         "of main's src/) and print the ratio")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from vmacheck import engine

    print(f"engine: {engine()}")
    print(f"{'model':<28}{'executions':>11}{'peak RSS MB':>13}{'pending nodes':>15}"
          f"{'seconds':>9}{'load':>6}")
    rows = [(f"lastzero({n})", measure("lastzero", n)) for n in args.sizes.split(",")]
    rows.append((args.scenario, measure("scenario", args.scenario)))
    for name, r in rows:
        print(f"{name:<28}{r['executions']:>11}{r['rss_mb']:>13.1f}{r['pending']:>15}"
              f"{r['seconds']:>9.1f}{r['load']:>6.1f}", flush=True)
    by = dict(rows)
    if args.baseline is not None and "lastzero(13)" in by:
        base = measure("lastzero", "13", args.baseline)
        print(f"baseline {args.baseline}: lastzero(13) {base['rss_mb']:.1f} MB peak; "
              f"ratio {by['lastzero(13)']['rss_mb'] / base['rss_mb']:.2f}")
    if "lastzero(13)" in by:
        print(f"lastzero13: {by['lastzero(13)']['rss_mb']:.1f} MB peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
