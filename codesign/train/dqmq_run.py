"""One DQMQ training run end to end: data, cost surrogate, resumable checkpoints, methods.

A DQMQ checkpoint is a plain dict saved with ``torch.save`` and read with
``weights_only=True``, written atomically after every epoch::

    {"format": "dqmq-1", "arch": CnnArch.to_dict(), "space": SwitchSpace.to_dict(),
     "policy": {"n_features", "sizes", "use_quality"}, "config": DqmqConfig.to_dict(),
     "flow_config": {...} | None, "cost_version": str, "method": str,
     "complete": bool, "metrics": {...}, "state": {net, policy, optimizers, baseline, epoch}}

:func:`train_method` resumes from an incomplete checkpoint of the same config, and returns a
complete one without training again.
"""

from __future__ import annotations

import io
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from codesign.errors import ConfigError
from codesign.io import atomic_write_bytes
from codesign.models.arch import CnnArch
from codesign.models.switchable import SwitchableCNN, SwitchSpace
from codesign.policy.options import Budget
from codesign.policy.policy import QualityPolicy
from codesign.train.dqmq import BatchFn, DqmqConfig, PriceFn, train_dqmq

if TYPE_CHECKING:
    from codesign.cost.protocol import CostSurrogate
    from codesign.flow.dqmq_section import DqmqSection

log = logging.getLogger(__name__)

FORMAT = "dqmq-1"


@dataclass(frozen=True)
class MixedData:
    """Mixed-quality training data with its quality features.

    Attributes:
        images: ``(N, 1, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` classes.
        features: ``(N, F)`` normalized quality features.
        conditions: ``(N,)`` condition ids (0 clean, see ``codesign.quality.CONDITION_IDS``).
        severities: ``(N,)`` severity (0 clean).
    """

    images: Tensor
    labels: Tensor
    features: Tensor
    conditions: Tensor
    severities: Tensor


def mixed_data(
    images: Tensor, labels: Tensor, mix: dict[str, float], severities: list[int], seed: int
) -> MixedData:
    """Corrupt a seeded share of ``images`` per ``mix`` and measure their quality features."""
    from codesign.quality import mix_quality, quality_features  # noqa: PLC0415

    x, y, cid, sev = mix_quality(images, labels, mix, severities, seed)
    return MixedData(x, y, quality_features(x), cid, sev)


def build_surrogate(name: str, arch: CnnArch, space: SwitchSpace, **kwargs: Any) -> CostSurrogate:
    """The cost surrogate called ``name`` (``bitops``, ``mean_bits``, ``analytic``, ``lut``).

    ``analytic`` prices DSP-based MVUs, ``lut`` LUT-based ones (#12's ``impl lut``), both
    with the board family's best cost model; ``kwargs`` (``board``, ``fps``) go to them.

    Raises:
        ConfigError: Unknown name, or the analytic model is not installed in this tree.
    """
    from codesign.policy.costs import bitops_surrogate, mean_bits_surrogate  # noqa: PLC0415

    if name == "bitops":
        return bitops_surrogate(arch, space)
    if name == "mean_bits":
        return mean_bits_surrogate(space)
    if name in ("analytic", "lut"):
        from codesign.cost.protocol import Impl  # noqa: PLC0415
        from codesign.policy.costs import analytic_surrogate  # noqa: PLC0415

        impl = Impl.LUT if name == "lut" else Impl.DSP
        return analytic_surrogate(arch, space, impl=impl, **kwargs)
    raise ConfigError(f"unknown cost model {name!r}; choose bitops, mean_bits, analytic or lut")


def save_dqmq_checkpoint(path: Path, payload: dict[str, Any]) -> Path:
    """Write a checkpoint dict atomically."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(Path(path), buf.getvalue())


def read_dqmq_checkpoint(path: Path) -> dict[str, Any]:
    """Read a DQMQ checkpoint (weights only, no pickled code).

    Raises:
        ConfigError: Missing file, unreadable, or not a DQMQ checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"DQMQ checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        raise ConfigError(f"{path} is not a readable checkpoint: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a DQMQ checkpoint ({FORMAT}); run `codesign train`")
    return data


def load_dqmq(path: Path) -> tuple[SwitchableCNN, QualityPolicy, dict[str, Any]]:
    """Rebuild the switchable net and the policy of a checkpoint, in eval mode."""
    data = read_dqmq_checkpoint(path)
    arch = CnnArch.from_dict(data["arch"])
    space = SwitchSpace.from_dict(data["space"])
    net = SwitchableCNN(arch, space)
    p = data["policy"]
    policy = QualityPolicy(p["n_features"], p["sizes"], p["use_quality"])
    net.load_state_dict(data["state"]["net"])
    policy.load_state_dict(data["state"]["policy"])
    return net.eval(), policy.eval(), data


def train_method(
    path: Path,
    method: str,
    arch: CnnArch,
    space: SwitchSpace,
    surrogate: CostSurrogate,
    data: MixedData,
    cfg: DqmqConfig,
    *,
    flow_config: dict[str, Any] | None = None,
    on_batch: BatchFn | None = None,
    price: PriceFn | None = None,
) -> dict[str, Any]:
    """Train one method into checkpoint ``path`` (resuming it), return the checkpoint dict.

    Args:
        path: The checkpoint file; a complete one with the same config is returned as is.
        method: A name for tables (``dqmq``, ``static``, ``dqnet``, ``uniform_w4a4``...).
        arch: The architecture.
        space: The switchable precisions.
        surrogate: The cost term's surrogate.
        data: Mixed-quality training data.
        cfg: Hyper-parameters (its ``seed`` also seeds the weight initialisation).
        flow_config: The resolved flow config, kept in the checkpoint.
        on_batch: Progress callback.
        price: Optional design pricer for LUT/DSP in the progress metrics.
    """
    header = {
        "format": FORMAT,
        "method": method,
        "arch": arch.to_dict(),
        "space": space.to_dict(),
        "policy": {
            "n_features": int(data.features.shape[1]),
            "sizes": list(space.sizes),
            "use_quality": cfg.use_quality,
        },
        "config": cfg.to_dict(),
        "flow_config": flow_config,
        "cost_version": surrogate.version,
    }
    resume = None
    if Path(path).is_file():
        old = read_dqmq_checkpoint(path)
        same = all(old.get(k) == header[k] for k in ("method", "arch", "space", "config"))
        same = same and old.get("cost_version") == header["cost_version"]
        if same and old.get("complete"):
            log.info("%s: complete checkpoint %s, not training again", method, path)
            return old
        if same:
            resume = old["state"]
        else:
            log.info("%s: checkpoint %s has another config; training from scratch", method, path)

    torch.manual_seed(cfg.seed)  # weight init; never at import
    net = SwitchableCNN(arch, space)
    policy = QualityPolicy(data.features.shape[1], space.sizes, cfg.use_quality)

    def on_epoch(epoch: int, state: dict[str, Any]) -> None:
        payload = {**header, "complete": epoch == cfg.epochs, "metrics": {}, "state": state}
        save_dqmq_checkpoint(path, payload)

    stats = train_dqmq(
        net,
        policy,
        surrogate,
        data.images,
        data.labels,
        data.features,
        cfg,
        resume=resume,
        on_batch=on_batch,
        on_epoch=on_epoch,
        price=price,
    )
    final = read_dqmq_checkpoint(path)
    final["metrics"] = stats.to_dict()
    save_dqmq_checkpoint(path, final)
    return final


def method_configs(
    section: DqmqSection, seed: int, space: SwitchSpace
) -> dict[str, tuple[str, DqmqConfig]]:
    """The methods of the comparison: name -> (surrogate name, training config).

    ``dqmq`` (quality-aware, hardware cost), ``static`` (the same without the quality
    input), ``dqnet`` (quality-aware, mean-bit budget ``bit_target``), and uniform
    ``uniform_w{b}a{b}`` for every ``(b, b)`` pair all layers offer, trained by the same
    loop for the same epochs at that fixed precision.
    """
    cost = section.cost_model.value
    lagrangian = section.budget is Budget.LAGRANGIAN
    out: dict[str, tuple[str, DqmqConfig]] = {
        "dqmq": (cost, section.train_config(seed)),
        "static": (cost, section.train_config(seed, use_quality=False)),
        "dqnet": (
            "mean_bits",
            section.train_config(
                seed,
                cost_target=section.bit_target,
                reward_cost=0.0,
                pg_weight=0.0,
                budget=section.budget,
                cost_weight=section.cost_weight if not lagrangian else 1.0,
            ),
        ),
    }
    for w, a in space.uniform_pairs():
        choice = space.uniform_choice(w, a)
        out[f"uniform_w{w}a{a}"] = (
            cost,
            section.train_config(
                seed, fixed_choice=tuple(choice), warmup_epochs=0, finetune_epochs=0
            ),
        )
    if section.methods is not None:
        unknown = sorted(set(section.methods) - set(out))
        if unknown:
            raise ConfigError(
                f"dqmq.methods: unknown {', '.join(unknown)}; choose from {', '.join(out)}"
            )
        out = {k: v for k, v in out.items() if k in section.methods}
    return out
