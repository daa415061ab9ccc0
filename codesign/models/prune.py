"""Structured channel pruning of a trained :class:`~codesign.models.cnn.QuantCNN`.

:func:`prune_model` returns a *new, smaller static module* built for the pruned
architecture, with the surviving channels' weights copied over: per stage it keeps the
output channels whose float conv weights have the largest L1 norm (ties: lower index first),
in their original order, and drops the matching BatchNorm entries, the matching input
channels of the next conv, and the matching classifier columns. Quantizer scales are copied;
the per-tensor weight scales are recomputed from the surviving weights by Brevitas.

Example:
    >>> from dataclasses import replace
    >>> small_arch = replace(model.arch, stages=tuple(  # doctest: +SKIP
    ...     replace(s, prune_ratio=0.5) for s in model.arch.stages))
    >>> small = prune_model(model, small_arch)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from codesign.errors import ConfigError
from codesign.models.cnn import CnnArch, QuantCNN, build_cnn

log = logging.getLogger(__name__)

__all__ = ["channel_ranking", "prune_model"]

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def channel_ranking(weight: Tensor) -> Tensor:
    """Output channels of a conv weight ``(C_out, C_in, k, k)`` from most to least important.

    Importance is the L1 norm of the channel's float weights; ties go to the lower index.
    """
    norms = weight.detach().abs().flatten(1).sum(dim=1)  # (C_out,)
    # A stable sort on the negated norms keeps equal norms in index order.
    return torch.sort(-norms, stable=True).indices


def _check_compatible(model: QuantCNN, arch: CnnArch) -> None:
    old = model.arch
    if len(arch.stages) != len(old.stages):
        raise ConfigError(
            f"pruned architecture has {len(arch.stages)} stage(s), the model has "
            f"{len(old.stages)}; pruning removes channels, not stages"
        )
    for what in ("num_classes", "in_channels", "input_size"):
        if getattr(arch, what) != getattr(old, what):
            raise ConfigError(
                f"pruned architecture changes {what} ({getattr(old, what)} -> "
                f"{getattr(arch, what)}); pruning only removes channels"
            )
    names = old.layer_names()
    for name, new, prev in zip(names, arch.stages, old.stages, strict=False):
        if (new.kernel, new.stride) != (prev.kernel, prev.stride):
            raise ConfigError(
                f"layer '{name}': pruning cannot change kernel/stride "
                f"({prev.kernel}/{prev.stride} -> {new.kernel}/{new.stride})"
            )
        if new.channels > prev.channels:
            raise ConfigError(
                f"layer '{name}': pruned width {new.channels} exceeds the model's "
                f"{prev.channels} channels"
            )


def prune_model(model: QuantCNN, arch: CnnArch) -> QuantCNN:
    """Return a new model for ``arch`` holding ``model``'s most important channels.

    Args:
        model: The trained model (not modified).
        arch: The same stages with fewer (or equal) channels, e.g. with ``prune_ratio`` set.

    Returns:
        A :class:`QuantCNN` built with :func:`build_cnn` for ``arch`` and ``model.bits``, in
        the train/eval mode of ``model``.

    Raises:
        ConfigError: ``arch`` is not a channel-pruned version of ``model.arch``.
    """
    _check_compatible(model, arch)
    pruned = build_cnn(arch, model.bits)
    old_sd = model.state_dict()
    sliced: dict[str, Tensor] = {}
    names = model.arch.layer_names()[:-1]

    keep_in = torch.arange(model.arch.in_channels)
    for name, stage in zip(names, arch.stages, strict=True):
        prefix = f"features.{name}"
        weight = old_sd[f"{prefix}.conv.weight"]  # (C_out, C_in, k, k)
        keep = torch.sort(channel_ranking(weight)[: stage.channels]).values  # original order
        sliced[f"{prefix}.conv.weight"] = weight[keep][:, keep_in]
        for key in _BN_KEYS:
            sliced[f"{prefix}.bn.{key}"] = old_sd[f"{prefix}.bn.{key}"][keep]
        keep_in = keep

    # The classifier sees the last stage flattened in NCHW order: column = c * S * S + pixel.
    pixels = model.arch.feature_sizes()[-1] ** 2
    columns = (keep_in[:, None] * pixels + torch.arange(pixels)[None, :]).flatten()
    sliced["classifier.weight"] = old_sd["classifier.weight"][:, columns]

    new_sd = {}
    for key, target in pruned.state_dict().items():
        value = sliced.get(key, old_sd[key])  # everything else (scales, counters) as is
        if value.shape != target.shape:  # an internal error: a per-channel tensor was missed
            raise RuntimeError(
                f"prune_model: {key} has shape {tuple(value.shape)}, "
                f"the pruned model needs {tuple(target.shape)}"
            )
        new_sd[key] = value.clone()
    pruned.load_state_dict(new_sd)
    pruned.train(model.training)
    log.info("pruned %s: widths %s -> %s", names, list(model.arch.widths), list(arch.widths))
    return pruned
