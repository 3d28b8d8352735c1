"""Run the commands pasted in the documentation and compare their output with the paste.

A documented command is a line ``$ vmacheck ARGS`` inside a fenced block (`` ```console ``);
the lines after it, up to the next ``$`` line or the end of the block, are its output.  The
comparison is exact, line by line, after normalising what legitimately changes between runs
(durations, execution rates) and trailing blanks.  A paste may leave lines out where it shows
a line ``...``: the lines around it must then appear in that order, with the ``...`` standing
for any number of lines.  ``# exit N`` after the command states its exit code (default 0).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TIMES = [
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<T>s"),          # 13.2s
    (re.compile(r"\b\d+\.\d+ s\b"), "<T> s"),            # 0.12 s
    (re.compile(r"\b\d+m\d{2}s\b"), "<T>"),              # 3m50s
]


@dataclass(frozen=True)
class Paste:
    """One documented command and the output pasted under it."""

    source: str
    line: int
    args: list[str]
    exit_code: int
    output: list[str]


def pastes(path: Path) -> list[Paste]:
    """Every ``$ vmacheck ...`` command in the ```console blocks of ``path``."""
    out: list[Paste] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    in_block = False
    current: Paste | None = None
    for n, line in enumerate(lines, start=1):
        if line.startswith("```"):
            if in_block and current is not None:
                out.append(current)
                current = None
            in_block = line.strip() == "```console" if not in_block else False
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            if current is not None:
                out.append(current)
            command, _, comment = line[2:].partition("  # exit ")
            words = shlex.split(command)
            assert words[0] == "vmacheck", f"{path}:{n}: documented command is not vmacheck"
            current = Paste(str(path.relative_to(ROOT)), n, words[1:],
                            int(comment) if comment else 0, [])
        elif current is not None:
            current.output.append(line)
    return out


def normalise(text: str) -> str:
    for pattern, repl in _TIMES:
        text = pattern.sub(repl, text)
    return text.rstrip()


def run(paste: Paste) -> tuple[int, list[str]]:
    """Run the command in this process from the repository root, 100 columns wide, no
    colour; its exit code and stdout lines."""
    from vmacheck.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    old_columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*paste.args, "--no-color"] if paste.args[0] != "--version"
                        else paste.args)
    finally:
        os.chdir(cwd)
        if old_columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_columns
    return code, out.getvalue().splitlines()


def differences(paste: Paste, actual: list[str]) -> str | None:
    """None when ``actual`` is what the paste shows, else a description of the first
    difference."""
    want = [normalise(x) for x in paste.output]
    got = [normalise(x) for x in actual]
    while want and not want[-1]:
        want.pop()
    while got and not got[-1]:
        got.pop()
    where = f"{paste.source}:{paste.line}: vmacheck {' '.join(paste.args)}"
    if "..." not in [w.strip() for w in want]:
        if want == got:
            return None
        for k, (a, b) in enumerate(zip(want, got, strict=False)):
            if a != b:
                return f"{where}: output line {k + 1} differs:\n  pasted: {a!r}\n  actual: {b!r}"
        return (f"{where}: pasted {len(want)} lines, the command prints {len(got)}:\n"
                + "\n".join(got[len(want):len(want) + 5] or want[len(got):len(got) + 5]))
    # abridged: segments between "..." lines appear in order; the first segment at the start
    segments: list[list[str]] = [[]]
    for w in want:
        if w.strip() == "...":
            segments.append([])
        else:
            segments[-1].append(w)
    pos = 0
    for k, seg in enumerate(segments):
        if not seg:
            continue
        if k == 0:
            if got[: len(seg)] != seg:
                return f"{where}: the output does not start with the pasted lines: {got[:3]!r}"
            pos = len(seg)
            continue
        last = k == len(segments) - 1
        starts = [len(got) - len(seg)] if last else range(pos, len(got) - len(seg) + 1)
        found = next((i for i in starts if i >= pos and got[i:i + len(seg)] == seg), None)
        if found is None:
            what = "at the end of" if last else "in"
            return f"{where}: pasted lines not {what} the output (in order): {seg[:3]!r}"
        pos = found + len(seg)
    return None
