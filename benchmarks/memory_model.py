"""The cost of the weak memory model, and a check that sequential consistency costs as before.

    python benchmarks/memory_model.py [--max-seconds S] [--baseline REV] [--json]

Part 1: for lastzero(6), lastzero(10) and two binder scenarios, executions and seconds under
``sc`` and ``weak``, and their ratios (a weak run is cut at ``--max-seconds``; it is then
marked incomplete and its ratio is a lower bound).

Part 2: the redundancy of exploring reads-from choices with DPOR: executions against distinct
execution graphs (reads-from plus coherence order) on small programs.

Part 3: ``sc`` speed against the previous code path, in the same run: lastzero(10) under this
tree and under ``--baseline`` (default: the merge base with ``main``), extracted with
``git archive`` to a temporary folder and run in a subprocess like this tree's; same
executions expected, and the ratio of CPU seconds (``process_time``, best of six, which
other load on the machine disturbs less than wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vmacheck as vc  # noqa: E402
from benchmarks.dpor_programs import lastzero  # noqa: E402
from vmacheck.explore.memory import using  # noqa: E402
from vmacheck.explore.modes import dpor  # noqa: E402
from vmacheck.litmus import parse  # noqa: E402
from vmacheck.litmus.runtime import build as litmus_model  # noqa: E402
from vmacheck.scenarios.catalogue import run as run_scenario  # noqa: E402

LITMUS = ROOT / "tests" / "litmus"


def _row(name: str, runner: Any, budget: float) -> dict[str, Any]:
    out: dict[str, Any] = {"program": name}
    for mm in ("sc", "weak"):
        start = time.perf_counter()
        r = runner(mm, budget)
        out[f"{mm}_executions"] = r.executions
        out[f"{mm}_seconds"] = round(time.perf_counter() - start, 3)
        out[f"{mm}_complete"] = r.complete
    out["executions_ratio"] = round(out["weak_executions"] / max(out["sc_executions"], 1), 2)
    out["seconds_ratio"] = round(out["weak_seconds"] / max(out["sc_seconds"], 1e-6), 2)
    return out


def cost(budget: float) -> list[dict[str, Any]]:
    rows = []
    for n in (6, 10):
        rows.append(_row(f"lastzero({n})", lambda mm, b, n=n: vc.explore(
            lastzero(n), memory_model=mm, minimise=False, max_steps=100_000,
            max_seconds=b), budget))
    for name in ("binder-shrink-fork", "binder-install-publish"):
        rows.append(_row(name, lambda mm, b, name=name: run_scenario(
            name, memory_model=mm, minimise=False, max_seconds=b), budget))
    return rows


def redundancy() -> list[dict[str, Any]]:
    programs: list[tuple[str, Any]] = [(f"lastzero({n})", lastzero(n)) for n in (2, 3, 4)]
    for f in ("SB+poonceonces", "MP+poonceonces", "2+2W+poonceonces", "ISA2+poonceonces",
              "IRIW+poonceonces+OnceOnce"):
        programs.append((f, litmus_model(parse((LITMUS / f"{f}.litmus").read_text()), [])))
    rows = []
    for name, model in programs:
        graphs = set()
        n = 0
        with using("weak"):
            for ex, _, _ in dpor(model, max_steps=10_000):
                n += 1
                assert ex.memory is not None
                graphs.add(ex.memory.graph())
        rows.append({"program": name, "executions": n, "graphs": len(graphs),
                     "redundancy": round(n / len(graphs), 2)})
    return rows


_SC_PROBE = """
import sys, time, json
sys.path.insert(0, {bench!r})
import vmacheck as vc
from dpor_programs import lastzero
best = None
for _ in range(3):
    start = time.process_time()
    r = vc.explore(lastzero(10), max_steps=100_000, minimise=False)
    took = time.process_time() - start
    best = took if best is None else min(best, took)
print(json.dumps({{"executions": r.executions, "seconds": best}}))
"""


def _probe(src: Path, bench: Path) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", _SC_PROBE.format(bench=str(bench))],
                         capture_output=True, text=True, env=env, check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def sc_unchanged(baseline: str | None) -> dict[str, Any]:
    rev = baseline or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT,
                                     capture_output=True, text=True,
                                     check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        bench = ROOT / "benchmarks"
        runs = []
        for _ in range(2):  # interleaved; each probe reports its best CPU time of three
            runs.append(("baseline", _probe(Path(tmp) / "src", bench)))
            runs.append(("this tree", _probe(ROOT / "src", bench)))
    best = {k: min(r["seconds"] for n, r in runs if n == k) for k in ("baseline", "this tree")}
    execs = {k: {r["executions"] for n, r in runs if n == k} for k in best}
    return {"baseline": rev[:12], "baseline_seconds": round(best["baseline"], 3),
            "seconds": round(best["this tree"], 3),
            "ratio": round(best["this tree"] / best["baseline"], 3),
            "baseline_executions": sorted(execs["baseline"]),
            "executions": sorted(execs["this tree"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help="budget of each weak run (default 60)")
    ap.add_argument("--baseline", default=None, help="git revision of the previous code path")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    data = {"cost": cost(args.max_seconds), "redundancy": redundancy(),
            "sc_unchanged": sc_unchanged(args.baseline)}
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    print(f"{'program':<24}{'sc execs':>10}{'sc s':>8}{'weak execs':>12}{'weak s':>8}"
          f"{'x execs':>9}{'x secs':>8}")
    for r in data["cost"]:
        cut = "" if r["weak_complete"] else "  (weak cut at budget: ratios are lower bounds)"
        print(f"{r['program']:<24}{r['sc_executions']:>10}{r['sc_seconds']:>8.2f}"
              f"{r['weak_executions']:>12}{r['weak_seconds']:>8.2f}{r['executions_ratio']:>9}"
              f"{r['seconds_ratio']:>8}{cut}")
    print()
    print(f"{'program (weak)':<28}{'executions':>11}{'graphs':>8}{'redundancy':>12}")
    for r in data["redundancy"]:
        print(f"{r['program']:<28}{r['executions']:>11}{r['graphs']:>8}{r['redundancy']:>12}")
    s = data["sc_unchanged"]
    print()
    print(f"sc lastzero(10): this tree {s['seconds']} s, {s['executions']} executions; "
          f"baseline {s['baseline']} {s['baseline_seconds']} s, {s['baseline_executions']} "
          f"executions; ratio {s['ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
