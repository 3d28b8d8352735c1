"""Task exit (``kernel/exit.c``): the address space, then the files, then the task work."""

from __future__ import annotations

from collections.abc import Sequence

from vmacheck.kernel.fs.file_table import fput
from vmacheck.kernel.include.linux.mm_types import File, MmStruct
from vmacheck.kernel.kernel.workqueue import exit_task_work
from vmacheck.kernel.mm.fork import mmput


async def exit_mm(mm: MmStruct) -> None:
    """``exit_mm`` (kernel/exit.c): the task lets go of its address space (``mmput``; the last
    user tears it down with ``exit_mmap``)."""
    await mmput(mm)


async def exit_files(files: Sequence[File]) -> None:
    """``exit_files`` → ``put_files_struct`` → ``close_files`` (fs/file.c): ``fput`` every
    open file of the descriptor table."""
    for f in files:
        await fput(f)


async def do_exit(mm: MmStruct, files: Sequence[File] = ()) -> None:
    """``do_exit`` (kernel/exit.c), the parts that touch the mm and files: ``exit_mm``,
    ``exit_files``, then ``exit_task_work`` (where a last ``fput``'s ``____fput`` runs)."""
    await exit_mm(mm)
    await exit_files(files)
    await exit_task_work()
