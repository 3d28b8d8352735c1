"""vmacheck: systematic interleaving checks for Linux mmap_lock and per-VMA lock changes.

The public API is small: build a model from the primitives below, then :func:`explore` it or
:func:`replay` a schedule.  Everything else lives in private modules.
"""

from vmacheck.explore import (
    BUG_ON,
    FINDING_KINDS,
    MODES,
    WARN_ON,
    Allocation,
    Finding,
    Location,
    Mutex,
    Op,
    Outcome,
    Progress,
    Replay,
    Result,
    RwSem,
    ScheduleError,
    Shared,
    SpinLock,
    Var,
    atomic_enter,
    atomic_exit,
    explore,
    invariant,
    join,
    label,
    loop_begin,
    outcome,
    replay,
    report,
    retry,
    spawn,
)

__version__ = "0.1.0"

__all__ = [
    "BUG_ON", "FINDING_KINDS", "MODES", "WARN_ON", "Allocation", "Finding", "Location", "Mutex",
    "Op", "Outcome", "Progress", "Replay", "Result", "RwSem", "ScheduleError", "Shared",
    "SpinLock", "Var", "__version__", "atomic_enter", "atomic_exit", "explore", "invariant",
    "join", "label", "loop_begin", "outcome", "replay", "report", "retry", "spawn",
]
