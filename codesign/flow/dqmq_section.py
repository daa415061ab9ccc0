"""The ``dqmq:`` section of a flow: switchable precisions, mixed-quality data, the objective.

Torch-free (config loading stays cheap). :meth:`DqmqSection.train_config` maps it onto
:class:`codesign.train.dqmq.DqmqConfig`.

Example (a flow file)::

    dqmq:
      candidates: [[2, 2], [3, 3], [4, 4], [8, 8]]
      mix: {clean: 0.4, gaussian_noise: 0.2, gaussian_blur: 0.2, contrast: 0.2}
      epochs: 4
      warmup_epochs: 1
      cost_target: 0.2
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from codesign.flow.sections import Section
from codesign.policy.options import Budget, PgBaseline, PgReward, RouterKind, TierSelect

__all__ = ["CostModelName", "DqmqSection"]

_CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "gaussian_blur",
    "defocus_blur",
    "motion_blur",
    "jpeg_compression",
    "contrast",
    "brightness",
    "pixelate",
)


def _default_mix() -> dict[str, float]:
    return {"clean": 0.4} | {name: 0.06 for name in _CORRUPTIONS}


class CostModelName(StrEnum):
    """Which cost surrogate prices the policy's precisions during training."""

    BITOPS = "bitops"  # interim: MACs x w x a, normalized to the all-8-bit network
    ANALYTIC = "analytic"  # codesign.cost's calibrated model (engineer #13's surrogate)
    LUT = "lut"  # the same model with every layer a LUT-based MVU (impl lut): LUTs move


class DqmqSection(Section):
    """DQMQ training and evaluation settings (the data sizes come from ``data:``).

    Attributes:
        candidates: ``(weight, act)`` pairs every conv layer may run at; the classifier
            takes their weight bit-widths.
        layer_candidates: Per weight layer (each conv, then the classifier, which takes the
            weight bit-widths), its own ``(weight, act)`` pairs; overrides ``candidates``.
            The uniform baselines are the ``(b, b)`` pairs every layer offers.
        input_bits: Input quantizer bits (the dataflow input; with ``input_candidates``,
            the width the uniform baselines read).
        input_candidates: Input widths the policy may choose per image, switched with the
            first conv (e.g. ``[4, 8]``: a low-contrast image needs its pixels' low bits, a
            noisy one does not); ``null``: always ``input_bits``.
        mix: Training mix, condition ("clean" or a corruption) -> fraction, summing to 1.
        severities: Severities drawn for corrupted training samples.
        eval_severities: Severities of every corruption in the evaluation.
        epochs: Total epochs (warm-up included); baselines train as many.
        warmup_epochs: Sandwich warm-up epochs.
        lr: Network learning rate.
        policy_lr: Policy learning rate.
        cost_weight: ``lambda`` of the expected-cost term.
        cost_target: Budget (fraction of the board budget); ``null`` = plain ``lambda * cost``.
        pg_weight: REINFORCE weight.
        reward_cost: ``mu`` in the reward ``correct - mu * cost``.
        tau_start: Gumbel temperature at the start of the joint phase.
        tau_end: Gumbel temperature at the end.
        joint_sandwich: Keep the lowest/highest-precision losses in the joint phase.
        cost_model: ``bitops`` (interim), ``analytic`` (the board family's calibrated
            cost model, DSP MVUs) or ``lut`` (the same model, LUT-based MVUs).
        budget: ``hinge`` or ``lagrangian`` (binds the policy's cost at ``cost_target``).
        dual_lr: Dual-ascent step of the Lagrange multiplier (``budget: lagrangian``).
        pg_reward: REINFORCE task reward, ``correct`` or ``nll`` (graded, ``-CE``).
        pg_baseline: REINFORCE baseline, ``ema`` or ``loo`` (a second sample).
        budget_rho: Augmented-Lagrangian penalty weight (``budget: lagrangian``).
        st_gate: Task-loss gradient into the policy through the straight-through gate.
        finetune_epochs: Last epochs: weights only, on the policy's argmax decisions.
        tier_finetune_epochs: ``codesign evaluate`` only: also report each policy's tiers
            (static: its one configuration) with per-tier weights fine-tuned this many
            epochs on the training images routed to the tier (``dqmq/tiers_ft``,
            ``static/ft``, ``uniform_wXaX/ft``: the same extra epochs on all images); 0 = off.
        tier_train_epochs: ``codesign evaluate`` only: also report the dqmq tiers trained
            apart like the uniform baselines: each tier's static configuration trained from
            scratch this many epochs on all images by the same loop, then fine-tuned on its
            routed images like ``tiers_ft`` (``dqmq/tiers_scratch``); 0 = off. With
            ``tier_finetune_epochs`` the ``tiers`` step then deploys these models.
        tier_select: ``codesign evaluate`` only, with ``tier_train_epochs``: ``val_accuracy``
            also reports ``dqmq/tiers_select``, each tier's configuration chosen by its
            tuned network's accuracy on routed hold-out images (no costlier than the mode);
            ``budget`` chooses the tiers together, any cost, within ``cost_target`` (or the
            modes' mean cost).
        tier_select_top: How many of the policy's likeliest choices per tier to try.
        tier_select_min_val: A tier fewer hold-out images reach keeps its mode.
        n_val: Hold-out training images (disjoint from ``data.n_train``) for ``tier_select``.
        val_repeats: Independent corruption draws of each hold-out image for ``tier_select``
            (``n_val * val_repeats`` routed samples; more shrink the selection's noise).
        methods: The methods ``codesign evaluate`` trains (``null`` = all): ``dqmq``,
            ``static``, ``dqnet``, ``uniform_wXaX``.
        board: Board of the analytic surrogate and of the LUT/DSP/cycles in evaluations.
        fps: Throughput target the designs are folded for.
        bit_target: Mean-bit budget of the DQNet-style baseline.
        tiers: K, the number of static tiers cut from the policy.
        router: How the tiers are cut and routed: ``policy`` (k-means on the policy's
            decisions, routed by the policy) or ``quality`` (k-means on the images' quality
            features, routed to the nearest centre; each tier's mode is the policy's likeliest
            choice for its cluster). In ``codesign evaluate`` every ``dqmq/tiers*`` row uses it.
    """

    candidates: list[tuple[int, int]] = Field(
        default_factory=lambda: [(2, 2), (3, 3), (4, 4), (8, 8)]
    )
    layer_candidates: list[list[tuple[int, int]]] | None = None
    input_bits: int = 8
    input_candidates: list[int] | None = None
    mix: dict[str, float] = Field(default_factory=_default_mix)
    severities: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    eval_severities: list[int] = Field(default_factory=lambda: [1, 3, 5])
    epochs: int = Field(default=4, ge=1)
    warmup_epochs: int = Field(default=1, ge=0)
    lr: float = Field(default=2e-3, gt=0, le=1)
    policy_lr: float = Field(default=2e-2, gt=0, le=10)
    cost_weight: float = Field(default=1.0, ge=0)
    cost_target: float | None = Field(default=None, gt=0)
    pg_weight: float = Field(default=1.0, ge=0)
    reward_cost: float = Field(default=1.0, ge=0)
    tau_start: float = Field(default=2.0, gt=0)
    tau_end: float = Field(default=0.3, gt=0)
    joint_sandwich: bool = False
    cost_model: CostModelName = CostModelName.BITOPS
    board: str = "pynq-z2"
    fps: float = Field(default=10_000.0, gt=0)
    bit_target: float = Field(default=4.0, gt=0)
    tiers: int = Field(default=2, ge=1, le=16)
    router: RouterKind = RouterKind.POLICY
    budget: Budget = Budget.HINGE
    dual_lr: float = Field(default=0.05, ge=0)
    pg_reward: PgReward = PgReward.CORRECT
    pg_baseline: PgBaseline = PgBaseline.EMA
    budget_rho: float = Field(default=0.0, ge=0)
    st_gate: bool = True
    finetune_epochs: int = Field(default=0, ge=0)
    tier_finetune_epochs: int = Field(default=0, ge=0)
    tier_train_epochs: int = Field(default=0, ge=0)
    tier_select: TierSelect = TierSelect.MODE
    tier_select_top: int = Field(default=3, ge=0)
    tier_select_min_val: int = Field(default=100, ge=1)
    n_val: int = Field(default=2000, ge=1)
    val_repeats: int = Field(default=1, ge=1, le=64)
    methods: list[str] | None = None

    @property
    def impl(self) -> Any:
        """The MVU implementation the cost model prices (``lut`` for ``cost_model: lut``)."""
        from codesign.cost.protocol import Impl  # noqa: PLC0415

        return Impl.LUT if self.cost_model is CostModelName.LUT else Impl.DSP

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"dqmq.warmup_epochs ({self.warmup_epochs}) exceeds dqmq.epochs ({self.epochs})"
            )
        if self.warmup_epochs + self.finetune_epochs > self.epochs:
            raise ValueError(
                f"dqmq.warmup_epochs + dqmq.finetune_epochs ({self.warmup_epochs} + "
                f"{self.finetune_epochs}) exceed dqmq.epochs ({self.epochs})"
            )
        if not self.candidates:
            raise ValueError("dqmq.candidates is empty; give (weight, act) pairs like [4, 4]")
        for i, layer in enumerate(self.layer_candidates or ()):
            if not layer:
                raise ValueError(f"dqmq.layer_candidates[{i}] is empty; give (weight, act) pairs")
        total = sum(self.mix.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"dqmq.mix fractions sum to {total:g}; make them sum to 1")
        if self.tier_select is not TierSelect.MODE and (
            self.tier_train_epochs < 1 or self.tier_finetune_epochs < 1
        ):
            raise ValueError(
                f"dqmq.tier_select {self.tier_select.value} trains the candidates apart and "
                "tunes them: set dqmq.tier_train_epochs and dqmq.tier_finetune_epochs"
            )
        if self.budget is Budget.LAGRANGIAN and self.cost_target is None:
            raise ValueError("dqmq.budget lagrangian needs a dqmq.cost_target")
        return self

    def pairs_per_layer(self, n_layers: int) -> list[list[tuple[int, int]]]:
        """``layer_candidates``, or ``candidates`` repeated for each of ``n_layers`` layers."""
        if self.layer_candidates is not None:
            return [list(layer) for layer in self.layer_candidates]
        return [list(self.candidates) for _ in range(n_layers)]

    def train_config(self, seed: int, **overrides: Any) -> Any:
        """The :class:`codesign.train.dqmq.DqmqConfig` of this section (``overrides`` win)."""
        from codesign.train.dqmq import DqmqConfig  # noqa: PLC0415

        kwargs = {
            k: getattr(self, k)
            for k in (
                "epochs",
                "warmup_epochs",
                "lr",
                "policy_lr",
                "cost_weight",
                "cost_target",
                "pg_weight",
                "reward_cost",
                "tau_start",
                "tau_end",
                "joint_sandwich",
                "budget",
                "dual_lr",
                "pg_reward",
                "pg_baseline",
                "budget_rho",
                "st_gate",
                "finetune_epochs",
            )
        }
        kwargs.update(overrides)
        return DqmqConfig(seed=seed, **kwargs)
