"""BPF stackmap scenarios: a sleepable ``bpf_get_stack(BPF_F_USER_BUILD_ID)`` resolving a
user IP to a build id while that VMA is unmapped or mprotected.

The process has a file-backed text VMA at ``0xc000``.  ``stack_map_lock_vma@mainline`` runs
with the ``PER_VMA_LOCK`` configuration switch on or off; ``@hansen-p1`` models the series'
patch 1 applied (run it with ``SERIES_APPLIED``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from vmacheck.kernel.kernel.bpf.stackmap import stack_map_get_build_id_offset_sleepable
from vmacheck.kernel.mm import (
    VM_EXEC,
    VM_READ,
    File,
    FileOperations,
    MmStruct,
    boot,
    do_mprotect_pkey,
    setup_vma,
    sys_munmap,
)
from vmacheck.scenarios.catalogue import Scenario, register, seed_versions

TEXT_START = 0xC000
TEXT_LEN = 0x1000
FUNCTIONS = ("stack_map_lock_vma",)

seed_versions("stack_map_lock_vma", ("mainline", "hansen-p1"))

Thread = tuple[str, Coroutine[Any, Any, Any]]


def _world() -> MmStruct:
    boot(vmas=4, generations=2, pages=4, threads=3)
    mm = MmStruct("mm")
    text = File(FileOperations("ext4_file_operations"))
    setup_vma(mm, TEXT_START, TEXT_START + TEXT_LEN, VM_READ | VM_EXEC, vm_file=text)
    return mm


def _scenario(name: str, summary: str, build: Callable[[], list[Thread]], doc: str) -> None:
    register(Scenario(name, summary, build, functions=FUNCTIONS, doc=doc, group="bpf",
                      max_steps=1_000))


def _munmap() -> list[Thread]:
    mm = _world()
    return [("bpf_get_stack", stack_map_get_build_id_offset_sleepable(mm, [TEXT_START])),
            ("munmap", sys_munmap(mm, TEXT_START, TEXT_LEN))]


_scenario("bpf-stackmap-munmap", "stackmap build-id lookup while the text VMA is unmapped",
          _munmap,
          "The lookup holds the VMA (or mmap) read lock only while it reads vm_file/vm_pgoff; "
          "munmap must complete once it is dropped.")


def _mprotect() -> list[Thread]:
    mm = _world()
    return [("bpf_get_stack", stack_map_get_build_id_offset_sleepable(mm, [TEXT_START])),
            ("mprotect", do_mprotect_pkey(mm, TEXT_START, TEXT_LEN, VM_READ))]


_scenario("bpf-stackmap-mprotect", "stackmap build-id lookup while the text VMA is mprotected",
          _mprotect,
          "mprotect write-locks the VMA (waiting for the lookup's read lock) or makes the "
          "lookup's fast path fail.")
