"""File references (``fs/file_table.c``): ``get_file``, ``fput`` and its deferral.

The last ``fput`` does not release the file in place: from a user task it queues
``____fput`` as task work (run when the task returns to user mode or exits), from a kernel
thread it goes to the ``delayed_fput`` work.  ``__fput`` then calls ``f_op->release`` (binder's
``binder_release``) and frees the file.
"""

from __future__ import annotations

from vmacheck.explore import WARN_ON
from vmacheck.kernel.include.linux.mm_types import File
from vmacheck.kernel.kernel.workqueue import is_kthread, queue_work, task_work_add


async def get_file(f: File) -> File:
    """``get_file`` (include/linux/fs.h): take another reference (``mmap`` takes one for
    ``vma->vm_file``)."""
    old = await f.f_count.fetch_add(1)
    WARN_ON(old <= 0, f"get_file on {f} with f_count {old}")
    return f


async def __fput(f: File) -> None:
    """``__fput`` (fs/file_table.c): ``f_op->release`` then ``file_free``."""
    if f.f_op.release is not None:
        await f.f_op.release(f)
    await f.memory.free()


async def ____fput(f: File) -> None:
    """``____fput`` (fs/file_table.c): the task-work callback, ``__fput``."""
    await __fput(f)


async def delayed_fput(f: File) -> None:
    """``delayed_fput`` (fs/file_table.c): the work item that ``__fput``s files whose last
    reference went from a kernel thread."""
    await __fput(f)


async def fput(f: File) -> None:
    """``fput`` (fs/file_table.c): drop a reference; the last one queues ``____fput`` as task
    work of the current task (``task_work_add``), or, from a kernel thread or after the task
    ran ``exit_task_work``, schedules ``delayed_fput``."""
    old = await f.f_count.fetch_add(-1)
    WARN_ON(old <= 0, f"fput on {f} with f_count {old}")
    if old != 1:
        return
    if not is_kthread() and await task_work_add(____fput, f) == 0:
        return
    await queue_work(f"delayed_fput {f.f_op.name}", delayed_fput, f)
