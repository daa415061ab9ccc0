"""An elastic once-for-all supernet over a :class:`~codesign.search.space.SearchSpace`.

Every layer slot owns one full-size conv weight ``(W_max, C_in_max, K_max, K_max)`` and a
BatchNorm of ``W_max`` channels; a subnet uses the first ``depth`` slots of each stage, the
first ``width`` output channels of a slot (and the matching input channels of the next), and
the centre ``k x k`` of its kernel. The classifier reads the first ``width * S * S`` columns
(NCHW flatten of the last active layer). The supernet is float (APQ trains its supernet in
fp32 too); quantization enters when a subnet is extracted.

Pruning keeps the most important channels: :meth:`Supernet.sort_channels` reorders every
slot's output channels by the L1 norm of their weights (``models.prune.channel_ranking``),
most important first, permuting the next layers' input channels, BatchNorm and classifier
columns to match, so "the first ``width`` channels" are the ``width`` channels with the largest
L1 norm (once-for-all's ``re_organize_middle_weights`` does the same with its own importance).
The trainer calls it after each epoch, and :func:`train_supernet` ends with it.

:func:`extract_subnet` returns a standalone :class:`~codesign.models.cnn.QuantCNN` built with
``build_cnn`` for the subnet's architecture and bits, its conv weights and (recalibrated)
BatchNorm statistics copied: it quantizes, finetunes, exports and compiles like any model.

Example::

    net = Supernet(space)
    train_supernet(net, images, labels, epochs=1, seed=0)
    model = extract_subnet(net, space.sample(rng), calib_images)  # a QuantCNN
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 (the usual torch spelling)
from torch import Tensor, nn

from codesign.models.cnn import QuantCNN, build_cnn
from codesign.models.prune import channel_ranking
from codesign.search.space import Arch, SearchSpace

log = logging.getLogger(__name__)

__all__ = [
    "Supernet",
    "SupernetStats",
    "extract_subnet",
    "recalibrate_bn",
    "subnet_accuracy",
    "train_supernet",
]


class Supernet(nn.Module):
    """Shared weights for every architecture of ``space`` (bits and impls do not matter here).

    Attributes:
        space: The search space.
        convs: One full-size conv weight per slot, ``(W_max, C_in_max, K_max, K_max)``.
        bns: One BatchNorm of ``W_max`` channels per slot.
        classifier: ``(num_classes, W_last_max * S * S)`` linear weight, no bias.
    """

    def __init__(self, space: SearchSpace) -> None:
        """Build the supernet with PyTorch's default init (seed the global RNG first)."""
        super().__init__()
        self.space = space
        self.convs = nn.ParameterList()
        self.bns = nn.ModuleList()
        in_max = space.in_channels
        for stage in space.stages:
            for i in range(stage.max_depth):
                k = stage.kernels[-1]
                cin = in_max if i == 0 else stage.max_width
                conv = nn.Conv2d(cin, stage.max_width, k, bias=False)  # default init only
                self.convs.append(nn.Parameter(conv.weight.detach().clone()))
                self.bns.append(nn.BatchNorm2d(stage.max_width))
            in_max = stage.max_width
        size = space.input_size
        for _ in space.stages:
            size = math.ceil(size / 2)
        self.final_size = size
        fc = nn.Linear(in_max * size * size, space.num_classes, bias=False)
        self.classifier = nn.Parameter(fc.weight.detach().clone())

    def _slot_weight(self, slot: int, cin: int, cout: int, kernel: int) -> Tensor:
        w = self.convs[slot]  # (W_max, C_in_max, K_max, K_max)
        off = (w.shape[-1] - kernel) // 2
        return w[:cout, :cin, off : off + kernel, off : off + kernel]  # (cout, cin, k, k)

    def forward(self, x: Tensor, arch: Arch) -> Tensor:
        """Logits of subnet ``arch`` for ``x``: ``(B, C, H, W)`` images in ``[0, 1]``."""
        cin = self.space.in_channels
        for slot in self.space.active_slots(arch):
            stride = 2 if self._is_first(slot) else 1
            cout, k = arch.widths[slot], arch.kernels[slot]
            w = self._slot_weight(slot, cin, cout, k)
            x = F.conv2d(x, w, stride=stride, padding=k // 2)  # (B, cout, H', W')
            bn = self.bns[slot]
            x = F.batch_norm(
                x,
                bn.running_mean[:cout],
                bn.running_var[:cout],
                bn.weight[:cout],
                bn.bias[:cout],
                self.training,
                bn.momentum,
                bn.eps,
            )
            x = F.relu(x)
            cin = cout
        x = x.flatten(1)  # (B, cin * S * S)
        return x @ self.classifier[:, : x.shape[1]].t()  # (B, num_classes)

    def _is_first(self, slot: int) -> bool:
        return slot == self.space.stage_start(self.space.slot_stage(slot))

    @torch.no_grad()
    def sort_channels(self) -> None:
        """Reorder every slot's output channels by L1 importance, most important first.

        Every subnet's network function is unchanged: the readers' input channels, the
        BatchNorm entries and the classifier columns move with the channels. A slot that may
        end its stage (its index + 1 is an allowed depth) feeds the next stage's first slot,
        whose input layout all such slots share, so they are sorted together by the *sum* of
        their channels' L1 norms; the other slots are sorted by their own L1 norms
        (``models.prune.channel_ranking``).
        """
        space = self.space
        for s, stage in enumerate(space.stages):
            start = space.stage_start(s)
            last_stage = s == len(space.stages) - 1
            may_end = [start + i for i in range(stage.max_depth) if i + 1 in stage.depths]
            groups = [[start + i] for i in range(stage.max_depth) if start + i not in may_end]
            groups.append(may_end)
            for group in groups:
                stacked = torch.cat([self.convs[k].flatten(1) for k in group], dim=1)
                order = channel_ranking(stacked)  # (W_max,) most important first
                for k in group:
                    self._permute_outputs(k, order)
                    if k + 1 < start + stage.max_depth:  # the next slot of the stage reads k
                        r = self.convs[k + 1]
                        r.copy_(r[:, order])
                if group is may_end:
                    if last_stage:
                        pixels = self.final_size**2
                        cols = (order[:, None] * pixels + torch.arange(pixels)[None, :]).flatten()
                        self.classifier.copy_(self.classifier[:, cols])
                    else:
                        r = self.convs[space.stage_start(s + 1)]
                        r.copy_(r[:, order])

    def _permute_outputs(self, slot: int, order: Tensor) -> None:
        w = self.convs[slot]
        w.copy_(w[order])
        bn = self.bns[slot]
        for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
            t.copy_(t[order])


@dataclass
class SupernetStats:
    """What :func:`train_supernet` did: steps, wall time and the mean loss per epoch."""

    steps: int
    seconds: float
    epoch_loss: list[float]


def train_supernet(
    net: Supernet,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int,
    seed: int,
    lr: float = 3e-3,
    batch_size: int = 128,
    n_random: int = 2,
    on_batch: Callable[[int, int], None] | None = None,
) -> SupernetStats:
    """Train ``net`` with the sandwich rule: largest, smallest and ``n_random`` random subnets.

    Each step sums the gradients of the four (by default) subnets on one batch, then steps
    Adam once (as in once-for-all's progressive shrinking and BigNAS's sandwich rule). The
    random subnets come from ``numpy.random.default_rng(seed)``; data order from a torch
    generator with the same seed. Channels are re-sorted by importance after every epoch.

    Args:
        net: The supernet (trained in place).
        images: ``(N, C, H, W)`` float images in ``[0, 1]``.
        labels: ``(N,)`` int64 labels.
        epochs: Passes over the images.
        seed: Seeds subnet sampling and data order.
        lr: Adam learning rate (cosine-decayed to zero).
        batch_size: Images per step.
        n_random: Random subnets per step besides the largest and smallest.
        on_batch: ``on_batch(done, total)`` after each step.
    """
    rng = np.random.default_rng(seed)
    order_gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    space = net.space
    n = images.shape[0]
    per_epoch = max(1, n // batch_size)
    total = epochs * per_epoch
    steps, losses, t0 = 0, [], time.perf_counter()
    net.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=order_gen)  # (N,)
        running = 0.0
        for b in range(per_epoch):
            idx = order[b * batch_size : (b + 1) * batch_size]  # (B,)
            x, y = images[idx], labels[idx]  # (B, C, H, W), (B,)
            for group in opt.param_groups:
                group["lr"] = 0.5 * lr * (1.0 + math.cos(math.pi * steps / total))
            opt.zero_grad(set_to_none=True)
            subnets = [space.largest(), space.smallest()]
            subnets += [space.sample(rng) for _ in range(n_random)]
            for arch in subnets:
                loss = F.cross_entropy(net(x, arch), y)
                loss.backward()
                running += loss.item() / len(subnets)
            opt.step()
            steps += 1
            if on_batch is not None:
                on_batch(steps, total)
        losses.append(running / per_epoch)
        net.sort_channels()
        log.info("supernet epoch %d: mean sandwich loss %.4f", len(losses), losses[-1])
    net.eval()
    return SupernetStats(steps=steps, seconds=time.perf_counter() - t0, epoch_loss=losses)


@torch.no_grad()
def recalibrate_bn(net: Supernet, arch: Arch, images: Tensor, batch_size: int = 250) -> None:
    """Reset and re-estimate the BatchNorm statistics of ``arch``'s channels on ``images``.

    Shared BatchNorm statistics belong to no single subnet; once-for-all re-estimates them
    per subnet on a few training batches before measuring it. Only ``arch``'s slices change.
    """
    was = net.training
    slots = net.space.active_slots(arch)
    saved = {s: net.bns[s].momentum for s in slots}
    net.train()
    for b, start in enumerate(range(0, images.shape[0], batch_size)):
        for s in slots:
            net.bns[s].momentum = 1.0 / (b + 1)  # cumulative mean over the batches so far
        net(images[start : start + batch_size], arch)
    for s in slots:
        net.bns[s].momentum = saved[s]
    net.train(was)


@torch.no_grad()
def subnet_accuracy(
    net: Supernet, arch: Arch, calib: Tensor, images: Tensor, labels: Tensor
) -> float:
    """fp32 accuracy of subnet ``arch`` after BatchNorm recalibration on ``calib``."""
    recalibrate_bn(net, arch, calib)
    net.eval()
    correct = 0
    for start in range(0, images.shape[0], 1000):
        logits = net(images[start : start + 1000], arch)  # (B, classes)
        correct += int((logits.argmax(1) == labels[start : start + 1000]).sum())
    return correct / images.shape[0]


@torch.no_grad()
def extract_subnet(net: Supernet, arch: Arch, calib: Tensor | None = None) -> QuantCNN:
    """A standalone family model for ``arch``: ``build_cnn`` with the supernet's weights.

    The first ``width`` channels of each slot are kept (after :meth:`Supernet.sort_channels`,
    the ``width`` most important by L1 norm), with the centre ``k x k`` of the kernel and the
    slot's BatchNorm slice. With ``calib`` the BatchNorm statistics are first re-estimated for
    this subnet (recommended). Quantizer scales keep their recipes' initial values; a short
    QAT finetune adapts them.

    Returns:
        A :class:`QuantCNN` in eval mode for ``space.to_cnn_arch(arch)`` and
        ``space.to_bit_config(arch)``.
    """
    space = net.space
    space.check(arch)
    if calib is not None:
        recalibrate_bn(net, arch, calib)
    model = build_cnn(space.to_cnn_arch(arch), space.to_bit_config(arch))
    cin = space.in_channels
    for block, slot in zip(model.features, space.active_slots(arch), strict=True):
        cout, k = arch.widths[slot], arch.kernels[slot]
        block.conv.weight.copy_(net._slot_weight(slot, cin, cout, k))
        src = net.bns[slot]
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(block.bn, name).copy_(getattr(src, name)[:cout])
        cin = cout
    columns = model.classifier.weight.shape[1]
    model.classifier.weight.copy_(net.classifier[:, :columns])
    model.eval()
    return model
