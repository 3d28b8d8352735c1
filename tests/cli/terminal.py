"""Run the command line under a pseudo-terminal of a given size, and replay what it wrote
on a minimal terminal model to count the rows a user would see (live progress included)."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def default_sigint() -> None:
    """In a child before it runs: Ctrl-C as a terminal user's (a shell that runs commands in
    the background, as a CI script may, ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_in_pty(args: list[str], *, rows: int = 24, cols: int = 80, timeout: float = 300,
               interrupt_after: float | None = None,
               env: dict[str, str] | None = None, real: bool = False) -> tuple[int, str]:
    """Run ``vmacheck ARGS`` on a pty; (exit code, bytes written to the terminal as text).
    With ``real`` the plain command line runs, else the one with the test fixture scenarios.
    ``interrupt_after`` sends SIGINT after that many seconds."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    environ = {**os.environ, "COLUMNS": str(cols), "LINES": str(rows), "TERM": "xterm",
               **(env or {})}
    entry = ["-m", "vmacheck.cli"] if real else [str(HERE / "run_with_fixtures.py")]
    proc = subprocess.Popen([sys.executable, *entry, *args],
                            stdin=slave, stdout=slave, stderr=slave, env=environ,
                            close_fds=True, preexec_fn=default_sigint)
    os.close(slave)
    chunks: list[bytes] = []
    start = time.monotonic()
    sent = False
    while True:
        if interrupt_after is not None and not sent and \
                time.monotonic() - start >= interrupt_after:
            proc.send_signal(signal.SIGINT)
            sent = True
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
        if time.monotonic() - start > timeout:
            proc.kill()
            raise AssertionError("command did not finish in time")
    os.close(master)
    code = proc.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace")


def screen_rows(text: str, cols: int = 80) -> list[str]:
    """The rows a terminal ``cols`` wide shows after ``text`` (unbounded scroll-back):
    printable characters wrap at the right margin, ``\\n`` and ``\\r`` move the cursor, and
    the CSI sequences rich uses (cursor up/down/column, erase line) are applied."""
    lines: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\x1b":
            m = _CSI.match(text, i)
            if m is None:  # another escape (OSC, charset): skip to its end
                j = text.find("\x07", i)
                i = j + 1 if j >= 0 else i + 2
                continue
            params, cmd = m.group(1), m.group(2)
            n = int(params.split(";")[0]) if params[:1].isdigit() else 1
            if cmd == "A":
                row = max(row - n, 0)
            elif cmd == "B":
                row += n
            elif cmd == "G":
                col = n - 1
            elif cmd == "K":
                while len(lines) <= row:
                    lines.append([])
                if params in ("2",):
                    lines[row] = []
                else:
                    del lines[row][col:]
            i = m.end()
            continue
        if ch == "\n":
            row += 1
            col = 0
        elif ch == "\r":
            col = 0
        elif ch >= " ":
            if col >= cols:
                row += 1
                col = 0
            while len(lines) <= row:
                lines.append([])
            cur = lines[row]
            while len(cur) < col:
                cur.append(" ")
            if col < len(cur):
                cur[col] = ch
            else:
                cur.append(ch)
            col += 1
        i += 1
    out = ["".join(x).rstrip() for x in lines]
    while out and not out[-1]:
        out.pop()
    return out
