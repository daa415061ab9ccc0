"""Fixed-precision training: one loop that reads top to bottom, and an accuracy function.

The loop trains any ``torch.nn.Module`` mapping ``(B, 1, H, W)`` float images in ``[0, 1]``
to ``(B, n_classes)`` logits (the Brevitas CNNs of :mod:`codesign.models`) with
cross-entropy. All randomness is explicit: the data order comes from a
``torch.Generator`` seeded with ``seed``, and the global torch RNG (which Brevitas and
dropout draw from) is seeded inside :func:`train_fixed`, never at import. The same seed and
data give the same weights on the same machine and torch version.

Example::

    torch.manual_seed(0)                     # weight init, before building the model
    model = build_cnn(QUICKSTART_ARCH, bits)
    stats = train_fixed(model, x_train, y_train, epochs=1, lr=2e-3, batch_size=64, seed=0)
    acc = evaluate_accuracy(model, x_test, y_test)
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F  # noqa: N812 (the usual torch spelling)
from torch import Tensor, nn

from codesign.errors import ConfigError

log = logging.getLogger(__name__)

BatchFn = Callable[[int, int, float], None]
"""``on_batch(batch_done, batches_total, loss)``, called after every optimizer step."""

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclass
class TrainStats:
    """What one training run did.

    Attributes:
        steps: Optimizer steps taken.
        seconds: Wall time of the loop.
        epoch_loss: Mean training loss per epoch.
        epoch_accuracy: Training accuracy per epoch (on the batches as they were seen).
    """

    steps: int = 0
    seconds: float = 0.0
    epoch_loss: list[float] = field(default_factory=list)
    epoch_accuracy: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """A JSON-able summary."""
        return {
            "optimizer_steps": self.steps,
            "seconds": round(self.seconds, 3),
            "epoch_loss": [round(v, 5) for v in self.epoch_loss],
            "epoch_accuracy": [round(v, 5) for v in self.epoch_accuracy],
        }


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the body with ``n`` torch intra-op threads (``None``: leave torch's setting).

    Small CNNs gain little from more threads, and on shared cores torch's spinning OpenMP
    threads can make a batch many times slower (measured 18x with 2 threads on 2 busy
    cores), so the flow steps train and evaluate with 1 thread unless told otherwise.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def make_optimizer(
    params: list[nn.Parameter],
    name: str,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """Build the optimizer called ``name`` (``adam``, ``adamw`` or ``sgd``).

    Raises:
        ConfigError: Unknown optimizer name.
    """
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def train_fixed(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    lr_schedule: str = "cosine",
    on_batch: BatchFn | None = None,
) -> TrainStats:
    """Train ``model`` in place with cross-entropy.

    Args:
        model: Maps ``(B, 1, H, W)`` float images to ``(B, n_classes)`` logits.
        images: ``(N, 1, H, W)`` float32 images in ``[0, 1]``.
        labels: ``(N,)`` int64 class indices.
        epochs: Passes over the data.
        lr: Peak learning rate.
        batch_size: Images per optimizer step.
        seed: Seeds the data order (and the global torch RNG, for Brevitas internals).
        optimizer: ``adam``, ``adamw`` or ``sgd``.
        weight_decay: Weight decay passed to the optimizer.
        momentum: SGD momentum.
        lr_schedule: ``constant``, or ``cosine`` decay from ``lr`` to 0 over all steps.
        on_batch: Optional progress callback ``(batch_done, batches_total, loss)``.

    Returns:
        Steps, time, and per-epoch loss and accuracy.

    Raises:
        ConfigError: Bad shapes or sizes, unknown optimizer/schedule, or the loss diverged
            (the message says to lower the learning rate).
    """
    # ---- check inputs -------------------------------------------------------------------
    if images.ndim != 4 or images.shape[1] != 1:
        raise ConfigError(f"training images must be (N, 1, H, W), got {tuple(images.shape)}")
    if labels.shape != (images.shape[0],):
        raise ConfigError(f"labels must be (N,) = ({images.shape[0]},), got {tuple(labels.shape)}")
    if lr_schedule not in SCHEDULES:
        raise ConfigError(f"unknown lr schedule {lr_schedule!r}; choose one of {SCHEDULES}")
    n = images.shape[0]
    if not 1 <= batch_size <= n:
        raise ConfigError(f"batch_size {batch_size} must be between 1 and the {n} images")

    # ---- set up -------------------------------------------------------------------------
    torch.manual_seed(seed)  # Brevitas/dropout use the global RNG; seeded here, not at import
    order_gen = torch.Generator().manual_seed(seed)  # data order only
    opt = make_optimizer(list(model.parameters()), optimizer, lr, weight_decay, momentum)
    batches_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * batches_per_epoch
    stats = TrainStats()
    t0 = time.perf_counter()
    log.info(
        "training %d images x %d epoch(s), batch %d, %s lr %g (%s)",
        n,
        epochs,
        batch_size,
        optimizer,
        lr,
        lr_schedule,
    )

    # ---- loop ---------------------------------------------------------------------------
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=order_gen)  # (N,)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(batches_per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size]  # (B,)
            if idx.numel() < 2 and b > 0:
                continue  # a 1-image tail batch breaks BatchNorm's batch statistics
            x = images[idx]  # (B, 1, H, W)
            y = labels[idx]  # (B,)

            if lr_schedule == "cosine":
                for group in opt.param_groups:
                    group["lr"] = 0.5 * lr * (1.0 + math.cos(math.pi * stats.steps / total_steps))

            logits = model(x)  # (B, n_classes)
            loss = F.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                raise ConfigError(
                    f"training diverged: loss is {loss.item()} at epoch {epoch + 1}, batch "
                    f"{b + 1}; lower train.lr (now {lr:g})"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            stats.steps += 1

            loss_sum += loss.item() * y.numel()
            correct += int((logits.argmax(dim=1) == y).sum())
            seen += y.numel()
            if on_batch is not None:
                on_batch(epoch * batches_per_epoch + b + 1, total_steps, loss.item())
        stats.epoch_loss.append(loss_sum / seen)
        stats.epoch_accuracy.append(correct / seen)
        log.info(
            "epoch %d/%d: loss %.4f, train accuracy %.4f",
            epoch + 1,
            epochs,
            stats.epoch_loss[-1],
            stats.epoch_accuracy[-1],
        )
    stats.seconds = time.perf_counter() - t0
    model.eval()
    return stats


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Class predictions of ``model`` in eval mode.

    Args:
        model: Maps ``(B, 1, H, W)`` images to ``(B, n_classes)`` logits.
        images: ``(N, 1, H, W)`` float images.
        batch_size: Images per forward pass (memory only).

    Returns:
        ``(N,)`` int64 predicted classes.
    """
    was_training = model.training
    model.eval()
    preds = []
    for start in range(0, images.shape[0], batch_size):
        logits = model(images[start : start + batch_size])  # (B, n_classes)
        preds.append(logits.argmax(dim=1))  # (B,)
    model.train(was_training)
    return torch.cat(preds) if preds else torch.empty(0, dtype=torch.int64)


def evaluate_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000
) -> float:
    """Top-1 accuracy of ``model`` on ``images`` (``(N, 1, H, W)``) against ``labels`` (``(N,)``).

    Raises:
        ConfigError: No images, or images and labels differ in length.
    """
    if images.shape[0] == 0 or images.shape[0] != labels.shape[0]:
        raise ConfigError(
            f"cannot evaluate on {images.shape[0]} images with {labels.shape[0]} labels"
        )
    preds = predict(model, images, batch_size)  # (N,)
    return float((preds == labels).float().mean())
