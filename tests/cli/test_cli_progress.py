"""Live progress (run N of M, the estimate, the current run's executions and rate, sized to
the terminal, also with --json) and a variant that never awaits (a soft lockup, not a hang)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

from terminal import run_in_pty

from vmacheck.cli_progress import Progress
from vmacheck.explore.api import Progress as ExploreProgress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_says_run_n_of_m_estimate_executions_and_rate() -> None:
    p = Progress(_Tty(), color=False)
    p.begin(12, deadline=time.monotonic() + 90)
    p.start("binder-shrink-fork [binder_alloc_free_page@hansen-v2]")
    p(ExploreProgress(executions=400, findings=2, elapsed=2.0, steps=9000, mode="dpor"))
    for width in (60, 80, 120):
        line = p.line(width)
        assert len(line) < width, (width, line)
        assert line.startswith("run 1/12, <=") and "s left " in line
        assert re.search(r" 400 exec \(200/s\), 2 found, \d+s$", line), line
    p.start("binder-shrink-mprotect")
    line = p.line(80)
    assert line.startswith("run 2/12, ~") and "binder-shrink-mprotect" in line
    p.close()


def test_progress_is_drawn_on_the_terminal_also_with_json() -> None:
    code, text = run_in_pty(["check", "test-slow-minimise", "--mode", "random",
                             "--max-executions", "1", "--max-seconds", "3", "--json"])
    assert code == 1
    assert "run 1/1" in text  # the live line went to the terminal (stderr)
    assert '"scenario": "test-slow-minimise"' in text


SPIN = '''from vmacheck.kernel.variants import variant


@variant("vma_start_write", "spins")
async def vma_start_write_spins(vma):
    """vma_start_write that waits for readers by spinning on a local copy."""
    readers = await vma.vm_refcnt.load()
    while readers > 1:  # never awaits: a soft lockup
        readers = readers + 0
'''


def test_variant_that_never_awaits_is_a_soft_lockup_in_the_variant(tmp_path: Path) -> None:
    path = tmp_path / "spins.py"
    path.write_text(SPIN)
    start = time.monotonic()
    code, text = run_in_pty(["check", "mm-munmap-waits-for-vma-reader", "--variant-file",
                             str(path), "--variant", "vma_start_write@spins",
                             "--max-seconds", "20", "--no-color"], cols=120)
    took = time.monotonic() - start
    assert code == 1, text
    assert "soft-lockup in vma_start_write_spins" in text
    assert re.search(rf"{re.escape(str(path))}:[89]\b", text), text  # the loop's lines
    assert took < 60, took  # stopped within the budget, not a hang
