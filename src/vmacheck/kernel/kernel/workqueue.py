"""Work items and task work: ``queue_work`` (``kernel/workqueue.c``), ``task_work_add`` and
``task_work_run`` (``kernel/task_work.c``).

A work item runs in a kworker: the model starts a new thread for it and marks it a kernel
thread (``PF_KTHREAD``), which matters to ``fput``: kernel threads have no task work, so their
last ``fput`` goes to ``delayed_fput``.  Task work queued on a user task runs when the task
returns to user mode (:func:`syscall_exit_to_user_mode`) or exits (``exit_task_work``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from vmacheck.explore import spawn, thread_id
from vmacheck.kernel.include.linux.mm_types import kernel_state

ESRCH = 3


async def _kthread(body: Coroutine[Any, Any, Any]) -> Any:
    kernel_state().kthreads.add(thread_id())
    return await body


def model_kthread(name: str, body: Coroutine[Any, Any, Any]) -> Any:
    """Model helper: the op that starts ``body`` as a kernel thread named ``name``."""
    return spawn(name, _kthread(body))


def is_kthread() -> bool:
    """Model helper: ``current->flags & PF_KTHREAD`` for the calling thread."""
    return thread_id() in kernel_state().kthreads


async def queue_work(name: str, func: Callable[..., Coroutine[Any, Any, Any]],
                     *args: Any) -> None:
    """``queue_work`` (kernel/workqueue.c): run ``func(*args)`` later from a kworker (a new
    kernel thread named ``name``)."""
    await model_kthread(name, func(*args))


async def task_work_add(func: Callable[..., Awaitable[Any]], *args: Any) -> int:
    """``task_work_add`` (kernel/task_work.c) on ``current``: queue ``func(*args)`` to run
    when the task returns to user mode; -ESRCH once the task ran ``exit_task_work``."""
    works = kernel_state().task_works.setdefault(thread_id(), [])
    if works is None:
        return -ESRCH
    works.append((func, args))
    return 0


async def task_work_run() -> None:
    """``task_work_run`` (kernel/task_work.c): run the calling task's queued work, oldest
    first, until none is left."""
    works = kernel_state().task_works
    while True:
        pending = works.get(thread_id())
        if not pending:
            return
        func, args = pending.pop(0)
        await func(*args)


async def exit_task_work() -> None:
    """``exit_task_work`` (include/linux/task_work.h): ``task_work_run`` for the last time;
    afterwards ``task_work_add`` fails."""
    await task_work_run()
    kernel_state().task_works[thread_id()] = None


async def syscall_exit_to_user_mode() -> None:
    """``syscall_exit_to_user_mode`` (kernel/entry/common.c): on the way back to user mode
    the task runs its task work (``resume_user_mode_work`` → ``task_work_run``)."""
    await task_work_run()
