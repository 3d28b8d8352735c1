"""Engine overhead: steps per second of DPOR and random walk against a bare round-robin run.

    python benchmarks/explore_speed.py [--seconds S]

The bare run drives the very same model coroutines in the same process with a minimal loop:
build the model, ``send()`` into each coroutine in turn and execute the op it yields, with no
bookkeeping at all (no footprints, no events, no findings, no scheduling choices).  The last
line is ``ratio: X`` with X = (seconds per DPOR step) / (seconds per bare step).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vmacheck as vc
from vmacheck.explore import core

THREADS = 3
ROUNDS = 4


def speed_model() -> list[Any]:
    """Three threads; each round a thread does two private (independent) stores, reads the
    shared counter and, in its last round, adds to it (dependent steps)."""
    shared = vc.Var("shared", 0)
    private = [vc.Var(f"private{t}", 0) for t in range(THREADS)]

    async def worker(t: int) -> None:
        mine = private[t]
        for k in range(ROUNDS):
            await mine.store(k)
            await mine.store(k + 1)
            v = await shared.load()
            if k == ROUNDS - 1:
                await shared.store(v + 1)

    return [(f"w{t}", worker(t)) for t in range(THREADS)]


class _Bare:
    """Just enough of an execution for primitives to register objects."""

    def __init__(self) -> None:
        self.n = 0
        self.outcome_fns: list[Any] = []
        self.current_tid = None

    def register(self, obj: object) -> int:
        self.n += 1
        return self.n - 1


def bare_run(model: Callable[[], list[Any]]) -> int:
    """One round-robin run of the model's coroutines; returns the number of steps."""
    core._CURRENT = _Bare()  # type: ignore[assignment]
    coros = [c for _, c in model()]
    pending: list[Any] = [c.send(None) for c in coros]
    live = list(range(len(coros)))
    steps = 0
    while live:
        for i in list(live):
            op = pending[i]
            result = op.execute(None, i)
            steps += 1
            try:
                pending[i] = coros[i].send(result)
            except StopIteration:
                live.remove(i)
    core._CURRENT = None
    return steps


def measure_bare(model: Callable[[], list[Any]], seconds: float) -> tuple[int, float]:
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            steps += bare_run(model)
    return steps, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = ap.parse_args(argv)

    dpor_steps = 0
    runs = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        d = vc.explore(speed_model, minimise=False)
        assert d.complete and d.blocked == 0
        dpor_steps += d.steps
        runs += 1
    dpor_s = time.perf_counter() - start
    start = time.perf_counter()
    rw = vc.explore(speed_model, mode="random", seed=1, max_seconds=args.seconds,
                    minimise=False)
    rw_s = time.perf_counter() - start
    bare_steps, bare_s = measure_bare(speed_model, args.seconds)

    per_dpor = dpor_s / dpor_steps
    per_bare = bare_s / bare_steps
    print(f"model: {THREADS} threads x {ROUNDS} rounds, "
          f"{d.steps // d.executions} steps per execution")
    print(f"dpor:        {dpor_steps / dpor_s:>12,.0f} steps/s  ({runs} x {d.executions} "
          f"executions, {dpor_steps} steps, {dpor_s:.2f} s)")
    print(f"random walk: {rw.steps / rw_s:>12,.0f} steps/s  ({rw.executions} executions, "
          f"{rw.steps} steps, {rw_s:.2f} s)")
    print(f"bare:        {bare_steps / bare_s:>12,.0f} steps/s  ({bare_steps} steps, "
          f"{bare_s:.2f} s)")
    print(f"random walk ratio: {rw_s / rw.steps / per_bare:.1f}")
    print(f"ratio: {per_dpor / per_bare:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
