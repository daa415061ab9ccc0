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
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from codesign.errors import ConfigError, CorruptInputError
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

    The file is loaded with ``torch.load(weights_only=True)``: plain data and tensors only,
    never pickled code. Then its layout is checked against what :func:`save_checkpoint`
    writes (:data:`CHECKPOINT_KEYS`).

    Raises:
        ConfigError: The file is missing.
        CorruptInputError: The file is empty, truncated, not a torch file, holds pickled
            objects (a whole ``nn.Module``), or is a torch file of another layout. The
            message says what the file is and what was expected, in one line.
    """
    from codesign.models.arch import CnnArch  # noqa: PLC0415
    from codesign.models.bits import BitConfig  # noqa: PLC0415 (brevitas: import on use)

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint not found: {path}")
    data = _load_plain(path)
    if not isinstance(data, dict):
        raise _not_ours(path, f"a torch file holding a {type(data).__name__}")
    missing = [k for k in CHECKPOINT_KEYS if k not in data]
    if missing:
        keys = ", ".join(sorted(map(str, data))[:6]) or "none"
        raise _not_ours(path, f"a torch dict without {', '.join(missing)} (keys: {keys})")
    if data["format"] != CHECKPOINT_FORMAT:
        raise _not_ours(path, f"a codesign checkpoint of format {data['format']!r}")
    state = data["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _not_ours(path, "a checkpoint whose state_dict is not a dict of tensors")
    try:
        arch = CnnArch.from_dict(data["arch"])
        bits = BitConfig.from_dict(data["bits"])
    except (ConfigError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise _not_ours(path, f"a checkpoint with an unreadable arch or bits ({err})") from None
    return Checkpoint(
        arch=arch,
        bits=bits,
        config=data.get("config"),
        metrics=data.get("metrics") or {},
        state_dict=state,
    )


# What save_checkpoint writes; read_checkpoint requires these keys.
CHECKPOINT_KEYS = ("format", "arch", "bits", "state_dict")
_EXPECTED = (
    f"expected a codesign checkpoint (a torch.save'd dict with {', '.join(CHECKPOINT_KEYS)}, "
    "as the train step writes to RUN/train/model.pt)"
)


def _not_ours(path: Path, found: str) -> CorruptInputError:
    return CorruptInputError(f"{path} is {found}; {_EXPECTED}")


def _load_plain(path: Path) -> object:
    """``torch.load(weights_only=True)``, with one-line messages for every kind of bad file."""
    size = path.stat().st_size
    if size == 0:
        raise _not_ours(path, "empty (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(4)
    if not zipfile.is_zipfile(path):
        if head.startswith(b"PK"):
            raise _not_ours(path, f"a truncated or damaged torch file ({size} bytes)")
        if head[:1] == b"\x80":
            raise _not_ours(path, "a legacy (non-zip) pickle file")
        raise _not_ours(path, f"not a torch file ({size} bytes starting {head!r})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch's text advises weights_only=False: never for a file of unknown origin.
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        what = f" ({found.group(1)})" if found else ""
        raise _not_ours(
            path, f"a torch file holding pickled Python objects{what}, not plain weights"
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError, KeyError, zipfile.BadZipFile) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise _not_ours(path, f"a truncated or damaged torch file ({first})") from None


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
