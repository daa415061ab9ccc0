"""Training: the fixed-precision loop (:mod:`codesign.train.fixed`) and checkpoints.

Later issues add the quality-aware mixed-precision policy as another module here.
"""

from codesign.models.checkpoint import (
    Checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from codesign.train.fixed import TrainStats, evaluate_accuracy, predict, train_fixed

__all__ = [
    "Checkpoint",
    "TrainStats",
    "evaluate_accuracy",
    "load_checkpoint",
    "predict",
    "read_checkpoint",
    "save_checkpoint",
    "train_fixed",
]
