"""The generated build config is a valid finn-plus DataflowBuildConfig for every board."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codesign.boards import ShellFlow, list_boards, load_board
from codesign.build.config import BUILD_STEPS, XSIM_STEPS, build_config_dict, validate_build_config
from codesign.errors import ConfigError

BOARDS = list_boards()


def _registered_finn_steps() -> set[str]:
    """Names of the steps finn-plus registers, read from its source (importing it needs Vivado)."""
    import finn.builder

    src = Path(finn.builder.__file__).with_name("build_dataflow_steps.py").read_text()
    names = set()
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Call) and getattr(d.func, "id", "") == "register_build_dataflow_step"
            for d in node.decorator_list
        ):
            names.add(node.name)
    return names


def test_config_module_imports_without_vivado() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "XILINX_VIVADO"}
    proc = subprocess.run(
        [sys.executable, "-c", "import finn.builder.build_dataflow_config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_step_is_a_registered_finn_step() -> None:
    registered = _registered_finn_steps()
    assert "step_synthesize_bitfile" in registered  # the reading itself works
    assert set(BUILD_STEPS) <= registered, set(BUILD_STEPS) - registered
    assert set(XSIM_STEPS) <= registered


@pytest.mark.parametrize("name", BOARDS)
def test_config_accepted_by_finn_and_round_trips(name: str) -> None:
    from finn.builder.build_dataflow_config import (
        DataflowBuildConfig,
        DataflowOutputType,
        ShellFlowType,
    )
    from finn.util.basic import alveo_default_platform, part_map

    board = load_board(name)
    data = build_config_dict(board, board.clock_ns, part=board.part)
    cfg = validate_build_config(data)
    assert isinstance(cfg, DataflowBuildConfig)
    # Round trips through finn-plus's own (de)serializers.
    assert DataflowBuildConfig.from_dict(cfg.to_dict()) == cfg
    assert DataflowBuildConfig.from_json(cfg.to_json()) == cfg
    assert DataflowBuildConfig.from_yaml(cfg.to_yaml()) == cfg
    # What the builder will resolve from it.
    assert cfg._resolve_fpga_part() == board.part == part_map[board.finn_board]
    assert cfg.synth_clk_period_ns == board.clock_ns
    assert cfg.auto_fifo_depths is False
    assert str(cfg.folding_config_file) == "folding_config.json"
    assert str(cfg.fifo_config_file) == "fifo_config.json"
    assert cfg.steps == list(BUILD_STEPS)
    assert DataflowOutputType.BITFILE in cfg.generate_outputs
    assert DataflowOutputType.DEPLOYMENT_PACKAGE in cfg.generate_outputs
    if board.shell == ShellFlow.ZYNQ:
        assert cfg.shell_flow_type == ShellFlowType.VIVADO_ZYNQ
        assert cfg._resolve_driver_platform() == "zynq-iodma"
        assert cfg.vitis_platform is None
    else:
        assert cfg.shell_flow_type == ShellFlowType.VITIS_ALVEO
        assert cfg._resolve_driver_platform() == "alveo"
        assert cfg._resolve_vitis_platform() == alveo_default_platform[board.finn_board]


def test_part_mismatch_is_refused() -> None:
    board = load_board("pynq-z2")
    with pytest.raises(ConfigError, match="compiled for xczu3eg-sfvc784-2-e but board Pynq-Z2"):
        build_config_dict(board, 10.0, part="xczu3eg-sfvc784-2-e")


def test_vitis_platform_only_for_alveo() -> None:
    with pytest.raises(ConfigError, match="Alveo boards only"):
        build_config_dict(load_board("pynq-z2"), 10.0, vitis_platform="xilinx_u250_x")
    data = build_config_dict(load_board("u250"), 4.0, vitis_platform="my_platform")
    assert validate_build_config(data)._resolve_vitis_platform() == "my_platform"


def test_unknown_key_is_rejected_by_finn() -> None:
    data = build_config_dict(load_board("pynq-z2"), 10.0)
    data["no_such_option"] = 1
    with pytest.raises(ConfigError, match="finn-plus rejects the build config"):
        validate_build_config(data)
