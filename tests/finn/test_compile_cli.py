"""``codesign compile``: foreign QONNX models, checkpoints, and one-line user errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import yaml
from click.testing import CliRunner
from compile_cases import BIT_CONFIGS
from tiny_models import export_tiny

from codesign.cli.main import cli
from codesign.errors import ConfigError
from codesign.finn import STEP_NAMES

pytestmark = pytest.mark.slow  # every test here compiles


def test_foreign_rtl_model_compiles_to_a_run_folder(tmp_path):
    _, qonnx = export_tiny(tmp_path / "export", bits=(8, (4, 3), (3, 4), 4))
    run = tmp_path / "run"
    res = CliRunner().invoke(
        cli,
        ["compile", str(qonnx), "--board", "pynq-z2", "--fps", "20000", "--out", str(run)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert "FINN estimates on xc7z020clg400-1 at 100 MHz" in res.output
    assert "MVAU_rtl" in res.output and "FINN estimates RTL MVAU/VVAU LUTs as 0" in res.output
    assert (run / "qonnx" / "model.onnx").is_file() and (run / "parent.onnx").is_file()
    assert (run / "intermediate" / "13_prepare_ip.onnx").is_file()
    assert "step 13/13 prepare_ip" in (run / "logs" / "compile.log").read_text()
    assert set(json.loads((run / "logs" / "steps.json").read_text())) == set(STEP_NAMES)
    rtl = list((run / "finn_build").rglob("*.v")) + list((run / "finn_build").rglob("*.sv"))
    assert any("MVAU_rtl" in str(p) for p in rtl) and any("Thresholding" in str(p) for p in rtl)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["part"] == "xc7z020clg400-1" and cfg["clock_ns"] == 10.0 and cfg["fps"] == 20000
    est = json.loads((run / "estimates.json").read_text())
    assert est["fps"] >= 20000 and est["bottleneck"] in {x["name"] for x in est["layers"]}
    # the compiled model and the parent point into this run folder, not a temp sibling
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    compiled = ModelWrapper(str(run / "compiled.onnx"))
    for node in compiled.graph.node:
        gen = getCustomOp(node).get_nodeattr("code_gen_dir_ipgen")
        assert gen.startswith(str(run / "finn_build")) and (run / "finn_build").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_avgpool_model_fails_with_one_line(tmp_path):
    _, qonnx = export_tiny(tmp_path / "export", pool="avg")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "codesign.cli.main",
            "compile",
            str(qonnx),
            "--board",
            "pynq-z2",
            "--fps",
            "1000",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "stride-2 convolution" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_corrupt_onnx_and_bits_on_onnx_are_config_errors(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    runner = CliRunner()
    res = runner.invoke(cli, ["compile", str(bad), "--board", "pynq-z2", "--fps", "10"])
    assert isinstance(res.exception, ConfigError)
    assert "is not a readable ONNX model" in str(res.exception)
    res = runner.invoke(
        cli, ["compile", str(bad), "--board", "pynq-z2", "--fps", "10", "--bits", "4"]
    )
    assert isinstance(res.exception, ConfigError) and "--bits applies to checkpoints" in str(
        res.exception
    )
    res = runner.invoke(cli, ["compile", str(bad), "--board", "pynq-z2"])
    assert res.exit_code == 2 and "exactly one of --fps and --lut-budget" in res.output


def test_checkpoint_with_bits(tmp_path):
    from codesign.models.checkpoint import save_checkpoint
    from codesign.models.cnn import QUICKSTART_ARCH, build_cnn

    torch.manual_seed(0)
    bits = BIT_CONFIGS["mixed"]
    ckpt = save_checkpoint(
        tmp_path / "model.pt", build_cnn(QUICKSTART_ARCH, bits), QUICKSTART_ARCH, bits
    )
    runner = CliRunner()
    res = runner.invoke(
        cli, ["compile", str(ckpt), "--bits", "w7a4", "--board", "zcu104", "--fps", "1000"]
    )
    assert isinstance(res.exception, ConfigError)
    assert "bit-width 7 is not allowed" in str(res.exception)
    bits_file = tmp_path / "bits.yaml"
    bits_file.write_text(yaml.safe_dump(bits.to_dict()))
    run = tmp_path / "run"
    res = runner.invoke(
        cli,
        [
            "compile",
            str(ckpt),
            "--bits",
            str(bits_file),
            "--board",
            "zcu104",
            "--fps",
            "50000",
            "--no-ip",
            "--out",
            str(run),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((run / "config.yaml").read_text())["bits"] == str(bits_file)
    assert json.loads((run / "estimates.json").read_text())["part"] == "xczu7ev-ffvc1156-2-e"
    assert not list((run / "finn_build").rglob("*.sv"))  # --no-ip: no RTL generated
