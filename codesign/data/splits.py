"""Seeded random subsets of a dataset split, as tensors (what training and evaluation use)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from codesign.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

    from codesign.data.datasets import Dataset


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
    from codesign.data.datasets import load_dataset  # noqa: PLC0415

    ds = load_dataset(dataset, split)
    total = len(ds)
    if n > total:
        option = "data.n_train" if split == "train" else "data.n_test"
        raise ConfigError(
            f"{option} is {n} but {dataset} has {total} {split} images; set {option} <= {total}"
        )
    if n < total:
        ds = _permuted_slice(ds, seed + (0 if split == "train" else 1), 0, n)
    return ds.tensors()  # (n, 1, H, W) float32 in [0, 1], (n,) int64


def _permuted_slice(ds: Dataset, seed: int, start: int, stop: int) -> Dataset:
    """Images ``start:stop`` of ``ds`` under a seeded permutation, in their original order.

    Picked on the uint8 arrays, so only the chosen images are converted to float.
    """
    import torch  # noqa: PLC0415

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=gen)[start:stop].sort().values.numpy()
    return dataclasses.replace(ds, images=ds.images[idx], labels=ds.labels[idx])


def load_holdout(dataset: str, n_train: int, n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` training images that :func:`load_split` ``("train", n_train, seed)`` leaves out.

    The next ``n`` of the same seeded permutation: a validation set disjoint from the
    training subset.

    Raises:
        ConfigError: ``n_train + n`` exceeds the training split.
        DatasetMissingError: The dataset is not installed.
    """
    from codesign.data.datasets import load_dataset  # noqa: PLC0415

    ds = load_dataset(dataset, "train")
    total = len(ds)
    if n_train + n > total:
        raise ConfigError(
            f"a hold-out of {n} images needs data.n_train <= {total - n} ({dataset} has {total} "
            f"training images)"
        )
    return _permuted_slice(ds, seed, n_train, n_train + n).tensors()
