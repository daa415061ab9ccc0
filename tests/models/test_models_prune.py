from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from model_helpers import make_model

from codesign.errors import ConfigError
from codesign.models.bits import BitConfig, LayerBits
from codesign.models.cnn import QUICKSTART_ARCH, CnnArch, StageSpec, build_cnn
from codesign.models.prune import channel_ranking, prune_model

BITS = BitConfig(8, (LayerBits(4, 4), LayerBits(3, 5), LayerBits(6, 3), LayerBits(4)))


def with_widths(arch: CnnArch, widths: tuple[int, ...]) -> CnnArch:
    return replace(
        arch,
        stages=tuple(replace(s, width=w) for s, w in zip(arch.stages, widths, strict=True)),
    )


def test_channel_ranking_l1_with_stable_ties() -> None:
    w = torch.zeros(4, 1, 3, 3)
    w[0] += 0.1  # L1 0.9
    w[1] -= 0.5  # L1 4.5
    w[2] += 0.1  # L1 0.9, ties with channel 0
    w[3, 0, 0, 0] = 2.0  # L1 2.0
    assert channel_ranking(w).tolist() == [1, 3, 0, 2]


def test_state_dict_round_trip(fashion_images: torch.Tensor) -> None:
    model = make_model(QUICKSTART_ARCH, BITS, fashion_images[:32], seed=5)
    clone = build_cnn(model.arch, model.bits)
    clone.load_state_dict(model.state_dict())
    clone.eval()
    with torch.no_grad():
        assert torch.equal(clone(fashion_images[:16]), model(fashion_images[:16]))


def test_prune_removes_dead_channels_exactly(fashion_images: torch.Tensor) -> None:
    """Channels that contribute nothing are the ones pruned, and the logits do not change."""
    model = make_model(QUICKSTART_ARCH, BITS, fashion_images[:64], seed=11)
    dead = {"conv0": [1, 6], "conv1": [0, 3, 4, 15], "conv2": [2, 9]}
    with torch.no_grad():
        blocks = list(model.features)
        for i, (block, channels) in enumerate(zip(blocks, dead.values(), strict=True)):
            block.conv.weight[channels] = 0.0  # lowest L1 norm -> pruned first
            block.bn.bias[channels] = -5.0  # BN output < 0, so ReLU gives exactly 0
            block.bn.weight[channels] = 0.0
            if i + 1 < len(blocks):  # their outgoing weights are unused; zero them too, so
                blocks[i + 1].conv.weight[:, channels] = 0.0  # max-abs scales stay the same
        pixels = 16
        cols = [c * pixels + p for c in dead["conv2"] for p in range(pixels)]
        model.classifier.weight[:, cols] = 0.0
    images = fashion_images[:64]
    with torch.no_grad():
        y_full = model(images)
    widths = tuple(
        s.width - len(d) for s, d in zip(QUICKSTART_ARCH.stages, dead.values(), strict=True)
    )
    small = prune_model(model, with_widths(QUICKSTART_ARCH, widths))
    assert small.arch.widths == (6, 12, 14)
    assert [b.conv.out_channels for b in small.features] == [6, 12, 14]
    assert small.classifier.in_features == 14 * 16
    assert not small.training
    with torch.no_grad():
        y_small = small(images)
    assert torch.equal(y_small, y_full)
    # The original model is untouched.
    assert [b.conv.out_channels for b in model.features] == [8, 16, 16]


def test_prune_with_ratio_keeps_strongest_channels(fashion_images: torch.Tensor) -> None:
    model = make_model(QUICKSTART_ARCH, BITS, fashion_images[:32], seed=2)
    arch = replace(
        QUICKSTART_ARCH, stages=tuple(replace(s, prune_ratio=0.5) for s in QUICKSTART_ARCH.stages)
    )
    small = prune_model(model, arch)
    assert small.arch.widths == (4, 8, 8)
    w_old = model.features[0].conv.weight.detach()
    keep = sorted(channel_ranking(w_old)[:4].tolist())
    assert torch.equal(small.features[0].conv.weight.detach(), w_old[keep])
    assert torch.equal(small.features[0].bn.running_mean, model.features[0].bn.running_mean[keep])
    with torch.no_grad():
        assert small(fashion_images[:4]).shape == (4, 10)


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (
            CnnArch(stages=(StageSpec(8, stride=2),)),
            "pruned architecture has 1 stage(s), the model has 3; pruning removes channels, "
            "not stages",
        ),
        (
            replace(QUICKSTART_ARCH, num_classes=5),
            "pruned architecture changes num_classes (10 -> 5); pruning only removes channels",
        ),
        (
            with_widths(QUICKSTART_ARCH, (8, 32, 16)),
            "layer 'conv1': pruned width 32 exceeds the model's 16 channels",
        ),
        (
            replace(QUICKSTART_ARCH, stages=(StageSpec(8, stride=1), *QUICKSTART_ARCH.stages[1:])),
            "layer 'conv0': pruning cannot change kernel/stride (3/2 -> 3/1)",
        ),
    ],
)
def test_prune_rejects_other_architectures(arch: CnnArch, message: str) -> None:
    model = build_cnn(QUICKSTART_ARCH, BITS)
    with pytest.raises(ConfigError) as err:
        prune_model(model, arch)
    assert str(err.value) == message
