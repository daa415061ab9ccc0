"""Moved to :mod:`codesign.models.checkpoint` (a checkpoint is a model artifact).

A thin re-export kept for branches written against the old path; import from
``codesign.models.checkpoint`` in new code.
"""

from codesign.models.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
]
