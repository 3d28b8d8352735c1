"""The exploration engine.  It knows nothing of the kernel: see :mod:`vmacheck` for the API."""

from vmacheck.explore.api import MODES, Progress, explore
from vmacheck.explore.core import Allocation, Execution, Op, Shared, current
from vmacheck.explore.findings import FINDING_KINDS, Finding, Location, Outcome, Result
from vmacheck.explore.primitives import (
    BUG_ON,
    WARN_ON,
    Mutex,
    RwSem,
    SpinLock,
    Var,
    atomic_enter,
    atomic_exit,
    hold,
    in_atomic,
    invariant,
    join,
    label,
    loop_begin,
    outcome,
    report,
    retry,
    spawn,
    thread_id,
    unhold,
)
from vmacheck.explore.runner import NondeterministicModel, Replay, replay
from vmacheck.explore.schedule import ScheduleError, format_schedule, parse_schedule

__all__ = [
    "BUG_ON", "FINDING_KINDS", "MODES", "WARN_ON", "Allocation", "Execution", "Finding",
    "Location", "Mutex", "NondeterministicModel", "Op", "Outcome", "Progress", "Replay",
    "Result", "RwSem", "ScheduleError", "Shared", "SpinLock", "Var", "atomic_enter",
    "atomic_exit", "current", "explore", "format_schedule", "hold", "in_atomic", "invariant",
    "join", "label", "loop_begin", "outcome", "parse_schedule", "replay", "report", "retry",
    "spawn", "thread_id", "unhold",
]
