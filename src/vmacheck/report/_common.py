"""What every report format shares: kind headers, severities, paths, lock ops, thread views.

Header per finding kind (the first line of a text splat, and the SARIF level):

=================  ==========================================================  =======
kind               header (as the kernel's own detectors would print it)       level
=================  ==========================================================  =======
use-after-free     ``BUG: vmacheck: use-after-free in FN`` (KASAN)              error
double-free        ``BUG: vmacheck: double-free in FN`` (KASAN)                 error
null-deref         ``BUG: vmacheck: NULL pointer dereference in FN``            error
exception          ``BUG: vmacheck: unhandled exception in FN``                 error
assertion BUG_ON   ``BUG: vmacheck: BUG_ON in FN`` + ``kernel BUG at F:L!``     error
assertion WARN_ON  ``WARNING: vmacheck: WARN_ON in FN`` + ``WARNING: at F:L``   warning
invariant          ``BUG: vmacheck: invariant violated in FN``                  error
sleep-in-atomic    ``BUG: vmacheck: sleeping function called from invalid        error
                   context in FN``
step-limit         ``BUG: vmacheck: soft lockup in FN (step limit)``             error
soft-lockup        ``BUG: vmacheck: soft lockup in FN (stuck without awaiting)``  error
                   (the watchdog's "BUG: soft lockup - CPU#N stuck for Ns!")
deadlock           ``INFO: task T blocked forever: vmacheck: deadlock``         error
                   (the hung-task detector's line)
resource-leak      ``WARNING: vmacheck: lock held when task T exited!``         warning
                   (lockdep's "lock held when returning to user space!")
bad-unlock         ``WARNING: vmacheck: bad unlock balance detected!`` (lockdep)  warning
lock-order         ``WARNING: possible circular locking dependency detected``   warning
                   (lockdep, verbatim)
=================  ==========================================================  =======

``BUG:`` and ``INFO: task ... blocked`` headers are errors, ``WARNING:`` ones warnings.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

from vmacheck.explore.findings import Finding, Location, ThreadSnapshot

_ACQUIRE = re.compile(r"^(lock|trylock|mutex_lock|mutex_trylock|spin_lock|spin_trylock|down_"
                      r"|mmap_\w*lock|vma_start|read_lock|write_lock|rcu_read_lock)")
_RELEASE = re.compile(r"^(unlock|mutex_unlock|spin_unlock|up_|downgrade_write|\w*_unlock\b"
                      r"|vma_end_read|rcu_read_unlock|read_unlock|write_unlock)")


def lock_op(op: str) -> str | None:
    """``"acquire"``, ``"release"`` or None for the text of a trace step's op."""
    if _RELEASE.match(op):
        return "release"
    if _ACQUIRE.match(op):
        return "acquire"
    return None


@functools.lru_cache(maxsize=256)
def _root_of(directory: str) -> str | None:
    d = directory
    while True:
        if os.path.exists(os.path.join(d, "pyproject.toml")) or os.path.isdir(
                os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def short_path(file: str) -> str:
    """A model source file relative to its project root (where pyproject.toml is), if any."""
    if not os.path.isabs(file):
        return file
    root = _root_of(os.path.dirname(file))
    return os.path.relpath(file, root) if root else file


def where(loc: Location | None) -> str:
    """``function (path:line)``, or ``?`` when the engine gave no location."""
    if loc is None:
        return "?"
    return f"{loc.function} ({short_path(loc.file)}:{loc.line})"


def is_warning(finding: Finding) -> bool:
    """WARN-type findings (SARIF ``warning``); everything else is BUG-type (``error``)."""
    if finding.kind == "assertion":
        return finding.message.startswith("WARN")
    return finding.kind in ("lock-order", "resource-leak", "bad-unlock")


def level(finding: Finding) -> str:
    return "warning" if is_warning(finding) else "error"


def location(finding: Finding) -> Location | None:
    """Where the finding was reported; the violating step's when the engine gave none."""
    loc = finding.location
    if loc is not None and not loc.function.startswith("<") and not _outside(finding, loc):
        return loc
    i = focus(finding)
    if i >= 0 and finding.trace[i].location is not None:
        step: Location = finding.trace[i].location
        return step
    return loc


_IN_OP_KINDS = frozenset({"bad-unlock", "double-free", "lock-order", "deadlock"})


def _outside(finding: Finding, loc: Location) -> bool:
    """Whether a location the engine took while running an op lies outside the model.

    Findings raised inside an op (an unlock, a free, an acquisition) can get the frame that
    called the explorer instead of the model's; such a function is on no model stack.
    """
    if finding.kind not in _IN_OP_KINDS or not finding.trace:
        return False
    return not any(fr.function == loc.function and fr.file == loc.file
                   for s in finding.trace for fr in s.stack)


def _fn(finding: Finding) -> str:
    loc = location(finding)
    return loc.function if loc is not None and not loc.function.startswith("<") else "?"


def header(finding: Finding) -> list[str]:
    """The splat's first line(s), per kind (see the table in this module's docstring)."""
    kind, fn, loc = finding.kind, _fn(finding), location(finding)
    task = finding.thread or "?"
    at = f"{short_path(loc.file)}:{loc.line}" if loc is not None else "?"
    if kind == "lock-order":
        return ["WARNING: possible circular locking dependency detected"]
    if kind == "deadlock":
        cycle = [str(c) for c in finding.extra.get("cycle", [])]
        others = [c for c in cycle if c != task]
        what = "deadlock with " + ", ".join(others) if others else "deadlock"
        if len(cycle) == 1:
            what = "deadlock (recursive locking)"
        elif not cycle:
            what = "deadlock (no task can run)"
        return [f"INFO: task {task} blocked forever: vmacheck: {what}"]
    if kind == "assertion":
        if is_warning(finding):
            return [f"WARNING: vmacheck: WARN_ON in {fn}", f"WARNING: at {at} {fn}"]
        return [f"BUG: vmacheck: BUG_ON in {fn}", f"kernel BUG at {at}!"]
    if kind == "resource-leak":
        return [f"WARNING: vmacheck: lock held when task {task} exited!"]
    if kind == "bad-unlock":
        return ["WARNING: vmacheck: bad unlock balance detected!"]
    what = {
        "use-after-free": "use-after-free",
        "double-free": "double-free",
        "null-deref": "NULL pointer dereference",
        "exception": "unhandled exception",
        "invariant": "invariant violated",
        "sleep-in-atomic": "sleeping function called from invalid context",
        "step-limit": "soft lockup",
        "soft-lockup": "soft lockup",
    }.get(kind, kind)
    suffix = {"step-limit": " (step limit)",
              "soft-lockup": " (stuck without awaiting)"}.get(kind, "")
    if kind == "invariant" and not finding.thread:
        return [f"BUG: vmacheck: {what} at end of execution"]
    return [f"BUG: vmacheck: {what} in {fn}{suffix}"]


ThreadView = ThreadSnapshot
"""One thread at the violating step, from the finding's snapshot or rebuilt from the trace."""


OWN_STEP_KINDS = frozenset({"assertion", "exception", "null-deref", "use-after-free",
                            "double-free", "bad-unlock", "sleep-in-atomic", "resource-leak",
                            "soft-lockup"})
"""Kinds raised by the reporting thread's own step (or the local code right after it)."""


def focus(finding: Finding) -> int:
    """Position in ``finding.trace`` of the violating step (-1 when the trace is empty).

    For a finding its own thread raised (a BUG_ON, a use-after-free, a leak at exit...) it is
    that thread's last step: the op, or the op whose following local code failed, even when
    the schedule lets another thread take one more step.  For lock-order it is the acquisition
    that closed the cycle: the finding's thread taking a lock while holding another.  For
    deadlocks, livelocks and invariants it is the last step.
    """
    trace = finding.trace
    if not trace:
        return -1
    if finding.kind in OWN_STEP_KINDS and finding.thread:
        for i in range(len(trace) - 1, -1, -1):
            if trace[i].thread == finding.thread:
                return i
    if finding.kind == "lock-order":
        cycle = [str(c) for c in finding.extra.get("cycle", [])]
        for i in range(len(trace) - 1, -1, -1):
            s = trace[i]
            if (s.thread == finding.thread and s.held and lock_op(s.op) == "acquire"
                    and (not cycle or any(s.op.endswith(" " + c) for c in cycle))):
                return i
    return len(trace) - 1


def threads(finding: Finding) -> list[ThreadView]:
    """Every thread at the violating step, in tid order.

    Uses ``finding.threads`` where the engine recorded them; a thread with no stack there
    (killed by the finding, or a lock-order finding without snapshots) gets the stack and
    held locks of its last step in the trace up to the violating step.
    """
    last: dict[int, Any] = {}
    stop = focus(finding)
    for s in finding.trace[: stop + 1]:
        last[s.tid] = s
    views: dict[int, ThreadView] = {}
    for snap in finding.threads:
        stack, held = snap.stack, snap.held
        step = last.get(snap.tid)
        if not stack and step is not None and (snap.state == "killed"
                                               or snap.name == finding.thread):
            stack = _with_location(step.stack, finding, snap.name)
        views[snap.tid] = ThreadView(snap.tid, snap.name, snap.state, stack, held, snap.pending)
    for tid, step in last.items():
        if tid not in views:
            state = "acquiring" if tid == trace_tid(finding) else "running"
            views[tid] = ThreadView(tid, step.thread, state,
                                    _with_location(step.stack, finding, step.thread),
                                    step.held, step.op)
    for s in finding.trace:  # threads that only run after the violating step
        if s.tid not in views:
            views[s.tid] = ThreadView(s.tid, s.thread, "not yet run", (), (), s.op)
    return [views[t] for t in sorted(views)]


def trace_tid(finding: Finding) -> int | None:
    i = focus(finding)
    return finding.trace[i].tid if i >= 0 else None


def _with_location(stack: tuple[Location, ...], finding: Finding,
                   name: str) -> tuple[Location, ...]:
    """The stack of the violating thread, with its innermost frame moved to the finding's line."""
    loc = finding.location
    if name != finding.thread or loc is None or not stack:
        return stack
    if stack[-1].function == loc.function and stack[-1].file == loc.file:
        return (*stack[:-1], loc)
    return stack


def columns(finding: Finding) -> list[tuple[int, str]]:
    """The threads of the interleaving listing, in tid order: (tid, name)."""
    names: dict[int, str] = {t.tid: t.name for t in finding.threads}
    for s in finding.trace:
        names.setdefault(s.tid, s.thread)
    return sorted(names.items())


def schedule_of(finding: Finding) -> str:
    """The schedule a report prints to replay the finding (the minimised one)."""
    return finding.minimal_schedule


def model_replay(finding: Finding) -> str:
    """The Python line that replays ``finding`` on the model it came from."""
    sched = schedule_of(finding)
    if finding.kind == "step-limit":
        steps = sum(int(p.partition("*")[2] or 1) for p in sched.split(",") if p)
        return f'vmacheck.replay(model, "{sched}", max_steps={steps})'
    return f'vmacheck.replay(model, "{sched}")'


def replay_line(run: Any, finding: Finding) -> str:
    if run is not None:
        return str(run.replay_command(schedule_of(finding)))
    return model_replay(finding)


def variants_text(variants: dict[str, str]) -> str:
    return ", ".join(f"{k}@{v}" for k, v in sorted(variants.items())) or "-"


def config_text(config: dict[str, bool]) -> str:
    return ", ".join(f"{k}={'y' if v else 'n'}" for k, v in sorted(config.items())) or "-"


def kinds_text(findings: tuple[Finding, ...]) -> str:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    return ", ".join(k if n == 1 else f"{k} x{n}" for k, n in counts.items()) or "-"
