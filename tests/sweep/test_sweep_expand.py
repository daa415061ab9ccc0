"""Sweep files and their expansion into points: no point runs here."""

from __future__ import annotations

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
