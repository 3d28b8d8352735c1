"""The coordinator's nodes of a split DPOR exploration (:mod:`vmacheck.explore.frontier`):
the nodes above every work unit, the steps explored from them, and the frozen prefix a unit
replays to reach its node."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmacheck.explore.core import Footprint
from vmacheck.explore.dpor import PrefixNode, WakeupNode
from vmacheck.explore.units import Key, Tally

HOT = 2000
"""An entry whose wakeup subtree grew within this many executions is kept back while other
work runs and an earlier entry at its node, whose races grew it, has work left."""

Step = tuple[int, Footprint, int, int]
"""A step of a unit's path: thread, footprint, choice value, number of values."""


@dataclass(slots=True)
class Entry:
    """One step explored from a coordinator node: a pending wakeup sequence (``hint`` is its
    wakeup subtree) or, once handed out (``hint`` None), a unit's root step."""

    tid: int
    fp: Footprint
    key: Key
    hint: list[WakeupNode] | None
    orig: list[WakeupNode] | None = None
    """Once handed out: (a copy of) the wakeup subtree it was handed out with."""
    start: int = 0
    stop: int = 0
    nvalues: int = 0
    gen: int = 0
    below: list[CNode] = field(default_factory=list)
    tally: Tally | None = None
    dead: bool = False
    grown: int = -1
    """The executions run (:attr:`vmacheck.explore.frontier.Frontier.ran`) when its wakeup
    subtree last grew."""


@dataclass(slots=True)
class CNode:
    """A node of the DPOR tree owned by the coordinator."""

    depth: int
    sleep: dict[int, Footprint]
    prefix: list[Step]
    key: Key
    up: list[tuple[CNode, int, int]]
    """The coordinator nodes above, with the entry the path to this node takes at each."""
    entries: list[Entry] = field(default_factory=list)
    dead: bool = False

    def sleep_for(self, i: int) -> dict[int, Footprint]:
        """The sleep set entry ``i`` is explored with: the node's, plus every thread of an
        earlier entry (all their values come first in the sequential order)."""
        me = self.entries[i].tid
        out = dict(self.sleep)
        for e in self.entries[:i]:
            if e.tid != me and not e.dead:
                out[e.tid] = e.fp
        return out


def frozen(steps: list[Step], sleeps: list[dict[int, Footprint]]) -> list[PrefixNode]:
    """Prefix nodes that replay ``steps`` and are never explored from; each keeps the sleep
    set its step was explored with, so that a unit drops the races it would hand back only
    for the coordinator to find them redundant."""
    return [PrefixNode(sl, [], WakeupNode(t, fp), v, n, False, [])
            for (t, fp, v, n), sl in zip(steps, sleeps, strict=True)]


def path_of(stack: list[PrefixNode], upto: int) -> list[Step]:
    """The steps the first ``upto`` nodes of ``stack`` took."""
    out: list[Step] = []
    for node in stack[:upto]:
        assert node.chosen is not None
        out.append((node.chosen.tid, node.chosen.fp, node.value, node.nvalues))
    return out


Anchor = list[tuple[CNode, int, int]]
"""A unit's path through the coordinator: node, entry index and the entry's generation."""


def incomplete(anchors: Iterable[Anchor], pending: Iterable[CNode]) -> set[tuple[int, int]]:
    """The coordinator entries (node id, index) with work left below them: on the paths of
    the units (``anchors``) and above the nodes of the pending entries."""
    out: set[tuple[int, int]] = set()
    for anchor in anchors:
        out.update((id(cn), i) for cn, i, _ in anchor)
    for node in pending:
        out.update((id(cn), i) for cn, i, _ in node.up)
    return out


def hot(cn: CNode, idx: int, busy: set[tuple[int, int]], ran: int) -> bool:
    """Is entry ``idx`` of ``cn`` likely to be rolled back if it started now (``ran``
    executions into the run): its wakeup subtree grew within the last :data:`HOT` executions,
    and an entry before it at its node (whose races grow it) still has work left (``busy``,
    from :func:`incomplete`)?"""
    e = cn.entries[idx]
    if e.grown < 0 or ran - e.grown >= HOT:
        return False
    return any((id(cn), k) in busy and not cn.entries[k].dead for k in range(idx))
