"""Lock-order checking across executions, in the spirit of the kernel's lockdep.

Every blocking acquisition of a lock class while the thread holds other lock classes adds an
edge ``held -> acquired`` to a graph kept over *all* explored executions.  A cycle in that
graph is a possible deadlock even when no explored execution deadlocked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmacheck.explore.core import Execution, ThreadState
    from vmacheck.explore.findings import Location


@dataclass(frozen=True, slots=True)
class Chain:
    """How one edge was first seen: the thread, and where each lock was taken."""

    held: str
    acquired: str
    thread: str
    held_at: Location | None
    acquired_at: Location | None
    execution: int


class LockGraph:
    """The acquisition-order graph over lock classes."""

    def __init__(self) -> None:
        self.edges: dict[tuple[str, str], Chain] = {}
        self.execution = 0

    def acquire(self, ex: Execution, t: ThreadState, lock_class: str, desc: str) -> None:
        for h in t.held:
            if h.lock_class is None or h.lock_class == lock_class:
                continue
            key = (h.lock_class, lock_class)
            if key not in self.edges:  # where: looked up only for a new edge
                self.edges[key] = Chain(h.lock_class, lock_class, t.name, h.where,
                                        ex.location_of(t.tid), self.execution)

    def cycles(self) -> list[list[Chain]]:
        """Each elementary cycle once (shortest first), as the chain of edges around it."""
        graph: dict[str, list[str]] = {}
        for a, b in self.edges:
            graph.setdefault(a, []).append(b)
        found: list[list[Chain]] = []
        seen: set[frozenset[str]] = set()
        for start in sorted(graph):
            stack: list[tuple[str, list[str]]] = [(start, [start])]
            while stack:
                node, path = stack.pop()
                for nxt in sorted(graph.get(node, [])):
                    if nxt == start:
                        key = frozenset(path)
                        if key not in seen:
                            seen.add(key)
                            ring = [*path, start]
                            found.append([self.edges[(x, y)]
                                          for x, y in itertools.pairwise(ring)])
                    elif nxt not in path and nxt > start and len(path) < 6:
                        stack.append((nxt, [*path, nxt]))
        found.sort(key=len)
        return found
