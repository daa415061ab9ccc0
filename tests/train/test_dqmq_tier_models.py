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


def test_freeze_tier_takes_the_tiers_own_weights_when_the_run_has_them(tmp_path):
    from codesign.flow.config import FlowConfig  # noqa: PLC0415
    from codesign.flow.core import FlowState  # noqa: PLC0415
    from codesign.flow.tier_points import file_sha256, step_freeze_tier  # noqa: PLC0415
    from codesign.models.checkpoint import load_checkpoint  # noqa: PLC0415
    from codesign.policy.policy import QualityPolicy  # noqa: PLC0415
    from codesign.train.dqmq_run import save_dqmq_checkpoint  # noqa: PLC0415

    torch.manual_seed(0)
    net = SwitchableCNN(ARCH, SPACE).eval()
    policy = QualityPolicy(6, SPACE.sizes)
    ckpt = save_dqmq_checkpoint(tmp_path / "checkpoint.pt", {
        "format": "dqmq-1", "arch": ARCH.to_dict(), "space": SPACE.to_dict(),
        "policy": {"n_features": 6, "sizes": list(SPACE.sizes), "use_quality": True},
        "state": {"net": net.state_dict(), "policy": policy.state_dict()},
    })  # fmt: skip
    x, y, _ = _data(64)
    tiers = np.array([[0, 0], [2, 1]])
    models = finetune_tiers(net, tiers, np.arange(64) % 2, x, y, epochs=1, lr=1e-2,
                            batch_size=16, seed=3, min_images=16)  # fmt: skip
    tm = save_tier_models(tmp_path / "tier_models.pt", models, tiers)

    def freeze(run: str, **tier: object) -> torch.nn.Module:
        raw = {"run": {"name": run, "steps": ["freeze_tier"]},
               "model": {"arch": ARCH.to_dict(), "bits": SPACE.config([2, 1]).to_dict()},
               "tier": {"checkpoint": str(ckpt), "choice": [2, 1], "index": 1, **tier}}  # fmt: skip
        state = step_freeze_tier(FlowState(run_dir=tmp_path / run), FlowConfig.model_validate(raw))
        assert state.results["freeze_tier"]["weights"] == ("per tier" if tier else "shared")
        return load_checkpoint(state.path("checkpoint"))

    shared, own = (
        freeze("shared")(x),
        freeze("own", models=str(tm), models_sha256=file_sha256(tm))(x),
    )
    assert torch.equal(shared, net(x, torch.tensor([2, 1]).expand(64, -1)))
    assert torch.equal(own, models[1](x)) and not torch.equal(own, shared)
    with pytest.raises(ConfigError, match="SHA-256 differs"):
        freeze("stale", models=str(tm), models_sha256="0" * 64)
    save_tier_models(tm, models[:1], tiers[:1])  # a re-run tiers step without this tier
    with pytest.raises(ConfigError, match=r"not \[2, 1\]; re-run the tiers step"):
        freeze("gone", models=str(tm))


def test_two_tiers_with_one_choice_keep_their_own_weights(tmp_path):
    from codesign.train.dqmq_finetune import load_tier_model  # noqa: PLC0415

    torch.manual_seed(0)
    net = SwitchableCNN(ARCH, SPACE).eval()
    x, y, _ = _data(64)
    tiers = np.array([[0, 0], [2, 1], [2, 1]])  # quality regions 1 and 2 deploy one design
    models = finetune_tiers(net, tiers, np.arange(64) % 3, x, y, epochs=1, lr=1e-2,
                            batch_size=16, seed=3, min_images=16)  # fmt: skip
    tm = save_tier_models(tmp_path / "tier_models.pt", models, tiers)
    one, two = (load_tier_model(tm, ARCH, [2, 1], index=i)(x) for i in (1, 2))
    assert torch.equal(one, models[1](x)) and torch.equal(two, models[2](x))
    assert not torch.equal(one, two)
    assert torch.equal(load_tier_model(tm, ARCH, [2, 1], index=0)(x), one)  # not its slot
