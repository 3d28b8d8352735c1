"""Machine instructions per DPOR step of a kernel scenario, counted by valgrind (callgrind).

    python benchmarks/instructions.py [--scenario NAME] [--executions N]

Time on a shared machine swings by 20% from one minute to the next; the number of
instructions the interpreter executes does not (it repeats to about 0.1%), so it tells
whether a change to the engine or the models made a step cheaper.  The scenario is explored
twice under ``valgrind --tool=callgrind``, once for one execution and once for ``N``
(default 300; no minimising), each in a fresh process; the first run's count (start-up,
imports, the first execution) is the baseline subtracted from the second's.  Prints both
counts and steps, then ``instructions per step: X`` = (instructions of the long run - of the
short run) / (its steps - the short run's).  Needs valgrind on the PATH (exit status 2 and
one line on stderr without it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

WORKER = """
import sys
sys.path.insert(0, {src!r})
import vmacheck
from vmacheck.scenarios import catalogue
r = catalogue.run({scenario!r}, max_executions={executions}, minimise=False)
print("steps", r.steps)
print("engine", vmacheck.engine())
"""


def count(scenario: str, executions: int) -> tuple[int, int, str]:
    """Instructions of a fresh Python process exploring ``scenario`` for ``executions``
    executions, the steps it ran, and the engine it ran (``vmacheck.engine()``)."""
    code = WORKER.format(src=str(SRC), scenario=scenario, executions=executions)
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    collected = re.search(r"Collected : (\d+)", out.stderr)
    steps = re.search(r"^steps (\d+)$", out.stdout, re.MULTILINE)
    engine = re.search(r"^engine (.+)$", out.stdout, re.MULTILINE)
    if out.returncode != 0 or collected is None or steps is None or engine is None:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"instructions: the run under valgrind failed: {tail}")
    return int(collected.group(1)), int(steps.group(1)), engine.group(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", default="binder-reclaim-readopt")
    ap.add_argument("--executions", type=int, default=300)
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (apt-get install valgrind)",
              file=sys.stderr)
        return 2
    if args.executions < 2:
        print("instructions: --executions must be at least 2", file=sys.stderr)
        return 2
    sys.path.insert(0, str(SRC))
    from vmacheck.scenarios.catalogue import ScenarioError, get

    try:
        get(args.scenario)
    except ScenarioError as err:
        print(f"instructions: {err}", file=sys.stderr)
        return 2
    base, base_steps, engine = count(args.scenario, 1)
    total, steps, _ = count(args.scenario, args.executions)
    print(f"engine: {engine}")
    print(f"{args.scenario}: 1 execution: {base:,} instructions, {base_steps} steps")
    print(f"{args.scenario}: {args.executions} executions: {total:,} instructions, "
          f"{steps} steps")
    if steps <= base_steps:
        print("instructions: the long run ran no more steps than the short one",
              file=sys.stderr)
        return 2
    print(f"instructions per step: {(total - base) / (steps - base_steps):,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
