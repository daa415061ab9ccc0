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
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from codesign.models.cnn import QuantCNN
from codesign.models.switchable import SwitchableCNN
from codesign.train.dqmq_eval import Decision, Predictor
from codesign.train.fixed import train_fixed

__all__ = ["finetune_tiers", "tiered_predictor"]

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
        seed: Seeds each tier's data order (``seed * 100 + tier``).
        min_images: A tier with fewer routed images is tuned on all of them.

    Returns:
        The tiers' models, in eval mode.
    """
    models = []
    for t, choice in enumerate(np.asarray(tiers)):
        model = net.freeze([int(c) for c in choice])
        idx = torch.from_numpy(np.flatnonzero(np.asarray(routed) == t))
        if idx.numel() < max(min_images, 2 * batch_size):
            idx = torch.arange(labels.shape[0])
        log.info("tier %d %s: fine-tuning on %d images", t, choice.tolist(), idx.numel())
        train_fixed(model, images[idx], labels[idx], epochs=epochs, lr=lr,
                    batch_size=min(batch_size, idx.numel()), seed=seed * 100 + t)  # fmt: skip
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
