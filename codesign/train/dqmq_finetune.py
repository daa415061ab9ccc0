"""Per-tier fine-tuning: each deployed tier gets its own weights, tuned on its own inputs.

A dataflow design has one static precision per layer *and its own weights*: nothing on the
FPGA shares weights between tiers. The switchable network shares one float weight set
across every precision, which costs accuracy (a shared W3A3 path is 1-7 points below a
dedicated W3A3 network in codesign's runs). So after training, each tier is frozen into a
plain family model (:meth:`SwitchableCNN.freeze`, bit-exact to the switchable net) and
fine-tuned by :func:`codesign.train.fixed.train_fixed` on the training images the router
sends to it: the noise tier's weights see noisy images, the clean tier's clean ones. A tier
the router sends fewer than ``min_images`` training images is tuned on all of them.

K = 1 (the static policy's single configuration) is the same operation on all the data.

The tuned models are what the flow deploys (``dqmq.tier_finetune_epochs``):
:func:`save_tier_models` writes them next to ``tiers.json``, :func:`load_tier_models` reads
them back for ``deploy_tiers``, which compiles and simulates each one bit-exactly.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from codesign.errors import ConfigError
from codesign.io import atomic_write_bytes
from codesign.models.arch import CnnArch
from codesign.models.bits import BitConfig
from codesign.models.cnn import QuantCNN, build_cnn
from codesign.models.switchable import SwitchableCNN
from codesign.train.dqmq_eval import Decision, Predictor
from codesign.train.fixed import train_fixed

__all__ = [
    "finetune_tiers",
    "load_tier_model",
    "load_tier_models",
    "save_tier_models",
    "tiered_predictor",
]

TIER_MODELS_FORMAT = "dqmq-tiers-1"

log = logging.getLogger(__name__)


def finetune_tiers(
    net: SwitchableCNN,
    tiers: np.ndarray,
    routed: np.ndarray,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    min_images: int = 256,
    tier_ids: Sequence[int] | None = None,
    nets: Sequence[SwitchableCNN] | None = None,
) -> list[QuantCNN]:
    """One fine-tuned plain model per tier.

    Args:
        net: The trained switchable network (not modified).
        tiers: ``(T, L)`` candidate index per tier and layer.
        routed: ``(N,)`` the tier of each training image (the router's decision).
        images: ``(N, 1, H, W)`` training images.
        labels: ``(N,)`` classes.
        epochs: Fine-tuning epochs per tier.
        lr: Peak learning rate (cosine-decayed).
        batch_size: Images per step.
        seed: Seeds each tier's data order (``seed * 100 + tier id``).
        min_images: A tier with fewer routed images is tuned on all of them.
        tier_ids: The id of each tier in the seed (default its index): a caller that
            reorders the tiers passes their original indices, so each tier is tuned the same.
        nets: One network per tier to freeze instead of ``net`` (tiers trained apart).

    Returns:
        The tiers' models, in eval mode.
    """
    models = []
    ids = list(range(len(tiers))) if tier_ids is None else [int(i) for i in tier_ids]
    for t, choice in enumerate(np.asarray(tiers)):
        source = net if nets is None else nets[t]
        model = source.freeze([int(c) for c in choice])
        idx = torch.from_numpy(np.flatnonzero(np.asarray(routed) == t))
        if idx.numel() < max(min_images, 2 * batch_size):
            idx = torch.arange(labels.shape[0])
        log.info("tier %d %s: fine-tuning on %d images", t, choice.tolist(), idx.numel())
        train_fixed(model, images[idx], labels[idx], epochs=epochs, lr=lr,
                    batch_size=min(batch_size, idx.numel()), seed=seed * 100 + ids[t])  # fmt: skip
        models.append(model.eval())
    return models


def tiered_predictor(
    models: Sequence[QuantCNN], tiers: np.ndarray, route: object | None = None
) -> Predictor:
    """Route each input, then run its tier's own model (a method for ``evaluate_method``).

    ``route(features (B, F) numpy) -> (B,)`` tier indices; None sends everything to tier 0.
    """
    tier_choice = torch.as_tensor(np.asarray(tiers), dtype=torch.long)  # (T, L)

    def predict(x: Tensor, f: Tensor) -> Decision:
        if route is None:
            t = torch.zeros(x.shape[0], dtype=torch.long)
        else:
            t = torch.as_tensor(route(f.double().numpy()), dtype=torch.long)  # type: ignore[operator]
        logits = torch.empty(0)
        for k, model in enumerate(models):
            rows = torch.nonzero(t == k).squeeze(1)
            if rows.numel() == 0:
                continue
            out = model(x[rows])
            if logits.numel() == 0:
                logits = out.new_zeros(x.shape[0], out.shape[1])
            logits[rows] = out
        return Decision(logits, choice=tier_choice[t])

    return predict


def save_tier_models(path: Path, models: Sequence[QuantCNN], tiers: np.ndarray) -> Path:
    """Write the tiers' models (bits and state dicts) atomically with ``torch.save``."""
    payload = {
        "format": TIER_MODELS_FORMAT,
        "choices": np.asarray(tiers).tolist(),
        "bits": [m.bits.to_dict() for m in models],
        "state": [m.state_dict() for m in models],
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(Path(path), buf.getvalue())


def _tier_payload(path: Path) -> dict[str, Any]:
    try:
        payload = torch.load(Path(path), weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as err:
        raise ConfigError(
            f"cannot read the tier models {path}: {str(err).splitlines()[0][:120]}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != TIER_MODELS_FORMAT:
        raise ConfigError(f"{path} is not a {TIER_MODELS_FORMAT} file")
    return payload


def load_tier_model(
    path: Path, arch: CnnArch, choice: Sequence[int], index: int | None = None
) -> QuantCNN:
    """The model of :func:`save_tier_models`'s file whose tier is ``choice``, in eval mode.

    Two tiers may deploy the same choice with weights of their own (``dqmq.router: quality``
    cuts regions, not designs): ``index`` (the tier's number in ``tiers.json``) picks its own
    when that slot holds ``choice``; otherwise the first tier with ``choice``.

    Raises:
        ConfigError: Not such a file, or no tier of it is ``choice`` (a stale file).
    """
    payload = _tier_payload(path)
    want = [int(c) for c in choice]
    if want not in payload["choices"]:
        raise ConfigError(
            f"{path} holds tiers {payload['choices']}, not {want}; re-run the tiers step"
        )
    own = index is not None and 0 <= index < len(payload["choices"])
    if own and payload["choices"][index] == want:
        return _tier_net(arch, payload, index)
    return _tier_net(arch, payload, payload["choices"].index(want))


def load_tier_models(path: Path, arch: CnnArch, tiers: np.ndarray) -> list[QuantCNN]:
    """The models :func:`save_tier_models` wrote, in eval mode, checked against ``tiers``.

    Raises:
        ConfigError: Not such a file, or its tiers are not ``tiers`` (a stale file).
    """
    payload = _tier_payload(path)
    if payload["choices"] != np.asarray(tiers).tolist():
        raise ConfigError(
            f"{path} holds tiers {payload['choices']}, tiers.json {np.asarray(tiers).tolist()}; "
            "re-run the tiers step"
        )
    return [_tier_net(arch, payload, i) for i in range(len(payload["choices"]))]


def _tier_net(arch: CnnArch, payload: dict[str, Any], i: int) -> QuantCNN:
    """Tier ``i`` of a tier-models payload as a plain model at its bits, in eval mode."""
    model = build_cnn(arch, BitConfig.from_dict(payload["bits"][i]))
    model.load_state_dict(payload["state"][i])
    return model.eval()
