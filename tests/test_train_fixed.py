"""The fixed-precision training loop and checkpoints, on tiny synthetic data and a tiny CNN."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codesign.errors import ConfigError
from codesign.models.bits import BitConfig
from codesign.models.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from codesign.models.cnn import CnnArch, StageSpec, build_cnn
from codesign.train.fixed import evaluate_accuracy, predict, torch_threads, train_fixed

TINY = CnnArch(
    stages=(StageSpec(width=4, kernel=3, stride=2), StageSpec(width=8, kernel=3, stride=2)),
    num_classes=4,
    input_size=12,
)
BITS = BitConfig.uniform(TINY.n_layers, 4, 4, input_bits=8)


@pytest.fixture(autouse=True)
def one_thread() -> object:
    with torch_threads(1):  # as the flow steps do; many times faster on shared cores
        yield


def test_torch_threads_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(None):
        assert torch.get_num_threads() == before
    assert torch.get_num_threads() == before


def blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four classes: a bright 6x6 square in one quadrant of a noisy 12x12 image."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (n,), generator=g)  # (N,)
    images = 0.3 * torch.rand(n, 1, 12, 12, generator=g)  # (N, 1, 12, 12)
    for i, c in enumerate(labels.tolist()):
        r, q = divmod(c, 2)
        images[i, 0, 6 * r : 6 * r + 6, 6 * q : 6 * q + 6] += 0.6
    return images.clamp(0, 1), labels


def fresh_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_cnn(TINY, BITS)


def test_tiny_run_learns_above_chance() -> None:
    x, y = blobs(400, seed=1)
    xt, yt = blobs(200, seed=2)
    model = fresh_model()
    before = evaluate_accuracy(model, xt, yt)
    seen: list[tuple[int, int]] = []
    stats = train_fixed(
        model,
        x,
        y,
        epochs=2,
        lr=1e-2,
        batch_size=32,
        seed=0,
        on_batch=lambda done, total, loss: seen.append((done, total)),
    )
    after = evaluate_accuracy(model, xt, yt)
    assert after > 0.6, f"accuracy {after:.3f} (chance 0.25, before training {before:.3f})"
    assert stats.steps == 2 * 13 == len(seen)
    assert seen[-1] == (26, 26)
    assert len(stats.epoch_loss) == 2 and stats.epoch_loss[1] < stats.epoch_loss[0]


def test_same_seed_same_weights_and_order_matters() -> None:
    x, y = blobs(128, seed=3)
    runs = []
    for seed in (5, 5, 6):
        model = fresh_model(0)
        train_fixed(model, x, y, epochs=1, lr=5e-3, batch_size=16, seed=seed)
        runs.append(model.state_dict())
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not all(torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_other_optimizers_run(optimizer: str) -> None:
    x, y = blobs(64, seed=4)
    stats = train_fixed(
        fresh_model(),
        x,
        y,
        epochs=1,
        lr=1e-2,
        batch_size=16,
        seed=0,
        optimizer=optimizer,
        lr_schedule="constant",
    )
    assert stats.steps == 4


def test_bad_inputs_are_config_errors() -> None:
    x, y = blobs(16, seed=0)
    with pytest.raises(ConfigError, match=r"training images must be \(N, 1, H, W\)"):
        train_fixed(fresh_model(), x[:, 0], y, epochs=1, lr=1e-3, batch_size=4, seed=0)
    with pytest.raises(ConfigError, match="batch_size 32 must be between 1 and the 16 images"):
        train_fixed(fresh_model(), x, y, epochs=1, lr=1e-3, batch_size=32, seed=0)
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'"):
        train_fixed(
            fresh_model(), x, y, epochs=1, lr=1e-3, batch_size=4, seed=0, optimizer="rmsprop"
        )


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    x, y = blobs(64, seed=7)
    model = fresh_model()
    train_fixed(model, x, y, epochs=1, lr=1e-2, batch_size=16, seed=0)
    path = save_checkpoint(
        tmp_path / "ck" / "model.pt",
        model,
        TINY,
        BITS,
        config={"run": {"name": "t"}},
        metrics={"steps": 4},
    )
    ck = read_checkpoint(path)
    assert ck.arch == TINY and ck.bits == BITS
    assert ck.config == {"run": {"name": "t"}} and ck.metrics == {"steps": 4}
    loaded = load_checkpoint(path)
    assert not loaded.training
    assert torch.equal(predict(loaded, x), predict(model, x))
    assert torch.equal(loaded.eval()(x), model.eval()(x))


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="expected a codesign checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ConfigError, match="a torch dict without format, arch, bits"):
        load_checkpoint(other)
