"""Findings, traces and results: the values an exploration hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINDING_KINDS: dict[str, str] = {
    "assertion": "a BUG_ON or WARN_ON in model code fired",
    "exception": "an uncaught exception in a model thread",
    "null-deref": "an attribute access or call on None in a model (the model's NULL dereference)",
    "use-after-free": "an object of a freed allocation was touched",
    "double-free": "an allocation was freed twice",
    "deadlock": "threads wait for each other in a cycle, or no thread can run",
    "resource-leak": "a thread returned still holding a lock or another resource",
    "bad-unlock": "release of something not held, or held in another mode",
    "sleep-in-atomic": "a sleeping operation inside atomic context (spinlock, RCU read side)",
    "step-limit": "an execution ran past the step budget (likely livelock)",
    "soft-lockup": "a thread ran too long between two awaited operations (a loop that never "
                   "awaits), stopped by the watchdog",
    "invariant": "a named check registered by the model failed",
    "lock-order": "the lock-class acquisition graph over all executions has a cycle",
}
"""The stable vocabulary of finding kinds, with what each means."""


@dataclass(frozen=True, slots=True)
class Location:
    """A point in model source: function, file and line."""

    function: str
    file: str
    line: int

    def __str__(self) -> str:
        short = self.file.rsplit("/src/", 1)[-1]
        return f"{self.function} ({short}:{self.line})"


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a recorded trace, for reports (a record outside the compiled engine: it
    travels pickled, from worker processes and in saved results)."""

    index: int
    tid: int
    thread: str
    op: str
    obj: str
    location: Location | None
    stack: tuple[Location, ...]
    held: tuple[str, ...]
    ghost: bool = False
    """A checker-bookkeeping step (an op on a ghost object): reports hide it."""


@dataclass(frozen=True, slots=True)
class RawFinding:
    """A finding as one execution reports it."""

    kind: str
    message: str
    tid: int | None
    thread: str
    location: Location | None
    step: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    stack: tuple[Location, ...] = field(default=(), hash=False, compare=False)
    """The reporting thread's model call stack when the finding was reported (empty when
    the engine reported it between steps)."""

    def key(self) -> tuple[object, ...]:
        """Findings with the same key are one bug seen in several executions."""
        loc = (self.location.function, self.location.line) if self.location else None
        if self.kind == "soft-lockup":  # wherever the watchdog caught the loop
            return (self.kind, self.location.function if self.location else None)
        if self.kind == "deadlock":
            return (self.kind, tuple(sorted(self.extra.get("cycle", []))), loc)
        return (self.kind, loc, normalise_message(self.message))


def normalise_message(message: str) -> str:
    """A message with its numbers blanked, so one bug seen with other ids compares equal."""
    return "".join("#" if ch.isdigit() else ch for ch in message)


@dataclass(frozen=True, slots=True)
class ThreadSnapshot:
    """One thread at the violating step: its state, model call stack and held resources."""

    tid: int
    name: str
    state: str
    stack: tuple[Location, ...]
    held: tuple[str, ...]
    pending: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A bug found by the explorer, with the interleaving that reaches it.

    ``schedule`` replays the original execution; ``minimal_schedule`` is the shrunk one (fewest
    context switches, then fewest steps).  ``trace`` is the minimal interleaving step by step.
    """

    kind: str
    message: str
    thread: str
    location: Location | None
    schedule: str
    minimal_schedule: str
    trace: tuple[Any, ...]
    occurrences: int
    context_switches: int
    original_context_switches: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    threads: tuple[ThreadSnapshot, ...] = ()

    def headline(self) -> str:
        where = f" in {self.location.function}" if self.location else ""
        return f"{self.kind}{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """An end-state label reached, how many executions reached it, and one schedule."""

    label: str
    count: int
    schedule: str


@dataclass(frozen=True, slots=True)
class Result:
    """What an exploration found.  ``complete`` is True only when no budget cut it short."""

    mode: str
    complete: bool
    executions: int
    blocked: int
    steps: int
    seconds: float
    findings: tuple[Finding, ...]
    outcomes: tuple[Outcome, ...]
    stop_reason: str
    execution_log: tuple[str, ...] = ()
    memory_model: str = "sc"
    """The memory model the exploration ran under (``sc`` or ``weak``)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def kinds(self) -> set[str]:
        return {f.kind for f in self.findings}

    def by_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def outcome_labels(self) -> dict[str, int]:
        return {o.label: o.count for o in self.outcomes}
