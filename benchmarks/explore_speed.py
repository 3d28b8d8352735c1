"""Engine overhead: steps per second of DPOR and random walk against a bare round-robin run.

    python benchmarks/explore_speed.py [--seconds S]

The bare run drives the very same model coroutines in the same process with a minimal loop:
build the model, ``send()`` into each coroutine in turn and execute the op it yields, with no
bookkeeping at all (no footprints, no events, no findings, no scheduling choices; the model's
objects register with an idle execution, of which nothing else is used).  Then the
cost of a step of the kernel models: DPOR over catalogue scenarios (CPU microseconds per step,
fastest of three rounds),
and a sequential driver (one thread allocating and freeing binder buffers) under
``vmacheck.run`` and under ``vmacheck.explore``.  The last line is ``ratio: X`` with
X = (seconds per DPOR step) / (seconds per bare step), each from its fastest of five rounds
taken in turns (the ratio over all rounds follows it in brackets).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import vmacheck as vc
from vmacheck.explore import ops

THREADS = 3
ROUNDS = 4
ROUNDS_EACH = 5
"""Turns each of DPOR and the bare loop takes (see :func:`main`)."""
KERNEL_ROUNDS = 3
"""Rounds of the kernel scenarios; the fastest is reported (the host's noise only adds)."""


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


def registry() -> Any:
    """A real execution, used only as the registry the model's shared objects register with
    (the compiled primitives take no stand-in): the bare loop reads nothing else of it.
    Its one thread returns at once, so it has nothing left to run."""
    from vmacheck.explore.core import Execution

    async def idle() -> None:
        return None

    return Execution(lambda: [("idle", idle())])


def bare_run(model: Callable[[], list[Any]], reg: Any) -> int:
    """One round-robin run of the model's coroutines; returns the number of steps.  The
    objects register with ``reg`` (:func:`registry`), emptied first."""
    reg.objects = []
    ops._CURRENT = reg  # what primitives register with
    coros = [c for _, c in model()]
    pending: list[Any] = [c.send(None) for c in coros]
    live = list(range(len(coros)))
    steps = 0
    while live:
        for i in list(live):
            op = pending[i]
            result = op.execute(reg, i)
            steps += 1
            try:
                pending[i] = coros[i].send(result)
            except StopIteration:
                live.remove(i)
    ops._CURRENT = None
    return steps


def measure_bare(model: Callable[[], list[Any]], seconds: float) -> tuple[int, float]:
    reg = registry()
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            steps += bare_run(model, reg)
    return steps, time.perf_counter() - start


KERNEL_SCENARIOS = ("binder-reclaim-readopt", "binder-shrink-fork", "binder-install-munmap",
                    "mm-munmap-waits-for-vma-reader")


def kernel_us_per_step(executions: int,
                       rounds: int = KERNEL_ROUNDS) -> tuple[float, int, float]:
    """CPU microseconds per DPOR step over :data:`KERNEL_SCENARIOS` (each at most
    ``executions`` executions, no minimising) in the fastest of ``rounds`` identical rounds,
    the number of steps of a round, and the slowest round's figure.  Each scenario runs one
    execution first, untimed, so that module imports are not counted as steps."""
    from vmacheck.scenarios import catalogue

    for name in KERNEL_SCENARIOS:  # imports and first-call costs are not steps
        catalogue.run(name, max_executions=1, minimise=False)
    figures = []
    steps = 0
    for _ in range(rounds):
        steps = 0
        cpu = 0.0
        for name in KERNEL_SCENARIOS:
            start = time.process_time()
            r = catalogue.run(name, max_executions=executions, minimise=False)
            cpu += time.process_time() - start
            steps += r.steps
        figures.append(cpu / steps * 1e6)
    return min(figures), steps, max(figures)


def sequential_driver(rounds: int = 40) -> Callable[[], list[Any]]:
    """One thread that allocates and frees a binder buffer ``rounds`` times (the pages are
    installed, put on the freelist, reused), as a kernel unit test drives the allocator."""
    from vmacheck.kernel.drivers.android.binder_alloc import (
        binder_alloc_free_buf,
        binder_alloc_new_buf,
    )
    from vmacheck.kernel.drivers.android.binder_buffers import BinderBuffer
    from vmacheck.scenarios.binder import binder_world

    def model() -> list[Any]:
        w = binder_world(lru_pages=())

        async def driver() -> int:
            ok = 0
            for _ in range(rounds):
                buf = await binder_alloc_new_buf(w.alloc, 64)
                if isinstance(buf, BinderBuffer):
                    ok += 1
                    await binder_alloc_free_buf(w.alloc, buf)
            return ok

        return [("driver", driver())]

    return model


def run_vs_explore(seconds: float) -> tuple[float, float, int]:
    """CPU microseconds per step of ``vmacheck.run`` and of ``vmacheck.explore`` on
    :func:`sequential_driver`, and its number of steps."""
    model = sequential_driver()
    out = []
    steps = 0
    for fn in (lambda: vc.run(model).steps, lambda: vc.explore(model).steps):
        n = 0
        total = 0
        start = time.process_time()
        while time.process_time() - start < seconds / 2 or n == 0:
            total += fn()
            n += 1
        steps = total // n
        out.append((time.process_time() - start) / total * 1e6)
    return out[0], out[1], steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    ap.add_argument("--kernel-executions", type=int, default=1000,
                    help="executions per kernel scenario")
    args = ap.parse_args(argv)

    # DPOR and the bare loop take turns, ROUNDS_EACH times for seconds/ROUNDS_EACH each, and
    # each keeps its fastest round: the host's noise (this machine shares one) hits both alike
    dpor_steps = 0
    dpor_s = 0.0
    runs = 0
    bare_steps = 0
    bare_s = 0.0
    per_dpor = per_bare = float("inf")
    for _ in range(ROUNDS_EACH):
        steps = 0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds / ROUNDS_EACH:
            d = vc.explore(speed_model, minimise=False)
            assert d.complete and d.blocked == 0
            steps += d.steps
            runs += 1
        took = time.perf_counter() - start
        dpor_steps += steps
        dpor_s += took
        per_dpor = min(per_dpor, took / steps)
        steps, took = measure_bare(speed_model, args.seconds / ROUNDS_EACH)
        bare_steps += steps
        bare_s += took
        per_bare = min(per_bare, took / steps)
    start = time.perf_counter()
    rw = vc.explore(speed_model, mode="random", seed=1, max_seconds=args.seconds,
                    minimise=False)
    rw_s = time.perf_counter() - start
    print(f"engine: {vc.engine()}")
    print(f"model: {THREADS} threads x {ROUNDS} rounds, "
          f"{d.steps // d.executions} steps per execution")
    print(f"dpor:        {dpor_steps / dpor_s:>12,.0f} steps/s  ({runs} x {d.executions} "
          f"executions, {dpor_steps} steps, {dpor_s:.2f} s; fastest round "
          f"{1 / per_dpor:,.0f})")
    print(f"random walk: {rw.steps / rw_s:>12,.0f} steps/s  ({rw.executions} executions, "
          f"{rw.steps} steps, {rw_s:.2f} s)")
    print(f"bare:        {bare_steps / bare_s:>12,.0f} steps/s  ({bare_steps} steps, "
          f"{bare_s:.2f} s; fastest round {1 / per_bare:,.0f})")
    kernel_us, kernel_steps, slowest = kernel_us_per_step(args.kernel_executions)
    print(f"kernel scenarios: {kernel_us:.1f} us per step (DPOR, CPU time, fastest of "
          f"{KERNEL_ROUNDS} rounds, slowest {slowest:.1f}; {kernel_steps} steps over "
          f"{', '.join(KERNEL_SCENARIOS)})")
    run_us, explore_us, driver_steps = run_vs_explore(args.seconds)
    print(f"sequential driver ({driver_steps} steps): run {run_us:.1f} us per step, explore "
          f"{explore_us:.1f} us per step, explore/run {explore_us / run_us:.1f}")
    print(f"random walk ratio: {rw_s / rw.steps / per_bare:.1f}")
    print(f"ratio: {per_dpor / per_bare:.1f}  (fastest rounds; over all rounds "
          f"{dpor_s / dpor_steps / (bare_s / bare_steps):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
