"""The objective's options, shared by the ``dqmq:`` flow section and the training loop.

Torch-free, so the flow config can name them without importing torch.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Budget", "PgBaseline", "PgReward", "RouterKind", "TierSelect"]


class Budget(StrEnum):
    """How ``cost_target`` enters the loss.

    ``hinge``: ``cost_weight * max(0, mean E[cost] - target)``: pushed back only above the
    budget (a policy may sit anywhere below it). ``lagrangian``: the equality constraint
    ``cost = target``: ``lam * mean E[cost] / target`` with a multiplier ``lam`` (starting
    at ``cost_weight``) raised by a dual step while the policy's *argmax* decisions cost
    more than the target and lowered while they cost less, below zero if need be (then
    bits are rewarded), so the deployed cost binds at the target from both sides and two
    policies trained to the same target sit at the same cost.
    """

    HINGE = "hinge"
    LAGRANGIAN = "lagrangian"


class PgReward(StrEnum):
    """The task part of the REINFORCE reward: ``1[correct]`` or ``-CE`` (graded)."""

    CORRECT = "correct"
    NLL = "nll"


class PgBaseline(StrEnum):
    """The REINFORCE baseline.

    ``ema``: a moving average of the reward. ``loo``: a second Gumbel sample of the same
    images (forward only, no network gradient) and the leave-one-out baseline of the two,
    so the image's own difficulty cancels out of the advantage and only the precision
    choice is left.
    """

    EMA = "ema"
    LOO = "loo"


class TierSelect(StrEnum):
    """How ``codesign evaluate`` picks each tier's configuration (``dqmq/tiers_select``).

    ``mode``: the policy's most frequent decision in the tier's cluster (the tiers as cut).
    ``val_accuracy``: among the mode and cheaper likely or uniform choices, the one whose
    network, trained apart and tuned on the tier's images, is most accurate on the tier's
    routed hold-out images (``codesign.flow.dqmq_select``).
    ``budget``: every tier may also take costlier choices; the tiers' configurations are
    chosen *together*, maximizing the routed hold-out accuracy of the stream at a mean cost
    (weighted by each tier's share of the training images) no higher than
    ``dqmq.cost_target`` (or the modes' mean cost without one): a tier whose images lose
    little at fewer bits (e.g. noise) pays for more bits where they matter (e.g. contrast).
    """

    MODE = "mode"
    VAL_ACCURACY = "val_accuracy"
    BUDGET = "budget"


class RouterKind(StrEnum):
    """How the tiers are cut and images routed to them (``dqmq.router``).

    ``policy``: k-means on the policy's hard decisions; an image goes to the tier its policy
    finds likeliest (:class:`codesign.policy.tiers.Router`). ``quality``: k-means on the
    images' quality features; an image goes to the nearest centre, and each tier's mode is the
    policy's likeliest static choice for its cluster
    (:class:`codesign.policy.quality_router.QualityRouter`): tiers that differ by input
    quality even where the policy decides nearly alike for every input.
    """

    POLICY = "policy"
    QUALITY = "quality"
