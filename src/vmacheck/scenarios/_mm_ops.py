"""What the ``mm-ops-*`` scenario modules share: the VMA protection they map with and the
outcome text for the pages a mm maps."""

from __future__ import annotations

from vmacheck.kernel.mm import VM_READ, VM_WRITE, MmStruct

RW = VM_READ | VM_WRITE


def mapped_pages(mm: MmStruct) -> str:
    """The addresses whose PTE maps a page, in order (for outcome labels)."""
    return ",".join(f"{a:#x}" for a, v in mm.pte.made_items() if v.peek() is not None)
