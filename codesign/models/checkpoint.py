"""Checkpoints: the model arguments (arch, bits), the resolved config, metrics and weights.

A checkpoint is a plain dict saved with ``torch.save`` and read back with
``weights_only=True`` (no pickled code), written atomically so a killed run never leaves a
half-written file::

    {"format": 1, "arch": CnnArch.to_dict(), "bits": BitConfig.to_dict(),
     "config": {...resolved flow config...}, "metrics": {...}, "state_dict": {...}}

Example::

    save_checkpoint(run_dir / "train" / "model.pt", model, arch, bits, config=cfg_dict)
    model = load_checkpoint(run_dir / "train" / "model.pt")   # a QuantCNN in eval mode
"""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from codesign.errors import ConfigError
from codesign.io import atomic_write_bytes

if TYPE_CHECKING:
    from codesign.models.arch import CnnArch
    from codesign.models.bits import BitConfig
    from codesign.models.cnn import QuantCNN

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class Checkpoint:
    """The contents of a checkpoint file, with arch and bits as typed values.

    Attributes:
        arch: The architecture the weights belong to.
        bits: The bit-width policy.
        config: The resolved flow config that produced it (plain data), or ``None``.
        metrics: Metrics recorded at save time (plain data).
        state_dict: The model weights.
    """

    arch: CnnArch
    bits: BitConfig
    config: dict[str, Any] | None
    metrics: dict[str, Any]
    state_dict: dict[str, torch.Tensor]


def save_checkpoint(
    path: Path,
    model: nn.Module,
    arch: CnnArch,
    bits: BitConfig,
    *,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Save ``model``'s weights with the arguments that rebuild it, atomically.

    Args:
        path: Destination file (``.pt``).
        model: The trained model (built by ``build_cnn(arch, bits)``).
        arch: Its architecture.
        bits: Its bit-width policy.
        config: The resolved flow config as plain data.
        metrics: Metrics to keep with the weights.

    Returns:
        ``path``.
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "arch": arch.to_dict(),
        "bits": bits.to_dict(),
        "config": config,
        "metrics": metrics or {},
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    log.debug("saved checkpoint %s", path)
    return Path(path)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file without building the model.

    Raises:
        ConfigError: The file is missing or is not a codesign checkpoint.
    """
    from codesign.models.arch import CnnArch  # noqa: PLC0415
    from codesign.models.bits import BitConfig  # noqa: PLC0415 (brevitas: import on use)

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise ConfigError(f"{path} is not a readable checkpoint: {err}") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(
            f"{path} is not a codesign checkpoint of format {CHECKPOINT_FORMAT} "
            f"(found {found!r}); re-run the train step"
        )
    return Checkpoint(
        arch=CnnArch.from_dict(data["arch"]),
        bits=BitConfig.from_dict(data["bits"]),
        config=data.get("config"),
        metrics=data.get("metrics") or {},
        state_dict=data["state_dict"],
    )


def load_checkpoint(path: Path) -> QuantCNN:
    """Rebuild the trained model stored in ``path``, in eval mode.

    Raises:
        ConfigError: The file is missing, not a checkpoint, or its weights do not fit the
            architecture it names.
    """
    from codesign.models.cnn import build_cnn  # noqa: PLC0415

    ckpt = read_checkpoint(path)
    model = build_cnn(ckpt.arch, ckpt.bits)
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as err:
        raise ConfigError(f"{path}: weights do not fit the stored architecture: {err}") from None
    model.eval()
    return model
