"""Work units on a real Dask LocalCluster of worker processes (127.0.0.1): the same totals as
the sequential explorer, also when a worker process is killed in the middle of a run."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from benchmarks.dpor_programs import build, lastzero

import vmacheck as vc
from vmacheck.explore import parallel

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as c:
        yield c


def totals(r: vc.Result) -> tuple[Any, ...]:
    return (r.complete, r.executions, r.blocked, tuple((o.label, o.count) for o in r.outcomes),
            sorted((f.kind, f.minimal_schedule) for f in r.findings))


@pytest.mark.parametrize(("program", "n"), [("lastzero", 5), ("philosophers-naive", 3),
                                            ("counter-unlocked", 3)])
def test_units_on_dask_match_the_sequential_explorer(cluster: Any, program: str, n: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SLICE_EXECUTIONS", 2)
    seq = vc.explore(build(program, n))
    par = vc.explore(build(program, n), scheduler=cluster.scheduler_address)
    assert totals(par) == totals(seq)
    assert parallel.last_stats["units"] > 1


def test_a_worker_killed_mid_unit_loses_nothing(cluster: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "SLICE_SECONDS", 0.3)
    seq = vc.explore(lastzero(8), minimise=False)
    killed: list[int] = []

    def kill_one() -> None:
        with distributed.Client(cluster.scheduler_address) as client:
            busy: dict[str, Any] = {}
            deadline = time.monotonic() + 60
            while not busy and time.monotonic() < deadline:  # a worker in the middle of a unit
                busy = {w: t for w, t in client.processing().items() if t}
                time.sleep(0.05)
            time.sleep(0.1)
            pids = client.run(os.getpid, workers=list(busy)[:1])
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    killer = threading.Thread(target=kill_one)
    killer.start()
    par = vc.explore(lastzero(8), minimise=False, scheduler=cluster.scheduler_address)
    killer.join()
    assert killed, "no worker was killed"
    assert totals(par) == totals(seq)


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Dask scheduler"):
        vc.explore(lastzero(2), scheduler="tcp://127.0.0.1:9")
