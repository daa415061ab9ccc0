"""`codesign run`: one-line errors with exit code 1, and a tiny end-to-end flow on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codesign.cli.main import cli, main
from codesign.errors import ConfigError, DatasetMissingError

TINY_FLOW = """
run:
  name: tiny
  out_dir: run
data:
  dataset: fashion_mnist
  n_train: 768
  n_test: 500
  batch_size: 32
model:
  arch:
    stages: [{width: 8, stride: 2}, {width: 8, stride: 2}]
  weight_bits: 4
  act_bits: 4
train:
  epochs: 2
  lr: 0.01
evaluate:
  corruptions: [gaussian_noise]
  severities: [4]
"""


def run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["codesign", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code)


def test_malformed_yaml_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    flow = tmp_path / "bad.yaml"
    flow.write_text("run:\n  name: [x\n")
    result = CliRunner().invoke(cli, ["run", str(flow)])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    assert str(result.exception).startswith(f"{flow}:3: malformed YAML")

    assert run_main(monkeypatch, "run", str(flow)) == 1
    err = capsys.readouterr().err
    assert "error:" in err and f"{flow}:3: malformed YAML" in err
    assert "Traceback" not in err


def test_unknown_key_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("train:\n  epochz: 3\n")
    assert run_main(monkeypatch, "run", str(flow)) == 1
    err = capsys.readouterr().err
    assert f"{flow}:2: unknown key 'train.epochz'; allowed keys in train: epochs" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_from_step_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("run:\n  name: x\n")
    result = CliRunner().invoke(cli, ["run", str(flow), "--from-step", "compile"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError)
    msg = "unknown step 'compile' for --from-step; this flow's steps are: train, evaluate, export"
    assert str(result.exception) == msg
    assert run_main(monkeypatch, "run", str(flow), "--from-step", "compile") == 1
    assert msg in capsys.readouterr().err


def test_bad_cross_field_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text("data:\n  n_train: 100\n  batch_size: 128\n")
    assert run_main(monkeypatch, "run", str(flow)) == 1
    assert "lower data.batch_size or raise data.n_train" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_flow_end_to_end(tmp_path: Path) -> None:
    from codesign.data import load_dataset

    try:
        load_dataset("fashion_mnist", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    flow = tmp_path / "tiny.yaml"
    flow.write_text(TINY_FLOW)
    result = CliRunner().invoke(cli, ["run", str(flow)])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "run"
    report = json.loads((run_dir / "report.json").read_text())
    assert report["n_test"] == 500
    assert report["clean_accuracy"] > 0.4, report  # chance is 0.1
    [noisy] = report["corrupted"]
    assert (noisy["corruption"], noisy["severity"]) == ("gaussian_noise", 4)
    assert 0.0 <= noisy["accuracy"] <= 1.0
    assert "clean" in result.output and "gaussian_noise" in result.output
    steps = json.loads((run_dir / "steps.json").read_text())["steps"]
    assert [(s["name"], s["status"]) for s in steps] == [
        ("train", "done"),
        ("evaluate", "done"),
        ("export", "done"),
    ]
    assert all(s["seconds"] > 0 for s in steps)
    assert (run_dir / "train" / "model.pt").is_file() and (run_dir / "flow.log").is_file()
    assert (run_dir / "qonnx" / "model.onnx").is_file()

    again = CliRunner().invoke(cli, ["run", str(flow)])
    assert again.exit_code == 0, again.output
    assert again.output.count("done (reused)") == 3
    assert json.loads((run_dir / "report.json").read_text()) == report

    out2 = tmp_path / "elsewhere"
    third = CliRunner().invoke(cli, ["run", str(flow), "--out", str(out2), "--to-step", "train"])
    assert third.exit_code == 0, third.output
    assert (out2 / "train" / "model.pt").is_file() and not (out2 / "report.json").exists()


def test_flow_terminal_has_no_torch_chatter(tmp_path: Path) -> None:
    """torch.onnx's "torchvision is not installed" warnings stay off the terminal (a fresh
    process: torch's own logging setup runs at its first import, inside the flow)."""
    import subprocess

    from codesign.data import load_dataset

    try:
        load_dataset("fashion_mnist", "test")
    except DatasetMissingError as err:
        pytest.skip(str(err))
    flow = tmp_path / "tiny.yaml"
    flow.write_text(TINY_FLOW)
    proc = subprocess.run(
        [sys.executable, "-m", "codesign.cli.main", "run", str(flow)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run" / "qonnx" / "model.onnx").is_file()  # the export step ran
    assert "torchvision" not in proc.stderr + proc.stdout
