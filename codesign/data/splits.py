"""Seeded random subsets of a dataset split, as tensors (what training and evaluation use)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from codesign.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor


def load_split(dataset: str, split: str, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """A seeded random subset of ``n`` images of one dataset split.

    Args:
        dataset: Dataset name (a :class:`~codesign.data.datasets.DatasetName` value).
        split: ``"train"`` or ``"test"``.
        n: Subset size; the whole split when ``n`` equals its size.
        seed: Seeds the subset choice.

    Returns:
        ``(images, labels)``: ``(n, 1, H, W)`` float32 in ``[0, 1]`` and ``(n,)`` int64.

    Raises:
        ConfigError: ``n`` exceeds the split.
        DatasetMissingError: The dataset is not installed.
    """
    import torch  # noqa: PLC0415

    from codesign.data.datasets import load_dataset  # noqa: PLC0415

    ds = load_dataset(dataset, split)
    total = len(ds)
    if n > total:
        option = "data.n_train" if split == "train" else "data.n_test"
        raise ConfigError(
            f"{option} is {n} but {dataset} has {total} {split} images; set {option} <= {total}"
        )
    if n < total:
        # Pick the subset on the uint8 arrays, so only n images are converted to float.
        gen = torch.Generator().manual_seed(seed + (0 if split == "train" else 1))
        idx = torch.randperm(total, generator=gen)[:n].sort().values.numpy()  # (n,)
        ds = dataclasses.replace(ds, images=ds.images[idx], labels=ds.labels[idx])
    return ds.tensors()  # (n, 1, H, W) float32 in [0, 1], (n,) int64
