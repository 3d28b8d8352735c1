"""Running the work units of a split exploration on Dask distributed (an optional dependency:
``pip install 'vmacheck[cluster]'``).

``explore(model, scheduler="tcp://HOST:PORT")`` connects to a running scheduler;
``scheduler="local"`` starts a :class:`distributed.LocalCluster` of worker processes on
127.0.0.1 for the run.  The model reaches the workers pickled with cloudpickle (which Dask
ships): closures travel by value, functions of importable modules by reference, so every
worker needs vmacheck (and the model's own modules) importable.  Kernel scenarios travel as a
picklable reference to the scenario and its selection of versions
(:class:`vmacheck.scenarios.catalogue.SelectedModel`).  When a worker dies, Dask runs its
slice again on another worker; the coordinator counts a slice only once it is back, so the
totals do not change.
"""

from __future__ import annotations

import hashlib
import importlib
from typing import Any

from vmacheck.explore.runner import Model
from vmacheck.explore.units import SliceResult, SplitError, Unit, run_slice

_MODELS: dict[str, Model] = {}
"""Models already unpickled in this worker process, by digest."""


def _dask_slice(digest: str, blob: bytes, unit: Unit, opts: dict[str, Any]) -> SliceResult:
    import sys

    cloudpickle: Any = importlib.import_module("cloudpickle")
    model = _MODELS.get(digest)
    if model is None:
        model = _MODELS[digest] = cloudpickle.loads(blob)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
    return run_slice(model, unit, **opts)


class DaskExecutor:
    """Submits slices to a Dask cluster (``"local"``: a LocalCluster started for the run)."""

    def __init__(self, model: Model, scheduler: str, workers: int,
                 opts: dict[str, Any]) -> None:
        try:
            cloudpickle: Any = importlib.import_module("cloudpickle")
            dist: Any = importlib.import_module("distributed")
        except ImportError:
            raise SplitError("--scheduler needs Dask distributed: "
                             "pip install 'vmacheck[cluster]'") from None
        self.cluster: Any = None
        if scheduler == "local":
            self.cluster = dist.LocalCluster(n_workers=max(workers, 1), threads_per_worker=1,
                                        processes=True, host="127.0.0.1",
                                        dashboard_address=None)
            self.client: Any = dist.Client(self.cluster)
        else:
            try:
                self.client = dist.Client(scheduler, timeout=5)
            except (OSError, TimeoutError) as err:
                raise SplitError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
        self.blob = cloudpickle.dumps(model)
        self.digest = hashlib.sha256(self.blob).hexdigest()
        self.opts = opts

    def size(self) -> int:
        """The number of workers the scheduler has now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def submit(self, unit: Unit) -> Any:
        return self.client.submit(_dask_slice, self.digest, self.blob, unit, dict(self.opts),
                                  pure=False)

    def wait(self, handles: list[Any]) -> list[Any]:
        dist: Any = importlib.import_module("distributed")
        done, _ = dist.wait(handles, return_when="FIRST_COMPLETED")
        return list(done)

    def result(self, handle: Any) -> SliceResult:
        return handle.result()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
