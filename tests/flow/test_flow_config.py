"""Flow config: YAML errors with file and line, unknown keys, cross-field rules, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesign.errors import ConfigError
from codesign.flow.config import (
    DatasetName,
    FlowConfig,
    load_flow_config,
    select_steps,
    write_resolved_config,
)
from codesign.flow.steps import STEPS

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_hardware_flow_loads() -> None:
    cfg = load_flow_config(REPO / "flows" / "hardware.yaml")
    assert cfg.data.dataset is DatasetName.FASHION_MNIST
    assert cfg.run.steps[:3] == ["train", "evaluate", "export"]
    assert cfg.train.epochs == 1
    assert cfg.evaluate.corruptions, "the quickstart reports corrupted accuracy"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "run:\n  name: x\n  seed: [1, 2\ndata: {}\n")
    with pytest.raises(ConfigError) as err:
        load_flow_config(path)
    assert str(err.value).startswith(f"{path}:4: malformed YAML")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="flow file not found"):
        load_flow_config(tmp_path / "nope.yaml")


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a mapping of sections"):
        load_flow_config(write(tmp_path, "- train\n- evaluate\n"))


def test_unknown_key_names_key_line_and_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  n_train: 1000\ntrain:\n  epochs: 1\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_flow_config(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:5: unknown key 'train.lrr'")
    assert "allowed keys in train: epochs, lr, optimizer" in msg


def test_unknown_top_level_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'compil'; allowed keys in the top level"):
        load_flow_config(write(tmp_path, "compil:\n  fps: 10\n"))


def test_cross_field_batch_size_says_how_to_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "data:\n  n_train: 10\n  batch_size: 64\n")
    with pytest.raises(ConfigError) as err:
        load_flow_config(path)
    assert str(err.value) == (
        f"{path}:3: batch_size 64 exceeds n_train 10; lower data.batch_size or raise data.n_train"
    )


def test_dqmq_cost_model_must_price_the_deployed_mvus(tmp_path: Path) -> None:
    text = "dqmq:\n  cost_model: lut\ncompile:\n  board: pynq-z2\n"
    with pytest.raises(ConfigError, match="prices lut MVUs, but compile.impl is 'dsp'"):
        load_flow_config(write(tmp_path, text))
    for impl in ("lut", "auto"):  # auto mixes both by bit-width: the user's call
        cfg = load_flow_config(write(tmp_path, f"{text}  impl: {impl}\n"))
        assert str(cfg.compile.impl) == impl
    analytic = "dqmq:\n  cost_model: analytic\ncompile:\n  impl: lut\n"
    with pytest.raises(ConfigError, match="set compile.impl: dsp, or dqmq.cost_model: lut"):
        load_flow_config(write(tmp_path, analytic))


def test_bits_uniform_and_per_layer_are_exclusive(tmp_path: Path) -> None:
    text = "model:\n  weight_bits: 4\n  bits: {input_bits: 8, layers: [{weight: 4}]}\n"
    with pytest.raises(ConfigError, match="both set; keep one of them"):
        load_flow_config(write(tmp_path, text))


def test_bits_must_match_arch(tmp_path: Path) -> None:
    text = "model:\n  bits: {input_bits: 8, layers: [{weight: 4, act: 4}, {weight: 4}]}\n"
    with pytest.raises(ConfigError, match="bit config has 2 layer.* architecture has 4"):
        load_flow_config(write(tmp_path, text))


def test_disallowed_bit_width(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: model.weight_bits/act_bits: .*bit-width 7"):
        load_flow_config(write(tmp_path, "model:\n  weight_bits: 7\n"))


def test_unknown_enum_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: data.dataset: Input should be 'fashion_mnist'"):
        load_flow_config(write(tmp_path, "data:\n  dataset: cifar10\n"))


def test_unknown_corruption_lists_allowed(tmp_path: Path) -> None:
    text = "evaluate:\n  corruptions: [gaussian_noise, fog]\n"
    with pytest.raises(ConfigError, match=r"unknown corruption 'fog'.*allowed: gaussian_noise"):
        load_flow_config(write(tmp_path, text))


def test_severity_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"severities: 6 is out of range; use 1..5"):
        load_flow_config(write(tmp_path, "evaluate:\n  severities: [1, 6]\n"))


def test_unknown_step_in_run_steps(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":2: unknown step 'deploy' in run.steps; known"):
        load_flow_config(write(tmp_path, "run:\n  steps: [train, deploy]\n"), STEPS)


def test_from_step_after_to_step(tmp_path: Path) -> None:
    text = "run:\n  from_step: evaluate\n  to_step: train\n"
    with pytest.raises(ConfigError, match="from_step 'evaluate' comes after run.to_step 'train'"):
        load_flow_config(write(tmp_path, text))


def test_unknown_from_step_override() -> None:
    with pytest.raises(ConfigError) as err:
        FlowConfig().with_overrides(from_step="trian")
    assert str(err.value) == (
        "unknown step 'trian' for --from-step; this flow's steps are: train, evaluate, export"
    )


def test_select_steps_slices() -> None:
    steps = ["a", "b", "c"]
    assert select_steps(steps, None, None) == steps
    assert select_steps(steps, "b", None) == ["b", "c"]
    assert select_steps(steps, None, "b") == ["a", "b"]
    assert select_steps(steps, "b", "b") == ["b"]


def test_relative_out_dir_resolves_against_the_file(tmp_path: Path) -> None:
    sub = tmp_path / "flows"
    sub.mkdir()
    cfg = load_flow_config(write(sub, "run:\n  out_dir: ../runs/x\n"))
    assert cfg.run.resolved_out_dir() == (tmp_path / "runs" / "x").resolve()


def test_default_out_dir_is_runs_name() -> None:
    assert FlowConfig().run.resolved_out_dir() == Path("runs") / "quickstart"


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    text = (
        "run:\n  name: rt\n  out_dir: out\n"
        "model:\n  arch: {stages: [{width: 4, stride: 2}]}\n"
        "  bits: {input_bits: 8, layers: [{weight: 4, act: 4}, {weight: 3}]}\n"
        "evaluate:\n  corruptions: [contrast]\n  severities: [2, 4]\n"
    )
    cfg = load_flow_config(write(tmp_path, text))
    out = write_resolved_config(cfg, tmp_path / "run" / "config.yaml")
    data = yaml.safe_load(out.read_text())
    assert data["run"]["out_dir"] == str((tmp_path / "out").resolve())
    assert "weight_bits" not in data["model"]
    again = load_flow_config(out)
    assert again.to_yaml_dict() == cfg.to_yaml_dict()
    assert again.model.build_bits(again.model.build_arch()).layers[-1].weight == 3
