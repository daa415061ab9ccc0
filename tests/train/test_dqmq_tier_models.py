"""Per-tier fine-tuned models: saved and loaded exactly, checked against the tiers, seeded
per tier so that reordering the tiers tunes each one the same; a model at other bits is
refused before anything is compiled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.errors import ConfigError
from codesign.finn.config import CompileConfig
from codesign.flow.dqmq_deploy import deploy_table, deploy_tier
from codesign.models.switchable import SwitchableCNN
from codesign.train.dqmq_finetune import finetune_tiers, load_tier_models, save_tier_models
from tests.train.test_dqmq import ARCH, SPACE, _data


def test_tier_models_round_trip_and_are_seeded_per_tier(tmp_path):
    torch.manual_seed(0)
    net = SwitchableCNN(ARCH, SPACE).eval()
    x, y, _ = _data(128)
    tiers = np.array([[0, 0], [2, 1]])
    routed = np.arange(128) % 2
    kw = {"epochs": 1, "lr": 1e-3, "batch_size": 16, "seed": 3, "min_images": 32}
    models = finetune_tiers(net, tiers, routed, x, y, **kw)
    # the same tiers listed in the other order, with their original ids: the same models
    swapped = finetune_tiers(net, tiers[::-1], 1 - routed, x, y, tier_ids=[1, 0], **kw)
    for a, b in zip(models, swapped[::-1], strict=True):
        assert torch.equal(a(x), b(x))

    path = save_tier_models(tmp_path / "tier_models.pt", models, tiers)
    loaded = load_tier_models(path, ARCH, tiers)
    for a, b in zip(models, loaded, strict=True):
        assert a.bits == b.bits and torch.equal(a(x), b(x))
    with pytest.raises(ConfigError, match="re-run the tiers step"):
        load_tier_models(path, ARCH, tiers[::-1])
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read"):
        load_tier_models(tmp_path / "bad.pt", ARCH, tiers)

    table = deploy_table(net, tiers, routed, x, y, [0.1, 0.2], models=models)
    want = [float((m(x[routed == t]).argmax(1) == y[routed == t]).float().mean())
            for t, m in enumerate(models)]  # fmt: skip
    assert [r["accuracy"] for r in table["tiers"]] == [round(w, 4) for w in want]
    with pytest.raises(ConfigError, match="the tier model is"):  # before any export
        deploy_tier(net, [2, 1], tmp_path / "t", CompileConfig(board="pynq-z2", fps=1000),
                    x[:2], model=models[0])  # fmt: skip


def test_the_tier_table_shows_a_tuned_tier_as_exact():
    from rich.console import Console  # noqa: PLC0415

    from codesign.cli.story import tier_table  # noqa: PLC0415

    sim = {"bit_exact_vs_finn": True, "bit_exact_vs_brevitas": True,
           "bit_exact_vs_tier_model": True, "frames": 3, "fps": 1000.0}  # fmt: skip
    row = {"tier": 0, "bits": "W2A2", "share": 1.0, "accuracy": 0.5, "cost": 0.1, "sim": sim}
    console = Console(record=True, width=200)
    console.print(tier_table({"stream_accuracy": 0.5, "stream_cost": 0.1, "tiers": [row]}))
    assert "yes (3 frames)" in console.export_text()
    sim["bit_exact_vs_brevitas"] = False
    console.print(tier_table({"stream_accuracy": 0.5, "stream_cost": 0.1, "tiers": [row]}))
    assert "NO (3 frames)" in console.export_text()
