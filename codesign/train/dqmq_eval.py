"""Evaluation of DQMQ methods on clean data and on every corruption x severity.

A *method* is a function ``predict(x, f) -> Decision``: class logits plus the precisions it
used, either hard (``(B, L)`` candidate indices per sample) or soft (per-layer probabilities).
:func:`evaluate_method` reports, per condition, accuracy, mean bits per layer and the
surrogate's expected normalized cost; :func:`method_predictors` builds the methods of one
trained DQMQ network (policy soft / hard, tiers + router, the switchable net at each uniform
precision).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from codesign.cost.protocol import CostSurrogate
from codesign.models.switchable import SwitchableCNN
from codesign.policy.policy import QualityPolicy
from codesign.policy.quality_router import QualityRouter
from codesign.policy.tiers import Router

__all__ = ["Condition", "Decision", "evaluate_method", "method_predictors", "test_conditions"]


@dataclass(frozen=True)
class Condition:
    """One test condition: ``clean`` (severity 0) or a corruption at a severity."""

    name: str
    severity: int
    images: Tensor  # (N, 1, H, W)
    labels: Tensor  # (N,)
    features: Tensor  # (N, F)


@dataclass(frozen=True)
class Decision:
    """What a method did on a batch: logits and its precisions (hard or soft)."""

    logits: Tensor  # (B, classes)
    choice: Tensor | None = None  # (B, L) hard candidate indices
    probs: list[Tensor] | None = None  # L x (B, K_i) soft


Predictor = Callable[[Tensor, Tensor], Decision]


def test_conditions(
    images: Tensor, labels: Tensor, corruptions: Sequence[str], severities: Sequence[int], seed: int
) -> list[Condition]:
    """Clean test data and each corruption x severity, corrupted with a seed per condition.

    The seed of ``(name, severity)`` is ``crc32("name:severity") ^ seed``, as in the flow's
    ``evaluate`` step, so the noise does not depend on the list order.
    """
    from codesign.quality import corrupt, quality_features  # noqa: PLC0415

    out = [Condition("clean", 0, images, labels, quality_features(images))]
    for name in corruptions:
        for severity in severities:
            gen = torch.Generator().manual_seed(zlib.crc32(f"{name}:{severity}".encode()) ^ seed)
            noisy = corrupt(images, name, severity, gen)  # (N, 1, H, W)
            out.append(Condition(name, severity, noisy, labels, quality_features(noisy)))
    return out


@torch.no_grad()
def evaluate_method(
    predict: Predictor,
    conditions: Sequence[Condition],
    surrogate: CostSurrogate,
    bits_table: Sequence[Sequence[tuple[int, int]]],
    batch_size: int = 500,
    pricer: Any | None = None,
) -> list[dict[str, object]]:
    """Accuracy, mean bits per layer and expected cost of ``predict`` on every condition.

    Args:
        predict: The method.
        conditions: Test conditions.
        surrogate: Prices the precisions (normalized cost).
        bits_table: Per layer and candidate ``(w, a)``.
        batch_size: Images per call.
        pricer: Optional ``price(choice) -> {"lut", "dsp", "bram18", "cycles"}`` (a
            :class:`~codesign.policy.costs.DesignPricer`): adds the mean over images of the
            priced design of each image's hard choice (soft methods: of its argmax).

    Returns:
        One row per condition: ``condition``, ``severity``, ``accuracy``, ``bits`` (per
        layer, mean of ``(w + a) / 2``), ``mean_bits``, ``cost`` (mean normalized cost),
        ``configs`` (the static choices used and how often), and with a pricer ``lut``,
        ``dsp``, ``cycles``.
    """
    bits = [torch.tensor([(w + a) / 2.0 for w, a in layer]) for layer in bits_table]
    sizes = [len(layer) for layer in bits_table]
    rows = []
    for cond in conditions:
        correct, n = 0, 0
        layer_bits = torch.zeros(len(bits))
        cost = 0.0
        configs: dict[tuple[int, ...], int] = {}
        for start in range(0, cond.labels.shape[0], batch_size):
            x = cond.images[start : start + batch_size]
            f = cond.features[start : start + batch_size]
            y = cond.labels[start : start + batch_size]
            d = predict(x, f)
            correct += int((d.logits.argmax(dim=1) == y).sum())
            n += y.numel()
            if d.choice is not None:
                probs = [F.one_hot(d.choice[:, i], k).float() for i, k in enumerate(sizes)]
            else:
                probs = d.probs or []
            layer_bits += torch.stack([(p @ b).sum() for p, b in zip(probs, bits, strict=True)])
            cost += float(surrogate.expected(probs).sum())
            hard = torch.stack([p.argmax(dim=-1) for p in probs], dim=1)  # (B, L)
            for row, count in zip(*torch.unique(hard, dim=0, return_counts=True), strict=True):
                key = tuple(row.tolist())
                configs[key] = configs.get(key, 0) + int(count)
        per_layer = (layer_bits / n).tolist()
        rows.append(
            {
                "condition": cond.name,
                "severity": cond.severity,
                "accuracy": round(correct / n, 5),
                "bits": [round(b, 3) for b in per_layer],
                "mean_bits": round(float(np.mean(per_layer)), 4),
                "cost": round(cost / n, 5),
                "configs": [
                    [list(k), v] for k, v in sorted(configs.items(), key=lambda kv: -kv[1])
                ],
            }
        )
        if pricer is not None:
            for key in ("lut", "dsp", "cycles"):
                total = sum(pricer.price(c)[key] * v for c, v in configs.items())
                rows[-1][key] = round(total / n, 2)
    return rows


def method_predictors(
    net: SwitchableCNN,
    policy: QualityPolicy | None,
    router: Router | QualityRouter | None = None,
    uniform: Sequence[tuple[int, int]] = (),
) -> dict[str, Predictor]:
    """The methods of one trained switchable network.

    ``policy_hard`` (argmax per layer), ``policy_soft`` (every option mixed by the policy's
    probabilities; not deployable, the relaxation's own accuracy), ``tiers`` (router ->
    the tier's static choice), and ``switchable_w{w}a{a}`` for each pair in ``uniform``.
    """
    out: dict[str, Predictor] = {}
    if policy is not None:

        def hard(x: Tensor, f: Tensor) -> Decision:
            choice = policy.argmax(f)  # (B, L)
            return Decision(net(x, choice), choice=choice)

        def soft(x: Tensor, f: Tensor) -> Decision:
            probs = policy.probs(f)
            return Decision(net.forward_soft(x, probs), probs=probs)

        out["policy_hard"] = hard
        out["policy_soft"] = soft
    if router is not None:
        tiers = torch.from_numpy(router.tiers)  # (T, L)

        def tiered(x: Tensor, f: Tensor) -> Decision:
            t = torch.from_numpy(router.route(f.double().numpy()))  # (B,)
            choice = tiers[t]  # (B, L)
            return Decision(net(x, choice), choice=choice)

        out["tiers"] = tiered
    for w, a in uniform:
        choice = torch.tensor(net.uniform_choice(w, a))  # (L,)

        def fixed(x: Tensor, f: Tensor, choice: Tensor = choice) -> Decision:
            c = choice.expand(x.shape[0], -1)
            return Decision(net(x, c), choice=c)

        out[f"switchable_w{w}a{a}"] = fixed
    return out
