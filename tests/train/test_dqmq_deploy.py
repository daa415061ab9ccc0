"""Train -> tiers (K=2) -> per-tier fine-tuning -> compile -> simulate (bit-exact) -> synth,
on a tiny network: what is deployed is each tier's own fine-tuned model (what ``codesign
evaluate`` reports as ``dqmq/tiers_ft``); the shared-weights path runs in the demo chain."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from codesign.finn.config import CompileConfig
from codesign.flow.dqmq_deploy import deploy_table, deploy_tier
from codesign.models.arch import CnnArch, StageSpec
from codesign.models.switchable import SwitchSpace
from codesign.policy.costs import bitops_surrogate
from codesign.policy.policy import mean_log_probs
from codesign.policy.tiers import Router, fit_tiers, ranked_choices
from codesign.quality import corrupt, quality_features
from codesign.train.dqmq import DqmqConfig
from codesign.train.dqmq_finetune import finetune_tiers
from codesign.train.dqmq_run import MixedData, load_dqmq, train_method

pytestmark = [pytest.mark.slow, pytest.mark.verilator, pytest.mark.yosys]


def _tiny_data(n: int = 192) -> MixedData:
    """8x8 images of 4 classes (a bright quadrant), half of them heavily noised."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (n,), generator=gen)
    x = torch.rand(n, 1, 8, 8, generator=gen) * 0.2
    for i, c in enumerate(labels.tolist()):
        r, q = divmod(c, 2)
        x[i, 0, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 0.7
    x[n // 2 :] = corrupt(x[n // 2 :], "gaussian_noise", 5, gen)
    cond = torch.zeros(n, dtype=torch.long)
    cond[n // 2 :] = 1
    return MixedData(x.clamp(0, 1), labels, quality_features(x.clamp(0, 1)), cond, cond * 5)


def test_train_tiers_compile_simulate_synth(tmp_path):
    arch = CnnArch(stages=(StageSpec(4, stride=2),), num_classes=4, input_size=8)
    space = SwitchSpace.uniform(arch, [(2, 2), (4, 4)], input_bits=4)
    data = _tiny_data()
    cfg = DqmqConfig(epochs=3, warmup_epochs=1, batch_size=32, lr=1e-2, policy_lr=0.2,
                     cost_weight=2.0, cost_target=0.12, seed=0)  # fmt: skip
    train_method(
        tmp_path / "ckpt.pt", "dqmq", arch, space, bitops_surrogate(arch, space), data, cfg
    )
    net, policy, ckpt = load_dqmq(tmp_path / "ckpt.pt")
    assert ckpt["complete"] and ckpt["cost_version"] == "bitops-interim-1"

    decisions = policy.argmax(data.features).numpy()  # (N, L)
    fill = ranked_choices(mean_log_probs(policy, data.features))
    tiers = fit_tiers(decisions, space.sizes, k=2, seed=0, fill=fill)
    assert tiers.shape == (2, 2), decisions
    params = policy.numpy_params()
    router = Router(tuple(w for w, _ in params), tuple(b for _, b in params), tiers)
    routed = router.route(data.features.double().numpy())
    assert set(np.unique(routed)) <= {0, 1}

    models = finetune_tiers(net, tiers, routed, data.images, data.labels, epochs=1, lr=1e-3,
                            batch_size=32, seed=0)  # fmt: skip
    for model, choice in zip(models, tiers, strict=True):  # tuned: not the shared weights
        shared = net.freeze(choice.tolist()).state_dict()
        assert any(not torch.equal(v, shared[k]) for k, v in model.state_dict().items())
    cfg_hw = CompileConfig(board="pynq-z2", fps=100_000)
    rows = []
    for t, choice in enumerate(tiers):
        frames = (
            data.images[np.nonzero(routed == t)[0][:3]] if np.any(routed == t) else data.images[:3]
        )
        row = deploy_tier(net, choice.tolist(), tmp_path / f"tier{t}", cfg_hw, frames,
                          synth=(t == 0), model=models[t])  # fmt: skip
        assert row["weights"] == "tier"
        assert row["sim"]["bit_exact_vs_finn"] and row["sim"]["bit_exact_vs_tier_model"]
        assert row["sim"]["bit_exact_vs_brevitas"]
        rows.append(row)
    assert rows[0]["bits"] != rows[1]["bits"]
    assert rows[0]["synth"]["lut"] > 0
    costs = [bitops_surrogate(arch, space).discrete(t.tolist()) for t in tiers]
    table = deploy_table(net, tiers, routed, data.images, data.labels, costs, models=models)
    assert sum(r["share"] for r in table["tiers"]) == pytest.approx(1.0)
    assert 0.0 <= table["stream_accuracy"] <= 1.0
