"""Offline datasets: Fashion-MNIST, MNIST and scikit-learn's digits, checksum-verified.

See :mod:`codesign.data.datasets`.
"""

from codesign.data.datasets import (
    Dataset,
    DatasetName,
    Split,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    verify_dataset,
)
from codesign.data.splits import load_split

__all__ = [
    "Dataset",
    "DatasetName",
    "Split",
    "load_dataset",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_split",
    "verify_dataset",
]
