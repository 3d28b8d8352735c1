"""Schedule strings: the compact, replayable form of an interleaving.

A schedule lists which thread ran at each step, run-length encoded: ``"0*3,1,0*2"`` means
thread 0 ran three steps, thread 1 one, thread 0 two.  Thread ids are the order in which the
model created its threads (spawned threads follow in order of spawning).

A step that made a nondeterministic choice (:func:`vmacheck.explore.choice`: an injected
failure, a signal, the store a weak-memory load reads) carries its value when it is not 0:
``"0*3,1:2,0*2"`` means thread 1's step took value 2.  Steps written without a value take 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping


class ScheduleError(ValueError):
    """A malformed schedule string, or one that does not fit the model."""


def format_schedule(tids: list[int], choices: Mapping[int, int] | None = None) -> str:
    """The schedule string of ``tids``; ``choices`` maps step index to the value its choice
    took (values of 0 are left out)."""
    parts: list[str] = []
    marked = {i for i, v in choices.items() if v} if choices else set()
    i = 0
    while i < len(tids):
        if i in marked:
            assert choices is not None
            parts.append(f"{tids[i]}:{choices[i]}")
            i += 1
            continue
        j = i
        while j < len(tids) and tids[j] == tids[i] and j not in marked:
            j += 1
        run = j - i
        parts.append(str(tids[i]) if run == 1 else f"{tids[i]}*{run}")
        i = j
    return ",".join(parts)


def parse_schedule(text: str) -> list[int]:
    """Parse a schedule string into thread ids (choice values dropped: see
    :func:`parse_schedule_choices`); raises :class:`ScheduleError` saying what is wrong."""
    return parse_schedule_choices(text)[0]


def parse_schedule_choices(text: str) -> tuple[list[int], dict[int, int]]:
    """Parse a schedule string into thread ids and the choice values of its steps (step index
    to value); raises :class:`ScheduleError` saying what is wrong and where."""
    text = text.strip()
    if not text:
        return [], {}
    out: list[int] = []
    choices: dict[int, int] = {}
    pos = 0
    for part in text.split(","):
        token = part.strip()
        where = f"at character {pos + 1} ({part!r})"
        pos += len(part) + 1
        if not token:
            raise ScheduleError(f"empty segment in schedule {where}")
        if ":" in token:
            tid_text, _, value_text = token.partition(":")
            if not tid_text.strip().isdigit():
                raise ScheduleError(f"thread id must be a non-negative integer {where}")
            if not value_text.strip().isdigit():
                raise ScheduleError(f"choice value must be a non-negative integer {where}")
            choices[len(out)] = int(value_text)
            out.append(int(tid_text))
            continue
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
    return out, choices


def context_switches(tids: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(tids) if a != b)
