"""Saving and loading the frontier of a split exploration (``explore(..., checkpoint=PATH)``).

The file holds the coordinator's frontier (its nodes, pending entries and the units with their
own frontiers; units that were running are saved as pending, to be run again) and the tallies,
as they are between two slices, i.e. at an execution boundary.  It is written to a temporary
file in the same directory and renamed over the old one, so a run killed at any moment leaves
either the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import os
import pickle
import tempfile

from vmacheck.explore.frontier import Frontier
from vmacheck.explore.units import SplitError

MAGIC = "vmacheck-checkpoint-2"


class CheckpointError(SplitError):
    """The checkpoint file is not one this version of vmacheck wrote."""


def save(path: str, frontier: Frontier) -> None:
    """Atomically replace ``path`` with the frontier (which holds the tallies)."""
    data = pickle.dumps((MAGIC, frontier), protocol=pickle.HIGHEST_PROTOCOL)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".vmacheck-ckpt-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: str) -> Frontier:
    """The frontier (with its tallies) saved in ``path``."""
    try:
        with open(path, "rb") as f:
            magic, frontier = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if magic != MAGIC or not isinstance(frontier, Frontier):
        raise CheckpointError(f"{path} is not a vmacheck checkpoint")
    return frontier


def remove(path: str) -> None:
    """Remove the checkpoint of a finished exploration."""
    if os.path.exists(path):
        os.unlink(path)
