"""Sweep files and their expansion into points: no point runs here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codesign.errors import ConfigError
from codesign.flow.config import FlowConfig
from codesign.sweep.expand import config_digest, expand
from codesign.sweep.spec import load_sweep_spec


def test_grid_points_are_resolved_configs_named_by_digest(tiny_sweep) -> None:
    path = tiny_sweep(
        "  bits:\n    uniform: [{weight: 2, act: 2}, {weight: 4, act: 4}]\n"
        "  overrides:\n    train.lr: [0.001, 0.002]\n  seeds: [0, 3]\n"
    )
    points = expand(load_sweep_spec(path))
    assert len(points) == 8
    assert len({p.digest for p in points}) == 8
    p = next(p for p in points if p.labels == {"bits": "W2A2", "train.lr": "0.001", "seed": "3"})
    cfg = FlowConfig.model_validate(p.config)
    assert (cfg.model.weight_bits, cfg.model.act_bits, cfg.train.lr, cfg.run.seed) == (
        2, 2, 0.001, 3,
    )  # fmt: skip
    assert cfg.run.out_dir == path.parent / "out" / "runs" / p.digest
    # The digest is the config's, not the folder's: the same point elsewhere has the same name.
    moved = dict(p.config, run={**p.config["run"], "out_dir": "/elsewhere", "name": "x"})
    assert config_digest(moved) == p.digest
    # An optional section a later codesign adds (absent: None) keeps the name.
    assert config_digest({**p.config, "new_section": None}) == p.digest
    # Points that train alike share the train digest (one checkpoint); the seed changes it.
    same = [q for q in points if q.labels["bits"] == "W2A2" and q.labels["train.lr"] == "0.001"]
    assert len({q.train_digest for q in same}) == 2


def test_identical_points_are_one_point(tiny_sweep) -> None:
    # Seed 0 is the base's seed: the axis values [0, 0] and the override to the base's own
    # value make the same config.
    path = tiny_sweep("  seeds: [0, 0]\n  overrides:\n    train.lr: [0.002, 0.002]\n")
    assert len(expand(load_sweep_spec(path))) == 1


def test_generator_gives_every_per_layer_choice(tiny_sweep) -> None:
    path = tiny_sweep("  bits:\n    generate: {layers: [conv1, fc], choices: [2, 4, 8]}\n")
    points = expand(load_sweep_spec(path))
    assert len(points) == 9
    bits = {p.labels["bits"] for p in points}
    assert "in8 W4A4 W2A2 W4A4 W8" in bits
    cfg = FlowConfig.model_validate(points[0].config)
    assert cfg.model.bits is not None and len(cfg.model.bits["layers"]) == 4


def test_random_sampling_takes_the_budget_reproducibly(tiny_sweep) -> None:
    axes = "  bits:\n    generate: {layers: [conv0, conv1, conv2], choices: [2, 4, 8]}\n"
    header = "  sampling: random\n  budget: 5\n  seed: 7\n"
    spec = load_sweep_spec(tiny_sweep(axes, header=header))
    first = [p.digest for p in expand(spec)]
    assert len(first) == 5
    assert first == [p.digest for p in expand(spec)]


def test_grid_over_budget_is_one_clear_error(tiny_sweep) -> None:
    path = tiny_sweep("  seeds: [0, 1, 2]\n", header="  budget: 2\n")
    with pytest.raises(ConfigError, match=r"the grid has 3 points but sweep.budget is 2"):
        expand(load_sweep_spec(path))


def test_unknown_key_names_file_and_line(tiny_sweep) -> None:
    path = tiny_sweep("  seedz: [0]\n")
    with pytest.raises(ConfigError, match=r"sweep.yaml:6: unknown key 'axes.seedz'"):
        load_sweep_spec(path)


def test_bad_point_names_its_axis_values(tiny_sweep) -> None:
    path = tiny_sweep("  overrides:\n    data.batch_size: [64, 500]\n")
    with pytest.raises(ConfigError, match=r"sweep point data.batch_size=500: .*batch_size 500"):
        expand(load_sweep_spec(path))


def test_unknown_generator_layer(tiny_sweep) -> None:
    path = tiny_sweep("  bits:\n    generate: {layers: [conv9], choices: [2]}\n")
    with pytest.raises(ConfigError, match=r"unknown layer 'conv9'; this model's layers: conv0"):
        expand(load_sweep_spec(path))


def test_example_sweep_expands() -> None:
    spec = load_sweep_spec(Path(__file__).parents[2] / "flows" / "sweep-quickstart.yaml")
    points = expand(spec)
    assert [p.labels["bits"] for p in points] == ["W2A2", "W4A4", "W8A8"]
    assert all(p.config["data"]["n_train"] == 4000 for p in points)


def _fake_dqmq_run(run: Path, checkpoint: bytes = b"weights") -> None:
    """A DQMQ run folder as the sweep reads it: tiers.json and the checkpoint's bytes."""
    (run / "dqmq").mkdir(parents=True)
    (run / "dqmq" / "checkpoint.pt").write_bytes(checkpoint)
    tiers = [
        {"input_bits": 8, "layers": [{"weight": w, "act": a} for w, a in layers]}
        for layers in ([(2, 2), (2, 2), (4, 4), (4, None)], [(4, 4), (4, 4), (4, 4), (4, None)])
    ]
    text = json.dumps({"tiers": tiers, "choices": [[0, 0, 1, 1], [1, 1, 1, 1]]})
    (run / "dqmq" / "tiers.json").write_text(text)


def test_dqmq_tiers_are_points_that_freeze_instead_of_training(tmp_path, tiny_sweep) -> None:
    base = "model:\n  arch: quickstart\n"
    _fake_dqmq_run(tmp_path / "dq")
    path = tiny_sweep(
        "  bits:\n    uniform: [{weight: 2, act: 2}]\n    tiers: [dq]\n",
        steps="train, evaluate",
        extra=base,
    )
    points = {p.labels["bits"]: p for p in expand(load_sweep_spec(path))}
    assert set(points) == {"W2A2", "tier0 in8 W2A2 W2A2 W4A4 W4", "tier1 in8 W4A4 W4A4 W4A4 W4"}
    tier = points["tier0 in8 W2A2 W2A2 W4A4 W4"]
    cfg = FlowConfig.model_validate(tier.config)
    assert cfg.run.steps == ["freeze_tier", "evaluate"]
    assert cfg.tier is not None and cfg.tier.choice == [0, 0, 1, 1] and cfg.tier.index == 0
    assert cfg.tier.checkpoint == tmp_path / "dq" / "dqmq" / "checkpoint.pt"
    assert cfg.model.build_bits(cfg.model.build_arch()).describe() == "in8 W2A2 W2A2 W4A4 W4"
    assert tier.train_digest is None  # nothing to share: the tier is not trained
    assert points["W2A2"].config["run"]["steps"] == ["train", "evaluate"]
    # A retrained DQMQ run (other checkpoint bytes) makes other points.
    shutil.rmtree(tmp_path / "dq")
    _fake_dqmq_run(tmp_path / "dq", b"other weights")
    again = {p.labels["bits"]: p.digest for p in expand(load_sweep_spec(path))}
    assert again["tier0 in8 W2A2 W2A2 W4A4 W4"] != tier.digest
    assert again["W2A2"] == points["W2A2"].digest
    # A run whose tiers step trained per-tier weights: the points take them (named, digested).
    doc = json.loads((tmp_path / "dq" / "dqmq" / "tiers.json").read_text())
    (tmp_path / "dq" / "dqmq" / "tiers.json").write_text(
        json.dumps({**doc, "tier_models": "tm.pt"})
    )
    with pytest.raises(ConfigError, match=r"tm.pt does not exist; re-run the tiers step"):
        expand(load_sweep_spec(path))
    (tmp_path / "dq" / "dqmq" / "tm.pt").write_bytes(b"tier weights")
    own = {p.labels["bits"]: p for p in expand(load_sweep_spec(path))}
    cfg = FlowConfig.model_validate(own["tier0 in8 W2A2 W2A2 W4A4 W4"].config)
    assert cfg.tier.models == tmp_path / "dq" / "dqmq" / "tm.pt" and cfg.tier.models_sha256
    assert own["tier0 in8 W2A2 W2A2 W4A4 W4"].digest != again["tier0 in8 W2A2 W2A2 W4A4 W4"]


def test_missing_dqmq_run_is_one_line(tiny_sweep) -> None:
    path = tiny_sweep("  bits:\n    tiers: [nowhere]\n")
    with pytest.raises(ConfigError, match=r"axes.bits.tiers: .*nowhere/dqmq/tiers.json does not "
                       r"exist; run the DQMQ flow"):  # fmt: skip
        expand(load_sweep_spec(path))


def test_demo_sweep_file_loads() -> None:
    spec = load_sweep_spec(Path(__file__).parents[2] / "flows" / "sweep-demo.yaml")
    assert spec.axes.bits is not None and len(spec.axes.bits.uniform) == 3
    assert spec.axes.bits.tiers == [Path(__file__).parents[2] / "runs" / "quickstart"]
