"""DQMQ training: switchable-precision QAT jointly with a quality-aware bit-width policy.

One loop that reads top to bottom (:func:`train_dqmq`). Per batch of mixed-quality images
``x`` (``(B, 1, H, W)``) with labels ``y`` and normalized quality features ``f`` (``(B, F)``):

* **warm-up** (the first ``warmup_epochs``): sandwich rule on the shared weights, the
  task loss at the lowest, the highest and a random precision (per layer, drawn per batch),
  summed; the policy does not train;
* **joint** (the rest): the policy maps ``f`` to per-layer logits; a straight-through
  Gumbel-softmax sample (temperature annealed from ``tau_start`` to ``tau_end``) picks each
  sample's precisions, and the loss is

  ``CE(net(x | choice, gate), y)``                               supervised, through the gate
  ``+ cost_weight * C(E[cost])``                                 model-based (the surrogate)
  ``+ pg_weight * -(R - baseline) * log pi(choice | f)``         model-free (REINFORCE)

  with ``E[cost]`` the surrogate's expected normalized cost of the policy's distribution,
  ``C(c) = c`` or, with a ``cost_target``, ``max(0, mean(c) - target)`` (a budget), and the
  reward ``R = 1[correct] - reward_cost * discrete cost of the hard choice``, baseline an
  exponential moving average of ``R``.

The same loop trains the baselines: ``use_quality=False`` (a static distribution: the best
static mixed-precision configuration for the cost), ``fixed_choice`` (uniform W2A2/W4A4/W8A8
with the same trainer and epochs) and a DQNet-style controller (the mean-bits surrogate with
a bit budget as ``cost_target``).

Randomness is explicit and per epoch (``seed * 1000 + epoch`` seeds the data order, the
random precisions and the Gumbel noise; the global torch RNG is seeded with the same number
for Brevitas internals), so a run resumed from an end-of-epoch checkpoint continues exactly
like an uninterrupted one.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor

from codesign.cost.protocol import CostSurrogate
from codesign.errors import ConfigError
from codesign.models.switchable import SwitchableCNN
from codesign.policy.options import Budget, PgBaseline, PgReward
from codesign.policy.policy import GumbelSample, QualityPolicy, anneal_tau, gumbel_sample

log = logging.getLogger(__name__)

__all__ = [
    "Budget",
    "DqmqConfig",
    "DqmqStats",
    "PgBaseline",
    "PgReward",
    "Phase",
    "train_dqmq",
]

BatchFn = Callable[[int, int, dict[str, float]], None]
"""``on_batch(done, total, metrics)`` after every optimizer step."""
EpochFn = Callable[[int, dict[str, Any]], None]
"""``on_epoch(epoch_done, state)`` at the end of every epoch, with the resumable state."""
PriceFn = Callable[[tuple[int, ...]], dict[str, float]]
"""``price(choice) -> {"lut": .., "dsp": ..}`` of a static choice (a DesignPricer)."""


class Phase(StrEnum):
    """What a batch trains."""

    WARMUP = "warmup"
    JOINT = "joint"
    FINETUNE = "finetune"
    FIXED = "fixed"


@dataclass(frozen=True)
class DqmqConfig:
    """Hyper-parameters of :func:`train_dqmq` (the flow's ``dqmq:`` section maps onto it).

    Attributes:
        epochs: Total passes over the data (warm-up included).
        warmup_epochs: Sandwich warm-up epochs before the policy trains.
        batch_size: Images per step.
        lr: Adam learning rate of the network (cosine-decayed).
        policy_lr: Adam learning rate of the policy (constant).
        cost_weight: ``lambda``, weight of the expected-cost term.
        cost_target: If set, the cost term is a budget ``max(0, mean E[cost] - target)``.
        pg_weight: Weight of the REINFORCE term.
        reward_cost: ``mu`` in the reward ``1[correct] - mu * cost``.
        baseline_momentum: EMA momentum of the reward baseline.
        tau_start: Gumbel temperature at the start of the joint phase.
        tau_end: Temperature at the end.
        use_quality: False: the policy ignores the features (a static distribution).
        joint_sandwich: Also add the lowest and highest precision's task loss in the joint
            phase (two more passes per batch), so the shared weights keep serving every
            precision while the policy concentrates on a few.
        fixed_choice: Train only this static choice (uniform baselines); no policy.
        seed: Seeds everything.
        budget: How ``cost_target`` enters the loss (:class:`Budget`); ``lagrangian``
            needs a ``cost_target``.
        dual_lr: Dual-ascent step of the Lagrange multiplier, per batch, on the relative
            violation ``argmax cost / target - 1``.
        pg_reward: Task part of the REINFORCE reward (:class:`PgReward`).
        pg_baseline: REINFORCE baseline (:class:`PgBaseline`).
        budget_rho: ``lagrangian`` only: weight of the augmented-Lagrangian penalty
            ``rho / 2 * (mean E[cost] / target - 1) ** 2``, a restoring force without the
            multiplier's lag (damps its oscillation around the target).
        st_gate: Pass the task loss's gradient into the policy through the straight-through
            gate (the first design). False: the policy learns only from the cost and
            REINFORCE terms (the gate's gradient is "scale this layer's output", which
            says nothing about precision and, under Adam, moves the policy as much as a
            real signal).
        finetune_epochs: The last epochs train only the shared weights, on the policy's
            argmax decisions (what tiers deploy), the policy frozen: the weights stop
            serving sampled precisions the deployment never uses.
    """

    epochs: int = 4
    warmup_epochs: int = 1
    batch_size: int = 64
    lr: float = 2e-3
    policy_lr: float = 2e-2
    cost_weight: float = 1.0
    cost_target: float | None = None
    pg_weight: float = 1.0
    reward_cost: float = 1.0
    baseline_momentum: float = 0.9
    tau_start: float = 2.0
    tau_end: float = 0.3
    use_quality: bool = True
    joint_sandwich: bool = False
    fixed_choice: tuple[int, ...] | None = None
    seed: int = 0
    budget: Budget = Budget.HINGE
    dual_lr: float = 0.05
    pg_reward: PgReward = PgReward.CORRECT
    pg_baseline: PgBaseline = PgBaseline.EMA
    budget_rho: float = 0.0
    st_gate: bool = True
    finetune_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError(
                f"dqmq: need epochs >= 1 and 0 <= warmup_epochs <= epochs, got "
                f"{self.epochs} and {self.warmup_epochs}"
            )
        if self.tau_start <= 0 or self.tau_end <= 0:
            raise ConfigError("dqmq: tau_start and tau_end must be > 0")
        if self.fixed_choice is not None:
            object.__setattr__(self, "fixed_choice", tuple(int(c) for c in self.fixed_choice))
        for name, kind in (("budget", Budget), ("pg_reward", PgReward),
                           ("pg_baseline", PgBaseline)):  # fmt: skip
            try:
                object.__setattr__(self, name, kind(getattr(self, name)))
            except ValueError:
                choices = ", ".join(k.value for k in kind)
                raise ConfigError(
                    f"dqmq: {name} {getattr(self, name)!r} is not one of {choices}"
                ) from None
        if self.budget is Budget.LAGRANGIAN and self.cost_target is None:
            raise ConfigError("dqmq: budget lagrangian needs a cost_target")
        if self.finetune_epochs < 0 or self.warmup_epochs + self.finetune_epochs > self.epochs:
            raise ConfigError(
                f"dqmq: need 0 <= finetune_epochs and warmup_epochs + finetune_epochs <= "
                f"epochs, got {self.finetune_epochs}, {self.warmup_epochs}, {self.epochs}"
            )
        if self.budget_rho < 0:
            raise ConfigError(f"dqmq: budget_rho must be >= 0, got {self.budget_rho:g}")
        if self.dual_lr < 0:
            raise ConfigError(f"dqmq: dual_lr must be >= 0, got {self.dual_lr:g}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for checkpoints and JSON).

        The options added after the first checkpoints (``budget``, ``dual_lr``,
        ``pg_reward``, ``pg_baseline``, ``budget_rho``, ``st_gate``, ``finetune_epochs``)
        are left out at their defaults, so a checkpoint written before they existed still
        matches its config and resumes.
        """
        out = asdict(self)
        if self.fixed_choice is not None:
            out["fixed_choice"] = list(self.fixed_choice)
        defaults = {"budget": Budget.HINGE, "dual_lr": 0.05, "pg_reward": PgReward.CORRECT,
                    "pg_baseline": PgBaseline.EMA, "budget_rho": 0.0, "st_gate": True,
                    "finetune_epochs": 0}  # fmt: skip
        for key, default in defaults.items():
            if out[key] == default:
                del out[key]
            elif isinstance(out[key], StrEnum):
                out[key] = out[key].value
        return out


@dataclass
class DqmqStats:
    """Per-epoch summaries of one run."""

    seconds: float = 0.0
    steps: int = 0
    images: int = 0
    epochs: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "seconds": round(self.seconds, 3),
            "steps": self.steps,
            "images_per_s": round(self.images / max(self.seconds, 1e-9), 1),
            "epochs": self.epochs,
        }


def train_dqmq(
    net: SwitchableCNN,
    policy: QualityPolicy,
    surrogate: CostSurrogate,
    images: Tensor,
    labels: Tensor,
    features: Tensor,
    cfg: DqmqConfig,
    *,
    resume: dict[str, Any] | None = None,
    on_batch: BatchFn | None = None,
    on_epoch: EpochFn | None = None,
    price: PriceFn | None = None,
) -> DqmqStats:
    """Train ``net`` and ``policy`` in place (see the module docstring).

    Args:
        net: The switchable network (weights initialised or warm).
        policy: The policy, with ``policy.sizes == net.space.sizes``.
        surrogate: Prices distributions over ``net.space``'s candidates.
        images: ``(N, 1, H, W)`` mixed-quality images in ``[0, 1]``.
        labels: ``(N,)`` int64 classes.
        features: ``(N, F)`` normalized quality features of ``images``.
        cfg: Hyper-parameters.
        resume: The state passed to ``on_epoch`` by an earlier run; training continues after
            its last epoch.
        on_batch: Progress callback.
        on_epoch: Called with the resumable state after every epoch (save a checkpoint).
        price: Optional design pricer: the batch metrics then include the mean LUT and DSP
            of the designs of the batch's hard choices (``lut``, ``dsp``).

    Returns:
        Time, steps and per-epoch metrics.

    Raises:
        ConfigError: Shapes disagree, the policy does not fit the space, or the loss diverged.
    """
    # ---- check inputs -------------------------------------------------------------------
    n = images.shape[0]
    if labels.shape != (n,) or features.shape[0] != n:
        raise ConfigError(
            f"dqmq: {n} images, {labels.shape[0]} labels, {features.shape[0]} feature rows"
        )
    if tuple(policy.sizes) != tuple(net.space.sizes):
        raise ConfigError(f"policy sizes {policy.sizes} != switch space {net.space.sizes}")
    if [len(c) for c in surrogate.candidates] != list(net.space.sizes):
        raise ConfigError("the cost surrogate's candidates do not match the switch space")
    if not 2 <= cfg.batch_size <= n:
        raise ConfigError(f"dqmq: batch_size {cfg.batch_size} must be in 2..{n}")

    # ---- set up -------------------------------------------------------------------------
    if resume is not None:  # before the optimizers: Brevitas may replace scale parameters
        net.load_state_dict(resume["net"])
        policy.load_state_dict(resume["policy"])
    opt_net = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    opt_pol = torch.optim.Adam(policy.parameters(), lr=cfg.policy_lr)
    batches = n // cfg.batch_size  # drop the tail: BN and per-sample subsets need >= 2
    total_steps = cfg.epochs * batches
    joint_end = cfg.epochs - cfg.finetune_epochs  # the first fine-tuning epoch
    joint_steps = max(1, (joint_end - cfg.warmup_epochs) * batches)
    lowest = torch.tensor(net.space.lowest())  # (L,)
    highest = torch.tensor(net.space.highest())  # (L,)
    sizes = torch.tensor(net.space.sizes)  # (L,)
    bits = [torch.tensor([(w + a) / 2.0 for w, a in layer]) for layer in net.space.bits_table()]
    baseline = 0.0
    lam = float(cfg.cost_weight)  # the Lagrange multiplier (budget lagrangian)
    target = float(cfg.cost_target or 1.0)
    start_epoch = 0
    stats = DqmqStats()
    if resume is not None:
        opt_net.load_state_dict(copy.deepcopy(resume["opt_net"]))  # it keeps tensors
        opt_pol.load_state_dict(copy.deepcopy(resume["opt_policy"]))
        baseline = float(resume["baseline"])
        lam = float(resume.get("lam", lam))
        start_epoch = int(resume["epoch"])
        stats.epochs = list(resume.get("history", []))
        log.info("resuming after epoch %d of %d", start_epoch, cfg.epochs)
    t0 = time.perf_counter()

    # ---- loop ---------------------------------------------------------------------------
    for epoch in range(start_epoch, cfg.epochs):
        epoch_seed = cfg.seed * 1000 + epoch
        torch.manual_seed(epoch_seed)  # Brevitas internals; never at import
        gen = torch.Generator().manual_seed(epoch_seed)  # data order, precisions, Gumbel
        order = torch.randperm(n, generator=gen)  # (N,)
        if cfg.fixed_choice is not None:
            phase = Phase.FIXED
        else:
            phase = Phase.WARMUP if epoch < cfg.warmup_epochs else Phase.JOINT
            phase = Phase.FINETUNE if epoch >= joint_end else phase
        net.train()
        policy.train()
        sums = {"loss": 0.0, "acc": 0.0, "bits": 0.0, "cost": 0.0}
        for b in range(batches):
            step = epoch * batches + b
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]  # (B,)
            x, y, f = images[idx], labels[idx], features[idx]  # (B,1,H,W), (B,), (B,F)
            nb = y.shape[0]
            for group in opt_net.param_groups:  # cosine decay over all steps
                group["lr"] = 0.5 * cfg.lr * (1.0 + math.cos(math.pi * step / total_steps))

            if phase is Phase.FIXED:
                choice = torch.tensor(cfg.fixed_choice).expand(nb, -1)  # (B, L)
                logits = net(x, choice)  # (B, classes)
                loss = F.cross_entropy(logits, y)
                cost = surrogate.discrete(list(cfg.fixed_choice))
            elif phase is Phase.FINETUNE:  # the deployed decisions, the policy frozen
                with torch.no_grad():
                    top = [F.one_hot(lg.argmax(dim=-1), lg.shape[-1]).float() for lg in policy(f)]
                    choice = torch.stack([t.argmax(dim=-1) for t in top], dim=1)  # (B, L)
                    cost = float(surrogate.expected(top).mean())
                logits = net(x, choice)  # (B, classes)
                loss = F.cross_entropy(logits, y)
            elif phase is Phase.WARMUP:
                # one random precision per layer for the batch: a static forward, as fast
                # as the lowest and highest ones (per-sample mixing is the joint phase's)
                rand = (torch.rand(len(sizes), generator=gen) * sizes).long()  # (L,)
                loss = F.cross_entropy(net(x, lowest), y) + F.cross_entropy(net(x, highest), y)
                logits = net(x, rand)
                loss = loss + F.cross_entropy(logits, y)
                choice = rand.expand(nb, -1)  # (B, L)
                cost = float("nan")
            else:
                with net.weights_once():  # the probe reuses the quantized weights
                    tau = anneal_tau((step - cfg.warmup_epochs * batches) / joint_steps,
                                     cfg.tau_start, cfg.tau_end)  # fmt: skip
                    pol_logits = policy(f)  # L x (B, K_i)
                    sample = gumbel_sample(pol_logits, tau, gen)
                    choice = sample.index  # (B, L)
                    gate = sample.gate if cfg.st_gate else sample.gate.detach()  # (B, L)
                    logits = net(x, choice, gate)  # (B, classes)
                    ce = F.cross_entropy(logits, y, reduction="none")  # (B,)
                    probs = [F.softmax(lg, dim=-1) for lg in pol_logits]  # L x (B, K_i)
                    exp_cost = surrogate.expected(probs)  # (B,)
                    if cfg.budget is Budget.LAGRANGIAN:  # lam * relative cost; lam by dual ascent
                        rel = exp_cost.mean() / target - 1.0
                        cost_term = lam * exp_cost.mean() / target + 0.5 * cfg.budget_rho * rel**2
                        cost_weight, reward_cost = 1.0, lam / target
                    elif cfg.cost_target is None:
                        cost_term = exp_cost.mean()
                        cost_weight, reward_cost = cfg.cost_weight, cfg.reward_cost
                    else:
                        cost_term = F.relu(exp_cost.mean() - cfg.cost_target)
                        cost_weight, reward_cost = cfg.cost_weight, cfg.reward_cost

                    with torch.no_grad():
                        reward, hard_cost = _reward(
                            logits, y, sample.hard, surrogate, cfg.pg_reward, reward_cost
                        )  # (B,), (B,)
                    if cfg.pg_baseline is PgBaseline.LOO:  # a second sample: leave-one-out
                        other = gumbel_sample(pol_logits, tau, gen)
                        reward2 = _probe_reward(net, x, y, choice, other, reward, surrogate,
                                                cfg.pg_reward, reward_cost)  # fmt: skip
                        advantage = 0.5 * (reward - reward2)  # (B,)
                        pg = -(advantage * (sample.log_prob - other.log_prob)).mean()
                    else:
                        advantage = reward - baseline  # (B,)
                        pg = -(advantage * sample.log_prob).mean()
                    loss = ce.mean() + cost_weight * cost_term + cfg.pg_weight * pg
                    if cfg.joint_sandwich:  # keep the extremes trained while the policy picks
                        loss = loss + F.cross_entropy(net(x, lowest), y)
                        loss = loss + F.cross_entropy(net(x, highest), y)
                    m = cfg.baseline_momentum
                    baseline = m * baseline + (1.0 - m) * float(reward.mean())
                    cost = float(hard_cost.mean())
                    if cfg.budget is Budget.LAGRANGIAN:  # dual step on the deployed (argmax) cost
                        with torch.no_grad():
                            top = [F.one_hot(lg.argmax(dim=-1), lg.shape[-1]).float()
                                   for lg in pol_logits]  # fmt: skip
                            violation = float(surrogate.expected(top).mean()) / target - 1.0
                        lam = lam + cfg.dual_lr * violation  # equality: either sign

            if not torch.isfinite(loss):
                raise ConfigError(
                    f"dqmq training diverged at epoch {epoch + 1}, batch {b + 1}; "
                    f"lower dqmq.lr (now {cfg.lr:g}) or dqmq.policy_lr ({cfg.policy_lr:g})"
                )
            opt_net.zero_grad(set_to_none=True)
            opt_pol.zero_grad(set_to_none=True)
            loss.backward()
            opt_net.step()
            if phase is Phase.JOINT:
                opt_pol.step()
            stats.steps += 1
            stats.images += nb

            with torch.no_grad():
                acc = float((logits.argmax(dim=1) == y).float().mean())
                mean_bits = float(
                    torch.stack([bits[i][choice[:, i]] for i in range(len(bits))]).mean()
                )
            sums["loss"] += loss.item()
            sums["acc"] += acc
            sums["bits"] += mean_bits
            sums["cost"] += cost
            if on_batch is not None:
                metrics = {"loss": loss.item(), "acc": acc, "bits": mean_bits, "cost": cost}
                if price is not None:
                    rows, counts = torch.unique(choice, dim=0, return_counts=True)
                    for key in ("lut", "dsp"):
                        metrics[key] = sum(
                            price(tuple(r.tolist()))[key] * int(c)
                            for r, c in zip(rows, counts, strict=True)
                        ) / float(nb)
                on_batch(step + 1, total_steps, metrics)

        record = {"epoch": epoch + 1, "phase": phase.value}
        record.update({k: round(v / batches, 5) for k, v in sums.items()})
        if cfg.budget is Budget.LAGRANGIAN and phase is Phase.JOINT:
            record["lam"] = round(lam, 5)
        stats.epochs.append(record)
        log.info("epoch %d/%d (%s): %s", epoch + 1, cfg.epochs, phase.value, record)
        if on_epoch is not None:
            on_epoch(
                epoch + 1,
                copy.deepcopy(  # a snapshot: state_dict tensors are the live ones
                    {
                        "epoch": epoch + 1,
                        "net": net.state_dict(),
                        "policy": policy.state_dict(),
                        "opt_net": opt_net.state_dict(),
                        "opt_policy": opt_pol.state_dict(),
                        "baseline": baseline,
                        "lam": lam,
                        "history": stats.epochs,
                    }
                ),
            )
    stats.seconds = time.perf_counter() - t0
    net.eval()
    policy.eval()
    return stats


def _probe_reward(
    net: SwitchableCNN,
    x: Tensor,
    y: Tensor,
    choice: Tensor,
    other: GumbelSample,
    reward: Tensor,
    surrogate: CostSurrogate,
    kind: PgReward,
    reward_cost: float,
) -> Tensor:
    """The reward of the second (leave-one-out) sample ``other``, forward only.

    Images whose second choice equals their first (``choice``) get the first reward: their
    term ``(R1 - R2) * (grad log pi(c1) - grad log pi(c2))`` is zero whatever ``R2`` is, so
    they are not run. The others run as one batch (``net.weights_once`` outside makes the
    weights' quantization free); with BatchNorm in training mode their batch statistics
    come from that sub-batch.
    """
    differs = (other.index != choice).any(dim=1)  # (B,)
    reward2 = reward.clone()  # (B,)
    rows = torch.nonzero(differs).squeeze(1)  # (D,)
    if rows.numel() == 0:
        return reward2
    with torch.no_grad():
        out2 = net(x.index_select(0, rows), other.index.index_select(0, rows))  # (D, classes)
        hard2 = [h.detach().index_select(0, rows) for h in other.hard]
        r2, _ = _reward(out2, y.index_select(0, rows), hard2, surrogate, kind, reward_cost)
    return reward2.index_copy(0, rows, r2)


def _reward(
    logits: Tensor,
    labels: Tensor,
    hard: list[Tensor],
    surrogate: CostSurrogate,
    kind: PgReward,
    reward_cost: float,
) -> tuple[Tensor, Tensor]:
    """Per sample: the reward of one hard choice's outcome, and the choice's discrete cost."""
    hard_cost = surrogate.expected([h.detach() for h in hard])  # (B,)
    if kind is PgReward.NLL:
        task = -F.cross_entropy(logits, labels, reduction="none")  # (B,)
    else:
        task = (logits.argmax(dim=1) == labels).float()  # (B,)
    return task - reward_cost * hard_cost, hard_cost
