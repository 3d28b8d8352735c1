"""Live progress of the command line, drawn with ``rich`` on a terminal's stderr.

One transient line, sized to the terminal: run N of M, the current scenario and versions, the
current run's executions and rate, findings so far, and the estimate for the whole command.
Off a terminal a single summary line per run goes to stderr instead (so logs show what ran),
except when ``--json`` goes to stdout.  The explorer knows nothing of this module: it calls
back with :class:`vmacheck.explore.api.Progress` values.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from vmacheck.explore.api import Progress as ExploreProgress


class Progress:
    """Progress of a command that makes ``total`` runs (set by :meth:`begin`)."""

    def __init__(self, stream: TextIO, *, color: bool = True, quiet: bool = False) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.quiet = quiet
        self.console = Console(file=stream, force_terminal=self.tty,
                               no_color=not color, highlight=False, emoji=False)
        self.total = 0
        self.index = 0
        self.label = ""
        self.deadline: float | None = None
        self._start = time.monotonic()
        self._run_start = self._start
        self._live: Live | None = None
        self._last: ExploreProgress | None = None

    def begin(self, total: int, deadline: float | None = None) -> None:
        """The command will make ``total`` runs and must end by ``deadline`` (monotonic)."""
        self.total = total
        self.deadline = deadline
        self._start = time.monotonic()
        if self.tty and self._live is None:
            self._live = Live(Text(""), console=self.console, transient=True,
                              auto_refresh=False, redirect_stdout=False,
                              redirect_stderr=False)
            self._live.start()

    def start(self, label: str, limit: int | None = None) -> None:
        """Run number ``index + 1`` begins."""
        self.index += 1
        self.label = label
        self._run_start = time.monotonic()
        self._last = None
        self._draw()

    def __call__(self, p: ExploreProgress) -> None:
        self._last = p
        self._draw()

    def line(self, width: int) -> str:
        """The progress line for a terminal ``width`` columns wide."""
        now = time.monotonic()
        done = self.index - 1
        spent = now - self._start
        left = ""
        if done > 0 and self.total > done:
            est = spent / done * (self.total - done)
            if self.deadline is not None:
                est = min(est, max(self.deadline - now, 0.0))
            left = f", ~{est:.0f}s left"
        elif self.deadline is not None:
            left = f", <={max(self.deadline - now, 0.0):.0f}s left"
        head = f"run {self.index}/{self.total}{left} "
        p = self._last
        if p is not None:
            rate = p.executions / p.elapsed if p.elapsed > 0 else 0.0
            tail = (f" {p.executions} exec ({rate:.0f}/s), {p.findings} found, "
                    f"{now - self._run_start:.0f}s")
        else:
            tail = " starting"
        room = max(width - len(head) - len(tail) - 1, 8)
        label = self.label if len(self.label) <= room else self.label[: room - 1] + "…"
        return (head + label + tail)[: max(width - 1, 10)]

    def _draw(self) -> None:
        if self._live is None:
            return
        self._live.update(Text(self.line(self.console.width), style="dim"), refresh=True)

    def done(self, summary: str) -> None:
        """The current run ended; off a terminal, say how it went in one line."""
        if self.tty or self.quiet:
            return
        self.stream.write(f"vmacheck: {summary}\n")
        self.stream.flush()

    def close(self) -> None:
        """Remove the live line (before the report is printed)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
