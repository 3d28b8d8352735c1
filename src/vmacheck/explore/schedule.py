"""Schedule strings: the compact, replayable form of an interleaving.

A schedule lists which thread ran at each step, run-length encoded: ``"0*3,1,0*2"`` means
thread 0 ran three steps, thread 1 one, thread 0 two.  Thread ids are the order in which the
model created its threads (spawned threads follow in order of spawning).
"""

from __future__ import annotations

import itertools


class ScheduleError(ValueError):
    """A malformed schedule string, or one that does not fit the model."""


def format_schedule(tids: list[int]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(tids):
        j = i
        while j < len(tids) and tids[j] == tids[i]:
            j += 1
        run = j - i
        parts.append(str(tids[i]) if run == 1 else f"{tids[i]}*{run}")
        i = j
    return ",".join(parts)


def parse_schedule(text: str) -> list[int]:
    """Parse a schedule string; raises :class:`ScheduleError` saying what is wrong and where."""
    text = text.strip()
    if not text:
        return []
    out: list[int] = []
    pos = 0
    for part in text.split(","):
        token = part.strip()
        where = f"at character {pos + 1} ({part!r})"
        pos += len(part) + 1
        if not token:
            raise ScheduleError(f"empty segment in schedule {where}")
        tid_text, star, count_text = token.partition("*")
        if not tid_text.strip().isdigit():
            raise ScheduleError(f"thread id must be a non-negative integer {where}")
        count = 1
        if star:
            if not count_text.strip().isdigit() or int(count_text) < 1:
                raise ScheduleError(f"repeat count must be a positive integer {where}")
            count = int(count_text)
            if count > 10_000_000:
                raise ScheduleError(f"repeat count too large {where}")
        out.extend([int(tid_text)] * count)
    return out


def context_switches(tids: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(tids) if a != b)
